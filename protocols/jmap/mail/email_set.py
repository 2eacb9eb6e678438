"""Email/set (RFC 8621 §4.6).

Create builds the message with :mod:`.email_build`, parses it once with ``protocols.mime`` (the
metadata stored beside the blob, exactly as delivery does) and stores it with ``PutBlob`` +
``ImportEmail``.  Update accepts only ``keywords`` and ``mailboxIds`` (whole, or one
``keywords/$k`` / ``mailboxIds/<id>`` member at a time, RFC 8620 §5.3 PatchObject) and becomes
one ``UpdateEmail``; every other property of an Email is immutable.  Destroy is ``DestroyEmail``.
Creates, updates and destroys are one batch each, applied in that order (creation ids made by
the creates may be updated or destroyed in the same call).

The helpers :func:`parse_mailbox_ids`, :func:`parse_keywords`, :func:`import_ops` and
:func:`created_json` are shared with Email/import and Email/copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from protocols.mime import ParsedMessage, parse_message
from store.batch import DestroyEmail, ImportEmail, PutBlob, UpdateEmail
from store.codec import pack
from store.errors import ErrorKind
from store.ids import blob_id, object_id, parse_object_id

from ..context import JmapContext
from ..core import (
    MAIL,
    Dispatcher,
    InvalidProperties,
    MethodCall,
    SetError,
    SetResponse,
    check_if_in_state,
    drop_unchanged,
    parse_set,
    patch_paths,
    set_error_for,
    split_will_destroy,
)
from .blob import blob_reader
from .email_build import build_message, invalid, utc_date
from .email_get import render_stored
from .email_render import EMAIL_PROPERTIES, BodyOptions, parse_header_property
from .write import MAX_KEYWORDS, MAX_MAILBOXES_PER_EMAIL, context_of, type_state, write_ops

SERVER_SET: Final = frozenset({"id", "blobId", "threadId", "size", "hasAttachment", "preview"})
# §4.6: "the only properties that may be updated"; every other Email property is immutable.
MUTABLE: Final = frozenset({"keywords", "mailboxIds"})
# What the server compares a whole Email sent back with (RFC 8620 §5.3): all text bodyValues,
# untruncated.
_SHOWN_BODY: Final = BodyOptions(fetch_all=True)
_KEYWORD_FORBIDDEN: Final = frozenset('(){]%*"\\')


def valid_keyword(word: str) -> bool:
    """RFC 8621 §4.1.1: 1–255 characters of %x21-%x7E except ( ) { ] % * " \\ (IMAP atom)."""
    return (
        0 < len(word) <= 255
        and all(0x21 <= ord(c) <= 0x7E for c in word)
        and not (_KEYWORD_FORBIDDEN & set(word))
    )


def mailbox_number(
    ctx: JmapContext, acct: int, ident: str, created_ids: Mapping[str, str]
) -> int | None:
    """The mailbox behind an id or ``#creationId``, if it exists in the account."""
    resolved = created_ids.get(ident[1:]) if ident.startswith("#") else ident
    number = parse_object_id("mailbox", resolved) if resolved else None
    if number is None or ctx.store.mailbox(acct, number) is None:
        return None
    return number


def parse_mailbox_ids(
    ctx: JmapContext, acct: int, value: Any, created_ids: Mapping[str, str]
) -> tuple[int, ...]:
    """A ``mailboxIds`` map (``Id[Boolean]``, values true) → mailbox numbers.  Every bad
    member is named as ``mailboxIds/<id>`` (RFC 8620 §5.3: the SetError lists all of them)."""
    if not isinstance(value, dict) or not value:
        raise invalid("mailboxIds", "mailboxIds must name at least one mailbox.")
    out: list[int] = []
    problems = InvalidProperties()
    for ident, flag in value.items():
        number = mailbox_number(ctx, acct, ident, created_ids)
        if number is None:
            problems.add(f"mailboxIds/{ident}", f"{ident!r} is not a mailbox of this account.")
        elif flag is not True:
            problems.add(f"mailboxIds/{ident}", "mailboxIds values must be true.")
        else:
            out.append(number)
    problems.check()
    if len(set(out)) > MAX_MAILBOXES_PER_EMAIL:
        raise SetError("tooManyMailboxes", f"At most {MAX_MAILBOXES_PER_EMAIL} mailboxes.")
    return tuple(sorted(set(out)))


