"""Mailbox/set (RFC 8621 §2.5).

Creates run in rounds so that a ``parentId`` of ``"#creationId"`` may name a mailbox created
earlier in the same call (RFC 8620 §5.3: creation ids are usable "in any Id property"); each
round is one mail-service transaction.  Updates are one transaction, destroys another, children
before parents so that a client may destroy a subtree in one call.  The service checks the
token's rights (a refusal is the mailbox's ``forbidden`` / ``notFound`` SetError), and
``myRights`` is what :func:`protocols.mail.jmap_rights` computes from them.  A name may not
contain "/", the hierarchy delimiter IMAP shows (``protocols.imap.names``), so both protocols
see the same tree.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from protocols.mail import UNCHANGED, ErrorKind, MailError, jmap_rights
from store.ids import object_id, parse_object_id
from store.models import Mailbox

from ..context import JmapContext
from ..core import (
    InvalidProperties,
    MethodCall,
    SetError,
    SetResponse,
    check_if_in_state,
    drop_unchanged,
    get_bool,
    parse_set,
    patch_paths,
    set_error_for,
    split_will_destroy,
)
from .account_index import account_index
from .mailbox_read import PROPERTIES as MAILBOX_PROPERTIES
from .mailbox_read import Counts, mailbox_counts, mailbox_json
from .write import Step, context_of, type_state

# IANA "JMAP Mailbox Roles" registry (RFC 8621 §10.5, RFC 9425/8887 era additions).
ROLES: Final = frozenset(
    {
        "all",
        "archive",
        "drafts",
        "flagged",
        "important",
        "inbox",
        "junk",
        "sent",
        "subscribed",
        "trash",
        "snoozed",
        "scheduled",
        "memos",
    }
)
SETTABLE: Final = frozenset({"name", "parentId", "role", "sortOrder", "isSubscribed"})
SERVER_SET: Final = frozenset(
    {"id", "totalEmails", "unreadEmails", "totalThreads", "unreadThreads", "myRights"}
)
MAX_NAME: Final = 255


def _invalid(prop: str, description: str) -> SetError:
    return SetError("invalidProperties", description, properties=[prop])


@dataclass(frozen=True, slots=True)
class MailboxValues:
    """Validated settable properties; ``None`` = not given (parent: 0 = top level)."""

    name: str | None = None
    parent: int | None = None
    role: str | None = None  # "" = no role
    sort_order: int | None = None
    subscribed: bool | None = None


def _check_name(value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid("name", "name must be a string.")
    name = unicodedata.normalize("NFC", value)  # Net-Unicode (RFC 5198) is NFC
    if not name.strip() or len(name) > MAX_NAME:
        raise _invalid("name", f"name must be 1 to {MAX_NAME} characters.")
    if any(unicodedata.category(c) == "Cc" for c in name) or "/" in name:
        raise _invalid("name", "name contains a control character or '/'.")
    return name


def _check_role(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or value not in ROLES:
        raise _invalid("role", f"role {value!r} is not a registered Mailbox role.")
    return value


def _check_parent(value: Any, ctx: JmapContext, acct: int, created: Mapping[str, str]) -> int:
    if value is None:
        return 0
    if not isinstance(value, str):
        raise _invalid("parentId", "parentId must be an Id or null.")
    ident = created.get(value[1:]) if value.startswith("#") else value
    number = parse_object_id("mailbox", ident) if ident else None
    if number is None or ctx.services.mail.mailbox(ctx.access, acct, number) is None:
        raise _invalid("parentId", f"parentId {value!r} is not a mailbox.")
    return number


def _values(
    obj: Mapping[str, Any],
    ctx: JmapContext,
    acct: int,
    created: Mapping[str, str],
    *,
    create: bool = False,
) -> MailboxValues:
    """The validated settable properties (``name`` required on ``create``); one
    ``invalidProperties`` naming every bad one (RFC 8620 §5.3)."""
    problems = InvalidProperties()
    for key in obj:
        if key not in SETTABLE:
            problems.add(key, f"{key!r} cannot be set.")
    if create and "name" not in obj:
        problems.add("name", "name is required.")
    sort_order = obj.get("sortOrder")
    if sort_order is not None and (
        isinstance(sort_order, bool) or not isinstance(sort_order, int) or sort_order < 0
    ):
        problems.add("sortOrder", "sortOrder must be an UnsignedInt.")
    subscribed = obj.get("isSubscribed")
    if "isSubscribed" in obj and not isinstance(subscribed, bool):
        problems.add("isSubscribed", "isSubscribed must be a boolean.")
    values = MailboxValues(sort_order=sort_order, subscribed=subscribed)
    with problems.collecting():
        if "name" in obj:
            values = replace(values, name=_check_name(obj["name"]))
    with problems.collecting():
        if "parentId" in obj:
            values = replace(values, parent=_check_parent(obj["parentId"], ctx, acct, created))
    with problems.collecting():
        if "role" in obj:
            values = replace(values, role=_check_role(obj["role"]))
    problems.check()
    return values


def same_name(a: str, b: str) -> bool:
    """RFC 8621 §2 "no two sibling Mailboxes with both the same parent and the same name":
    names are the same when equal after NFC (RFC 5198 Net-Unicode) and Unicode case folding,
    the rule the store applies to IMAP CREATE/RENAME too (docs/jmap.md)."""
    return unicodedata.normalize("NFC", a).casefold() == unicodedata.normalize("NFC", b).casefold()


def sibling_named(
    mailboxes: Iterable[Mailbox], name: str, parent: int, self_id: int = 0
) -> Mailbox | None:
    """The mailbox under ``parent`` (0: top level) with the same name, other than ``self_id``."""
    for m in mailboxes:
        if m.parent_id == parent and m.id != self_id and same_name(m.name, name):
            return m
    return None


def already_exists(existing: Mailbox) -> SetError:
    """RFC 8620 §5.3 alreadyExists: "The server forbids duplicates, and the record already
    exists in the target account.  An existingId property of type Id MUST be included"."""
    return SetError(
        "alreadyExists",
        f"A sibling mailbox is already named {existing.name!r}.",
        existingId=object_id("mailbox", existing.id),
    )


