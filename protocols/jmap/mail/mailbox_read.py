"""Mailbox/get (RFC 8621 §2.1), Mailbox/changes (§2.2), Mailbox/query (§2.3) and
Mailbox/queryChanges (§2.4).

Counts come from the account index (:mod:`.account_index`), so ``unreadEmails`` follows the RFC
exactly (neither ``$seen`` nor ``$draft``) and the thread counts are real: ``totalThreads`` is
the number of threads with an email in the mailbox, ``unreadThreads`` the number of threads with
an unread email in the mailbox (the "simplest solution" §2 describes).  The mailboxes are those
the token may see and ``myRights`` its rights on each (``MailService.mailboxes`` / ``rights``,
mapped by :func:`protocols.mail.jmap_rights`: rights are computed in one place).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from protocols.jmap.context import JmapContext, get_call
from protocols.jmap.core import (
    Comparator,
    Filter,
    FilterOperator,
    MethodCall,
    MethodError,
    get_bool,
    invalid_arguments,
    jsonio,
    parse_changes,
    parse_query,
    parse_query_changes,
    parse_state,
    query_changes_response,
    query_response,
)
from protocols.jmap.core.changes import check_since_state
from protocols.jmap.core.errors import UNSUPPORTED_FILTER, UNSUPPORTED_SORT
from protocols.mail import jmap_rights
from store.ids import object_id, parse_object_id
from store.models import Mailbox

from .account_index import AccountIndex, account_index
from .email_render import PreEncoded, PreEncodedList
from .email_sort import COLLATIONS
from .mail_changes import type_changes

PROPERTIES: Final = (
    "id",
    "name",
    "parentId",
    "role",
    "sortOrder",
    "totalEmails",
    "unreadEmails",
    "totalThreads",
    "unreadThreads",
    "myRights",
    "isSubscribed",
)
COUNTS: Final = ("totalEmails", "unreadEmails", "totalThreads", "unreadThreads")


@dataclass(frozen=True, slots=True)
class Counts:
    total: int = 0
    unread: int = 0
    threads: int = 0
    unread_threads: int = 0


def mailbox_counts(index: AccountIndex) -> dict[int, Counts]:
    """Counts of every mailbox (the account index keeps them up to date row by row)."""
    return {m: Counts(*c) for m, c in index.mailbox_counts().items()}


def mailbox_json(
    mb: Mailbox, counts: Counts | None, properties: Iterable[str], rights: dict[str, bool]
) -> dict[str, Any]:
    """The Mailbox object (RFC 8621 §2) with ``rights`` (``jmap_rights``) as ``myRights``."""
    c = counts or Counts()
    values: dict[str, Any] = {
        "id": object_id("mailbox", mb.id),
        "name": mb.name,
        "parentId": object_id("mailbox", mb.parent_id) if mb.parent_id else None,
        "role": mb.role or None,
        "sortOrder": mb.sort_order,
        "totalEmails": c.total,
        "unreadEmails": c.unread,
        "totalThreads": c.threads,
        "unreadThreads": c.unread_threads,
        "myRights": rights,
        "isSubscribed": mb.subscribed,
    }
    return {p: values[p] for p in properties}


def _state(ctx: JmapContext, acct: int) -> int:
    account = ctx.store.account(acct)
    return 0 if account is None else account.type_state("Mailbox")


async def mailbox_get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx, args, acct = get_call(call, PROPERTIES)
    state = _state(ctx, acct)
    properties = args.properties if args.properties is not None else PROPERTIES
    if "id" not in properties:
        properties = ("id", *properties)
    index = account_index(ctx.store, acct)
    # The answer depends on the mailboxes (their state is in the key) and on the counts, which
    # change only with the account's emails (which clear index.derived): a client polling its
    # folder list is answered without re-reading and re-encoding every mailbox.  The token's
    # view (principal and rights) is in the key: which mailboxes it sees and myRights are its.
    key = ("Mailbox/get", ctx.view(acct), state, properties, args.ids)
    answer = index.derived.get(key)
    if answer is None:
        answer = _get_many(ctx, acct, index, properties, args.ids)
        index.remember(key, answer)
    found, not_found = answer  # shared by every answer from the cache: read-only
    return [
        (
            "Mailbox/get",
            {
                "accountId": args.account_id,
                "state": str(state),
                "list": found,
                "notFound": list(not_found),
            },
        )
    ]


def _get_many(
    ctx: JmapContext,
    acct: int,
    index: AccountIndex,
    properties: Sequence[str],
    ids: Sequence[str] | None,
) -> tuple[PreEncodedList, tuple[str, ...]]:
    mail, token = ctx.services.mail, ctx.access
    boxes = {object_id("mailbox", mb.id): mb for mb in mail.mailboxes(token, acct)}
    counts = mailbox_counts(index) if any(p in COUNTS for p in properties) else {}
    wanted = list(boxes) if ids is None else list(ids)
    found = PreEncodedList(
        _pre_encoded(
            mailbox_json(
                boxes[i],
                counts.get(boxes[i].id),
                properties,
                jmap_rights(mail.rights(token, acct, boxes[i].id)),
            )
        )
        for i in wanted
        if i in boxes
    )
    return found, tuple(i for i in wanted if i not in boxes)


def _pre_encoded(value: dict[str, Any]) -> PreEncoded:
    return PreEncoded(value, jsonio.dumps(value))


def _counts_only(
    ctx: JmapContext, acct: int, since: str, new_state: str, updated: set[int]
) -> bool:
    """Were the updated mailboxes changed only by emails coming, going or changing keywords?

    The change log does not say which properties of a mailbox changed.  A mailbox update
    logged in a batch that also logged UID events ("imap" entries: appended, expunged, flags)
    for that mailbox is taken as a count change; any other one (a rename, a move) is not.
    """
    start = parse_state(since)
    end = parse_state(new_state)
    if start is None or end is None:
        return False
    last = end.modseq + (1 if end.skip else 0)
    for modseq, entries in ctx.store.changes_since(acct, start.modseq):
        if modseq > last:
            break
        boxes = {e.id for e in entries if e.type == "Mailbox" and e.op == "u" and e.id in updated}
        if not boxes:
            continue
        with_uids = {e.id for e in entries if e.type == "imap"}
        if boxes - with_uids:
            return False
    return True


async def mailbox_changes(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx: JmapContext = call.context
    args = parse_changes(call.args)
    acct = ctx.account(args.account_id)
    changes = type_changes(ctx, acct, "Mailbox", "mailbox", args)
    out = changes.to_json(args.account_id)
    updated = {parse_object_id("mailbox", i) or 0 for i in changes.updated}
    # §2.2 updatedProperties: the count properties when only counts changed, else null.
    out["updatedProperties"] = (
        list(COUNTS)
        if updated
        and not changes.created
        and not changes.destroyed
        and _counts_only(ctx, acct, args.since_state, changes.new_state, updated)
        else None
    )
    return [("Mailbox/changes", out)]


# -- query -------------------------------------------------------------------------------------
_CONDITIONS: Final = frozenset({"parentId", "name", "role", "hasAnyRole", "isSubscribed"})
_SORTS: Final = frozenset({"sortOrder", "name"})


def _check_filter(node: Filter | None) -> None:
    if node is None:
        return
    if isinstance(node, FilterOperator):
        for c in node.conditions:
            _check_filter(c)
        return
    for name, value in node.fields.items():
        if name not in _CONDITIONS:
            raise MethodError(UNSUPPORTED_FILTER, f"Unsupported filter condition {name!r}.")
        ok = {
            "parentId": value is None or isinstance(value, str),
            "name": isinstance(value, str),
            "role": value is None or isinstance(value, str),
            "hasAnyRole": isinstance(value, bool),
            "isSubscribed": isinstance(value, bool),
        }[name]
        if not ok:
            raise invalid_arguments(f"Bad value for filter {name!r}.", arguments=["filter"])


def _matches(node: Filter | None, mb: Mailbox) -> bool:
    if node is None:
        return True
    if isinstance(node, FilterOperator):
        results = (_matches(c, mb) for c in node.conditions)
        if node.operator == "AND":
            return all(results)
        if node.operator == "OR":
            return any(results)
        return not any(results)
    for name, value in node.fields.items():
        if name == "parentId":
            parent = object_id("mailbox", mb.parent_id) if mb.parent_id else None
            if parent != value:
                return False
        elif name == "name":
            if value.casefold() not in mb.name.casefold():
                return False
        elif name == "role":
            if (mb.role or None) != (value.lower() if isinstance(value, str) else None):
                return False
        elif name == "hasAnyRole":
            if bool(mb.role) != value:
                return False
        elif name == "isSubscribed" and mb.subscribed != value:
            return False
    return True


def _sorted(boxes: Sequence[Mailbox], sort: Sequence[Comparator]) -> list[Mailbox]:
    out = sorted(boxes, key=lambda m: m.id)
    for c in reversed(sort):
        if c.property == "name":
            out.sort(key=lambda m: m.name.casefold(), reverse=not c.is_ascending)
        else:
            out.sort(key=lambda m: m.sort_order, reverse=not c.is_ascending)
    return out


def mailbox_results(
    boxes: Sequence[Mailbox],
    node: Filter | None,
    sort: Sequence[Comparator],
    *,
    sort_as_tree: bool,
    filter_as_tree: bool,
) -> list[Mailbox]:
    matched = {mb.id for mb in boxes if _matches(node, mb)}
    by_id = {mb.id: mb for mb in boxes}
    if filter_as_tree:
        # §2.3 filterAsTree: included only if every ancestor is included too.
        def ancestors_match(mb: Mailbox) -> bool:
            seen: set[int] = set()
            parent = mb.parent_id
            while parent and parent not in seen:
                seen.add(parent)
                if parent not in matched:
                    return False
                parent = by_id[parent].parent_id if parent in by_id else 0
            return True

        matched = {i for i in matched if ancestors_match(by_id[i])}
    ordered = _sorted(boxes, sort)
    if sort_as_tree:
        # §2.3 sortAsTree: parents before children; siblings by the comparators.  Emitting a
        # depth-first walk of the whole tree is exactly the RFC's "nearest ancestors with the
        # same parent" comparison.
        children: dict[int, list[Mailbox]] = {}
        for mb in ordered:
            parent = mb.parent_id if mb.parent_id in by_id else 0
            children.setdefault(parent, []).append(mb)
        walk: list[Mailbox] = []
        stack = list(reversed(children.get(0, [])))
        seen: set[int] = set()
        while stack:
            mb = stack.pop()
            if mb.id in seen:
                continue
            seen.add(mb.id)
            walk.append(mb)
            stack.extend(reversed(children.get(mb.id, [])))
        walk.extend(mb for mb in ordered if mb.id not in seen)  # cycles: should not exist
        ordered = walk
    return [mb for mb in ordered if mb.id in matched]


def _parse_query_args(args: dict[str, Any], changes: bool) -> tuple[Any, bool, bool]:
    extra = ("sortAsTree", "filterAsTree")
    q = (parse_query_changes if changes else parse_query)(args, collations=COLLATIONS, extra=extra)
    _check_filter(q.filter)
    for c in q.sort or ():
        if c.property not in _SORTS:
            raise MethodError(UNSUPPORTED_SORT, f"Unsupported sort property {c.property!r}.")
    flags = []
    for name in extra:
        value = q.extra.get(name)
        flags.append(False if value is None else get_bool(value, name))
    return q, flags[0], flags[1]


async def mailbox_query(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx: JmapContext = call.context
    q, sort_as_tree, filter_as_tree = _parse_query_args(call.args, changes=False)
    acct = ctx.account(q.account_id)
    state = _state(ctx, acct)
    results = mailbox_results(
        ctx.services.mail.mailboxes(ctx.access, acct),
        q.filter,
        q.sort or (),
        sort_as_tree=sort_as_tree,
        filter_as_tree=filter_as_tree,
    )
    ids = [object_id("mailbox", mb.id) for mb in results]
    out = query_response(ids, q, str(state), max_limit=ctx.services.limits.max_query_limit)
    return [("Mailbox/query", out)]


async def mailbox_query_changes(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    """§5.6 via the change log: a mailbox's membership and position depend on itself only,
    unless the tree options make them depend on its ancestors; then every current result is
    re-added (and every mailbox that might have been a result removed)."""
    ctx: JmapContext = call.context
    q, sort_as_tree, filter_as_tree = _parse_query_args(call.args, changes=True)
    acct = ctx.account(q.account_id)
    store = ctx.store
    account = store.account(acct)
    assert account is not None
    current = account.type_state("Mailbox")
    position = check_since_state(q.since_query_state, current=current, floor=account.changes_floor)
    changed: set[int] = set()
    created: set[int] = set()
    for modseq, entries in store.changes_since(acct, position.modseq):
        if modseq > current:
            break
        for e in entries:
            if e.type == "Mailbox":
                if e.op == "c" and e.id not in changed:
                    created.add(e.id)
                changed.add(e.id)
    boxes = ctx.services.mail.mailboxes(ctx.access, acct)
    results = mailbox_results(
        boxes, q.filter, q.sort or (), sort_as_tree=sort_as_tree, filter_as_tree=filter_as_tree
    )
    if changed and (sort_as_tree or filter_as_tree):
        changed |= {mb.id for mb in boxes}
    removed = [object_id("mailbox", i) for i in sorted(changed - created)]
    added = [(object_id("mailbox", mb.id), n) for n, mb in enumerate(results) if mb.id in changed]
    out = query_changes_response(q, str(current), removed, added, len(results))
    return [("Mailbox/queryChanges", out)]