def parse_keywords(value: Any) -> tuple[str, ...]:
    """A ``keywords`` map (``String[Boolean]``, values true) → lower-case keywords."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise invalid("keywords", "keywords must be an object.")
    out: set[str] = set()
    problems = InvalidProperties()
    for word, flag in value.items():
        if flag is not True or not valid_keyword(word):
            problems.add(f"keywords/{word}", f"{word!r} is not a keyword set to true.")
        else:
            out.add(word.lower())
    problems.check()
    if len(out) > MAX_KEYWORDS:
        raise SetError("tooManyKeywords", f"At most {MAX_KEYWORDS} keywords.")
    return tuple(sorted(out))


def parse_received_at(value: Any, now: int) -> int:
    if value is None:
        return now
    parsed = utc_date(value)
    if parsed is None:
        raise invalid("receivedAt", "receivedAt must be a UTCDate.")
    return int(parsed.timestamp())


def parse_placement(
    call: MethodCall,
    ctx: JmapContext,
    acct: int,
    obj: Mapping[str, Any],
    now: int,
    problems: InvalidProperties,
) -> tuple[tuple[int, ...], tuple[str, ...], int]:
    """(mailboxIds, keywords, receivedAt) of a new email (Email/set create, Email/import);
    each invalid one goes into ``problems`` (RFC 8620 §5.3: all are reported)."""
    mailbox_ids: tuple[int, ...] = ()
    keywords: tuple[str, ...] = ()
    received_at = now
    with problems.collecting():
        if "mailboxIds" not in obj:
            raise invalid("mailboxIds", "mailboxIds is required.")
        mailbox_ids = parse_mailbox_ids(ctx, acct, obj["mailboxIds"], call.created_ids)
    with problems.collecting():
        keywords = parse_keywords(obj.get("keywords"))
    with problems.collecting():
        received_at = parse_received_at(obj.get("receivedAt"), now)
    return mailbox_ids, keywords, received_at


@dataclass(frozen=True, slots=True)
class NewEmail:
    """What is needed to store one message as an email of an account."""

    raw: bytes
    parsed: ParsedMessage
    mailbox_ids: tuple[int, ...]
    keywords: tuple[str, ...]
    received_at: int

    @property
    def sha(self) -> bytes:
        return hashlib.sha256(self.raw).digest()


def import_ops(acct: int, new: NewEmail, *, hold_until: int) -> tuple[PutBlob, ImportEmail]:
    """``PutBlob`` + ``ImportEmail`` for a message (parsed once; metadata as delivery has it)."""
    parsed = new.parsed
    sha = new.sha
    references = tuple(dict.fromkeys((*parsed.in_reply_to, *parsed.references)))
    return (
        PutBlob(sha, new.raw, hold_until=hold_until),
        ImportEmail(
            acct,
            sha,
            len(new.raw),
            new.mailbox_ids,
            new.keywords,
            new.received_at,
            pack(parsed.to_wire()),
            message_id=parsed.message_id[0] if parsed.message_id else "",
            references=references,
            subject=parsed.normalized_subject,
        ),
    )


def created_json(email_id: int, thread_id: int, sha: bytes, size: int) -> dict[str, Any]:
    """The server-set properties of a new Email (§4.6, §4.8)."""
    return {
        "id": object_id("email", email_id),
        "blobId": blob_id(sha),
        "threadId": object_id("thread", thread_id),
        "size": size,
    }


# -- create ------------------------------------------------------------------------------------
def _new_email(
    call: MethodCall, ctx: JmapContext, acct: int, obj: dict[str, Any], now: int
) -> NewEmail:
    # RFC 8620 §5.3: the invalidProperties SetError lists every invalid property, so each
    # check runs whatever the others found.
    problems = InvalidProperties()
    for prop in sorted(SERVER_SET & obj.keys()):
        problems.add(prop, f"{prop} is set by the server.")
    mailbox_ids, keywords, received_at = parse_placement(call, ctx, acct, obj, now, problems)
    raw = b""
    missing: SetError | None = None
    with problems.collecting():
        try:
            raw = build_message(
                {k: v for k, v in obj.items() if k not in SERVER_SET},
                read_blob=blob_reader(ctx, acct, call.created_ids),
                hostname=ctx.services.hostname,
                now=now,
            )
        except SetError as err:
            if err.type != "blobNotFound":
                raise
            missing = err  # reported only when nothing is invalid
    problems.check()
    if missing is not None:
        raise missing
    return NewEmail(raw, parse_message(raw), mailbox_ids, keywords, received_at)


async def _create(
    call: MethodCall, ctx: JmapContext, acct: int, create: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, SetError]]:
    created: dict[str, dict[str, Any]] = {}
    failed: dict[str, SetError] = {}
    now = ctx.services.now()
    ops: list[PutBlob | ImportEmail] = []
    order: list[tuple[str, NewEmail]] = []
    for cid, obj in create.items():
        try:
            new = _new_email(call, ctx, acct, obj, now)
        except SetError as err:
            failed[cid] = err
            continue
        ops.extend(import_ops(acct, new, hold_until=now))
        order.append((cid, new))
    if ops:
        applied = await write_ops(ctx, ops)
        for n, (cid, new) in enumerate(order):
            blob_res, import_res = applied[2 * n], applied[2 * n + 1]
            error = blob_res.error or import_res.error
            if error is not None:
                failed[cid] = _store_error(error)
                continue
            result = import_res.value
            call.created_ids[cid] = object_id("email", result.email_id)
            created[cid] = created_json(result.email_id, result.thread_id, new.sha, len(new.raw))
    return created, failed


def _store_error(error: Any) -> SetError:
    if error.kind is ErrorKind.INVALID:
        return invalid("keywords", "The store refused the keywords or mailboxes.")
    return set_error_for(error)


# -- update ------------------------------------------------------------------------------------
def _update_op(
    call: MethodCall, ctx: JmapContext, acct: int, email_id: int, patch: Any
) -> UpdateEmail:
    email = ctx.store.email(acct, email_id)
    if email is None:
        raise SetError("notFound", "The email does not exist.")
    op = UpdateEmail(acct, email_id)
    patch = drop_unchanged(patch, MUTABLE, lambda names: _shown(ctx, acct, email_id, names, patch))
    keywords = set(email.keywords)
    mailboxes = {m for m, _ in email.mailboxes}
    add_kw: list[str] = []
    del_kw: list[str] = []
    add_mb: list[int] = []
    del_mb: list[int] = []
    # RFC 8620 §5.3: the SetError lists every invalid property, not only the first.
    problems = InvalidProperties()
    for path, value in patch_paths(patch).items():
        prop = path[0]
        if prop in ("keywords", "mailboxIds") and len(path) > 2:
            # RFC 8620 §5.3: every part before the last must exist on the object; the members
            # of keywords and mailboxIds are booleans, so nothing lies below them.
            raise SetError("invalidPatch", f"{'/'.join(path)!r} points inside a boolean.")
        with problems.collecting():
            if prop == "keywords" and len(path) == 1:
                keywords = set(parse_keywords(value))
                op = replace(op, keywords_set=tuple(sorted(keywords)))
            elif prop == "keywords" and len(path) == 2:
                word = path[1]
                if not valid_keyword(word) or value not in (True, None):
                    raise invalid(
                        f"keywords/{word}",
                        f"keywords/{word} must be a keyword set to true or null.",
                    )
                (add_kw if value else del_kw).append(word.lower())
            elif prop == "mailboxIds" and len(path) == 1:
                mailboxes = set(parse_mailbox_ids(ctx, acct, value, call.created_ids))
                op = replace(op, mailboxes_set=tuple(sorted(mailboxes)))
            elif prop == "mailboxIds" and len(path) == 2:
                number = mailbox_number(ctx, acct, path[1], call.created_ids)
                if value not in (True, None) or (value and number is None):
                    raise invalid(
                        f"mailboxIds/{path[1]}", f"mailboxIds/{path[1]} must name a mailbox."
                    )
                if number is not None:
                    (add_mb if value else del_mb).append(number)
            else:
                raise invalid("/".join(path), f"{'/'.join(path)!r} is immutable (§4.6).")
    problems.check()
    if op.keywords_set is not None and (add_kw or del_kw):
        raise SetError("invalidPatch", "keywords is set whole and by member.")
    if op.mailboxes_set is not None and (add_mb or del_mb):
        raise SetError("invalidPatch", "mailboxIds is set whole and by member.")
    keywords = (keywords | set(add_kw)) - set(del_kw)
    mailboxes = (mailboxes | set(add_mb)) - set(del_mb)
    if len(keywords) > MAX_KEYWORDS:
        raise SetError("tooManyKeywords", f"At most {MAX_KEYWORDS} keywords.")
    if len(mailboxes) > MAX_MAILBOXES_PER_EMAIL:
        raise SetError("tooManyMailboxes", f"At most {MAX_MAILBOXES_PER_EMAIL} mailboxes.")
    if not mailboxes:
        raise invalid("mailboxIds", "An email must stay in at least one mailbox.")
    return replace(
        op,
        keywords_add=tuple(add_kw),
        keywords_remove=tuple(del_kw),
        mailboxes_add=tuple(add_mb),
        mailboxes_remove=tuple(del_mb),
    )


def _shown(
    ctx: JmapContext, acct: int, email_id: int, names: set[str], patch: Mapping[str, Any]
) -> dict[str, Any]:
    """The Email's current ``names`` as Email/get shows them (for :func:`drop_unchanged`);
    bodyValues only for the parts the patch gives values for."""
    props = tuple(p for p in names if p in EMAIL_PROPERTIES or parse_header_property(p))
    shown = render_stored(ctx, acct, email_id, props, _SHOWN_BODY) or {}
    given = patch.get("bodyValues")
    if "bodyValues" in shown and isinstance(given, dict):
        shown["bodyValues"] = {k: v for k, v in shown["bodyValues"].items() if k in given}
    return shown


def _email_number(ident: str, created_ids: Mapping[str, str]) -> int | None:
    resolved = created_ids.get(ident[1:]) if ident.startswith("#") else ident
    return parse_object_id("email", resolved) if resolved else None


async def _update(
    call: MethodCall, ctx: JmapContext, acct: int, update: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any] | None], dict[str, SetError]]:
    updated: dict[str, dict[str, Any] | None] = {}
    failed: dict[str, SetError] = {}
    ops: list[UpdateEmail] = []
    order: list[str] = []
    for ident, patch in update.items():
        number = _email_number(ident, call.created_ids)
        try:
            if number is None:
                raise SetError("notFound", f"Email {ident!r} does not exist.")
            ops.append(_update_op(call, ctx, acct, number, patch))
        except SetError as err:
            failed[ident] = err
            continue
        order.append(ident)
    if ops:
        applied = await write_ops(ctx, ops)
        for ident, result in zip(order, applied.results, strict=True):
            if result.error is not None:
                failed[ident] = _store_error(result.error)
            else:
                updated[ident] = None
    return updated, failed


async def _destroy(
    call: MethodCall, ctx: JmapContext, acct: int, destroy: tuple[str, ...]
) -> tuple[list[str], dict[str, SetError]]:
    destroyed: list[str] = []
    failed: dict[str, SetError] = {}
    ops: list[DestroyEmail] = []
    order: list[str] = []
    for ident in destroy:
        number = _email_number(ident, call.created_ids)
        if number is None or ctx.store.email(acct, number) is None:
            failed[ident] = SetError("notFound", f"Email {ident!r} does not exist.")
            continue
        ops.append(DestroyEmail(acct, number))
        order.append(ident)
    if ops:
        applied = await write_ops(ctx, ops)
        for ident, result in zip(order, applied.results, strict=True):
            if result.error is not None:
                failed[ident] = set_error_for(result.error)
            else:
                destroyed.append(ident)
    return destroyed, failed


async def email_set(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = parse_set(call.args, max_objects=ctx.services.limits.max_objects_in_set)
    acct = ctx.account(args.account_id)
    old_state = type_state(ctx, acct, "Email")
    check_if_in_state(args.if_in_state, old_state)
    response = SetResponse(args.account_id, old_state, old_state)
    response.created, response.not_created = await _create(call, ctx, acct, args.create)

    def destroyable(ident: str) -> bool:
        number = _email_number(ident, call.created_ids)
        return number is not None and ctx.store.email(acct, number) is not None

    update, will_destroy = split_will_destroy(
        args.update, args.destroy, call.created_ids, destroyable
    )
    response.updated, response.not_updated = await _update(call, ctx, acct, update)
    response.not_updated.update(will_destroy)
    response.destroyed, response.not_destroyed = await _destroy(call, ctx, acct, args.destroy)
    response.new_state = type_state(ctx, acct, "Email")
    return [("Email/set", response.to_json())]


async def implicit_email_set(call: MethodCall, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An Email/set made on the client's behalf (RFC 8620 §5.4 onSuccessDestroyOriginal,
    RFC 8621 §7.5 onSuccessUpdateEmail): its response, or the method error it raised."""
    from ..core import MethodError

    inner = replace(call, name="Email/set", args=args)
    try:
        return (await email_set(inner))[0]
    except MethodError as err:
        return ("error", err.to_json())


def register(dispatcher: Dispatcher) -> None:
    dispatcher.register("Email/set", MAIL, email_set)