def _store_error(
    error: MailError, ctx: JmapContext, acct: int, name: str | None, parent: int, self_id: int
) -> SetError:
    """The SetError for a store refusal; a name clash found only by the store (a concurrent
    writer got there first) is alreadyExists too."""
    if error.kind is ErrorKind.ALREADY_EXISTS:
        existing = sibling_named(ctx.store.mailboxes(acct), name, parent, self_id) if name else None
        if existing is not None:
            return already_exists(existing)
        return _invalid("role", "Another mailbox has this role.")
    if error.kind is ErrorKind.INVALID:
        return _invalid("parentId", "A mailbox cannot be moved under itself.")
    return set_error_for(error)


async def _create(
    call: MethodCall, ctx: JmapContext, acct: int, create: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, SetError]]:
    created: dict[str, dict[str, Any]] = {}
    failed: dict[str, SetError] = {}
    pending = dict(create)
    while pending:
        # A create waits while its parentId names a creation of this call not yet made.
        ready = {
            cid: obj
            for cid, obj in pending.items()
            if not (
                isinstance(obj.get("parentId"), str)
                and obj["parentId"].startswith("#")
                and obj["parentId"][1:] in pending
            )
        }
        if not ready:  # a cycle of parent references
            for cid in pending:
                failed[cid] = _invalid("parentId", "parentId references form a cycle.")
            break
        for cid in ready:
            del pending[cid]
        mailboxes = ctx.store.mailboxes(acct)
        roles = {m.role for m in mailboxes if m.role}
        step: Step[tuple[str, MailboxValues]] = Step(ctx)
        order: list[tuple[str, MailboxValues]] = []
        for cid, obj in ready.items():
            try:
                values = _values(obj, ctx, acct, call.created_ids, create=True)
                assert values.name is not None
                parent = values.parent or 0
                existing = sibling_named(mailboxes, values.name, parent)
                if existing is not None:
                    raise already_exists(existing)
                if any(
                    v.name is not None and same_name(v.name, values.name) and v.parent == parent
                    for _, v in order
                ):
                    # Same name as a create of this round: retried next round, when the
                    # other one exists and can be named as existingId.
                    pending[cid] = obj
                    continue
                if values.role and values.role in roles:
                    raise _invalid("role", f"Another mailbox has role {values.role!r}.")
            except SetError as err:
                failed[cid] = err
                continue
            refused = step.add(
                (cid, replace(values, parent=parent)),
                step.tx.create_mailbox,
                acct,
                values.name,
                parent_id=parent,
                role=values.role or "",
                sort_order=values.sort_order or 0,
                subscribed=bool(values.subscribed),
            )
            if refused is not None:
                failed[cid] = refused
                continue
            if values.role:
                roles.add(values.role)
            order.append((cid, replace(values, parent=parent)))
        for (cid, values), result in await step.commit():
            if result.error is not None:
                failed[cid] = _store_error(
                    result.error, ctx, acct, values.name, values.parent or 0, 0
                )
                continue
            ident = object_id("mailbox", result.value)
            call.created_ids[cid] = ident
            out: dict[str, Any] = {
                "id": ident,
                "totalEmails": 0,
                "unreadEmails": 0,
                "totalThreads": 0,
                "unreadThreads": 0,
                "myRights": jmap_rights(ctx.services.mail.rights(ctx.access, acct, result.value)),
            }
            obj = create[cid]
            # RFC 8620 §5.3: properties the server set to a default are returned too.
            for prop, default in (
                ("parentId", None),
                ("role", None),
                ("sortOrder", 0),
                ("isSubscribed", False),
            ):
                if prop not in obj:
                    out[prop] = default
            created[cid] = out
    return created, failed


def _shown(
    mailbox: Mailbox, counts: Counts | None, rights: dict[str, bool]
) -> Callable[[set[str]], dict[str, Any]]:
    """The mailbox's properties as Mailbox/get shows them (for ``drop_unchanged``)."""
    return lambda names: mailbox_json(
        mailbox, counts, [p for p in MAILBOX_PROPERTIES if p in names], rights
    )


def _unchanged(values: MailboxValues, mailbox: Mailbox) -> bool:
    """Whether every given value is the mailbox's current one."""
    return (
        values.name in (None, mailbox.name)
        and values.parent in (None, mailbox.parent_id)
        and values.role in (None, mailbox.role)
        and values.sort_order in (None, mailbox.sort_order)
        and values.subscribed in (None, mailbox.subscribed)
    )


def _resolve(ident: str, created_ids: Mapping[str, str]) -> int | None:
    target = created_ids.get(ident[1:]) if ident.startswith("#") else ident
    return parse_object_id("mailbox", target) if target else None


async def _update(
    call: MethodCall, ctx: JmapContext, acct: int, update: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any] | None], dict[str, SetError]]:
    updated: dict[str, dict[str, Any] | None] = {}
    failed: dict[str, SetError] = {}
    mailboxes = ctx.store.mailboxes(acct)  # every sibling, for the uniqueness checks
    by_id = {m.id: m for m in ctx.services.mail.mailboxes(ctx.access, acct)}
    counts = mailbox_counts(account_index(ctx.store, acct)) if update else {}
    step: Step[tuple[str, str, int, int]] = Step(ctx)
    for ident, patch in update.items():
        number = _resolve(ident, call.created_ids)
        mailbox = by_id.get(number) if number is not None else None
        try:
            if mailbox is None:
                raise SetError("notFound", f"Mailbox {ident!r} does not exist.")
            # RFC 8620 §5.3: unchanged server-set values may be sent back.
            rights = ctx.services.mail.rights(ctx.access, acct, mailbox.id)
            shown = _shown(mailbox, counts.get(mailbox.id), jmap_rights(rights))
            patch = drop_unchanged(patch, SETTABLE, shown)
            paths = patch_paths(patch)
            # RFC 8620 §5.3: one SetError listing every invalid property.
            problems = InvalidProperties()
            obj: dict[str, Any] = {}
            for path, value in paths.items():
                if len(path) > 1 and path[0] in SETTABLE | SERVER_SET:
                    # RFC 8620 §5.3: every part before the last must exist on the object;
                    # no Mailbox property is an object, so a deeper path cannot apply.
                    raise SetError("invalidPatch", f"{'/'.join(path)!r} is not a patchable path.")
                if len(path) != 1 or path[0] not in SETTABLE:
                    problems.add("/".join(path), f"{'/'.join(path)!r} cannot be changed.")
                elif path[0] == "name" and value is None:
                    problems.add("name", "name cannot be null.")
                else:
                    obj[path[0]] = value
            values = MailboxValues()
            with problems.collecting():
                values = _values(obj, ctx, acct, call.created_ids)
            problems.check()
            if _unchanged(values, mailbox):
                # Nothing to write: no new state, no push for a whole object sent back as is.
                updated[ident] = None
                continue
            name = mailbox.name if values.name is None else values.name
            parent = mailbox.parent_id if values.parent is None else values.parent
            if values.name is not None or values.parent is not None:
                existing = sibling_named(mailboxes, name, parent, mailbox.id)
                if existing is not None:
                    raise already_exists(existing)
            if values.role and any(m.role == values.role and m.id != mailbox.id for m in mailboxes):
                raise _invalid("role", f"Another mailbox has role {values.role!r}.")
        except SetError as err:
            failed[ident] = err
            continue
        refused = step.add(
            (ident, name, parent, mailbox.id),
            step.tx.update_mailbox,
            acct,
            mailbox.id,
            name=values.name,
            role=values.role,
            sort_order=values.sort_order,
            subscribed=values.subscribed,
            parent_id=UNCHANGED if values.parent is None else values.parent,
        )
        if refused is not None:
            failed[ident] = refused
    for (ident, name, parent, number), result in await step.commit():
        if result.error is not None:
            failed[ident] = _store_error(result.error, ctx, acct, name, parent, number)
        else:
            updated[ident] = None
    return updated, failed


def _depth(mailbox: Mailbox, by_id: Mapping[int, Mailbox]) -> int:
    depth, parent, seen = 0, mailbox.parent_id, set()
    while parent and parent in by_id and parent not in seen:
        seen.add(parent)
        depth += 1
        parent = by_id[parent].parent_id
    return depth


async def _destroy(
    call: MethodCall, ctx: JmapContext, acct: int, destroy: tuple[str, ...], remove: bool
) -> tuple[list[str], dict[str, SetError]]:
    destroyed: list[str] = []
    failed: dict[str, SetError] = {}
    by_id = {m.id: m for m in ctx.services.mail.mailboxes(ctx.access, acct)}
    targets: list[tuple[str, Mailbox]] = []
    for ident in destroy:
        number = _resolve(ident, call.created_ids)
        mailbox = by_id.get(number) if number is not None else None
        if mailbox is None:
            failed[ident] = SetError("notFound", f"Mailbox {ident!r} does not exist.")
        else:
            targets.append((ident, mailbox))
    # Children first, so that a subtree destroyed in one call does not fail on mailboxHasChild.
    targets.sort(key=lambda t: -_depth(t[1], by_id))
    step: Step[str] = Step(ctx)
    for ident, mailbox in targets:
        refused = step.add(ident, step.tx.destroy_mailbox, acct, mailbox.id, remove_emails=remove)
        if refused is not None:
            failed[ident] = refused
    for ident, result in await step.commit():
        error = result.error
        if error is None:
            destroyed.append(ident)
        elif error.kind is ErrorKind.IN_USE:
            # Destroying a mailbox, "in use" means it still holds emails (RFC 8621 §2.5).
            failed[ident] = SetError(
                "mailboxHasEmail", "The mailbox has emails (see onDestroyRemoveEmails)."
            )
        else:
            failed[ident] = set_error_for(error)  # HAS_CHILDREN is mailboxHasChild there
    return destroyed, failed


async def mailbox_set(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = parse_set(
        call.args,
        max_objects=ctx.services.limits.max_objects_in_set,
        extra=("onDestroyRemoveEmails",),
    )
    acct = ctx.account(args.account_id)
    remove = args.extra.get("onDestroyRemoveEmails")
    remove = False if remove is None else get_bool(remove, "onDestroyRemoveEmails")
    old_state = type_state(ctx, acct, "Mailbox")
    check_if_in_state(args.if_in_state, old_state)
    response = SetResponse(args.account_id, old_state, old_state)
    response.created, response.not_created = await _create(call, ctx, acct, args.create)

    def destroyable(ident: str) -> bool:
        number = _resolve(ident, call.created_ids)
        return (
            number is not None and ctx.services.mail.mailbox(ctx.access, acct, number) is not None
        )

    update, will_destroy = split_will_destroy(
        args.update, args.destroy, call.created_ids, destroyable
    )
    response.updated, response.not_updated = await _update(call, ctx, acct, update)
    response.not_updated.update(will_destroy)
    response.destroyed, response.not_destroyed = await _destroy(
        call, ctx, acct, args.destroy, remove
    )
    response.new_state = type_state(ctx, acct, "Mailbox")
    return [("Mailbox/set", response.to_json())]
