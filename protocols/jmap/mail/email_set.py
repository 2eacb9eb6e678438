"""Email/set (RFC 8621 §4.6).

Create builds the message with :mod:`.email_build`, parses it once with ``protocols.mime`` and
stores it through the mail service (``MailTransaction.import_message`` of a ``NewMessage``: the
one builder delivery and IMAP APPEND use too).  Update accepts only ``keywords`` and
``mailboxIds`` (whole, or one ``keywords/$k`` / ``mailboxIds/<id>`` member at a time, RFC 8620
§5.3 PatchObject) and becomes one ``update_email``; every other property of an Email is
immutable.  Destroy is ``destroy_email``.  Creates, updates and destroys are one transaction
each, committed in that order (creation ids made by the creates may be updated or destroyed in
the same call).  The service checks the token's rights: a refusal is the object's SetError
(``forbidden``, or ``notFound`` for what the token may not see).

The helpers :func:`parse_mailbox_ids`, :func:`parse_keywords` and :func:`created_json` are
shared with Email/import and Email/copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Final

from protocols.mail import ErrorKind, MailError, MailTransaction, NewMessage, Ref
from protocols.mime import parse_message
from store.ids import blob_id, object_id, parse_object_id

from ..context import JmapContext
from ..core import (
    InvalidProperties,
    MethodCall,
    MethodError,
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
from .write import MAX_KEYWORDS, MAX_MAILBOXES_PER_EMAIL, Step, context_of, type_state

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
    """The mailbox behind an id or ``#creationId``, if it exists in the account and the token
    may see it."""
    resolved = created_ids.get(ident[1:]) if ident.startswith("#") else ident
    number = parse_object_id("mailbox", resolved) if resolved else None
    if number is None or ctx.services.mail.mailbox(ctx.access, acct, number) is None:
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
) -> NewMessage:
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
    return NewMessage(raw, parse_message(raw), mailbox_ids, keywords, received_at)


async def _create(
    call: MethodCall, ctx: JmapContext, acct: int, create: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, SetError]]:
    created: dict[str, dict[str, Any]] = {}
    failed: dict[str, SetError] = {}
    now = ctx.services.now()
    news: list[tuple[str, NewMessage]] = []
    for cid, obj in create.items():
        try:
            news.append((cid, _new_email(call, ctx, acct, obj, now)))
        except SetError as err:
            failed[cid] = err
    created = await store_messages(call, ctx, acct, news, now, failed, _store_error)
    return created, failed


async def store_messages(
    call: MethodCall,
    ctx: JmapContext,
    acct: int,
    news: Iterable[tuple[str, NewMessage]],
    now: int,
    failed: dict[str, SetError],
    store_error: Callable[[MailError], SetError] = set_error_for,
) -> dict[str, dict[str, Any]]:
    """Stores each new message (by creation id) as an email of ``acct``, in one transaction
    (Email/set create, Email/import): the created Emails' server-set properties by creation id;
    each refusal or failure goes into ``failed``."""
    step: Step[tuple[str, NewMessage]] = Step(ctx, now)
    for cid, new in news:
        refused = step.add((cid, new), step.tx.import_message, acct, new)
        if refused is not None:
            failed[cid] = refused
    created: dict[str, dict[str, Any]] = {}
    for (cid, new), result in await step.commit():
        if result.error is not None:
            failed[cid] = store_error(result.error)
            continue
        email = result.value
        call.created_ids[cid] = object_id("email", email.email_id)
        created[cid] = created_json(email.email_id, email.thread_id, new.sha, len(new.raw))
    return created


def _store_error(error: MailError) -> SetError:
    if error.kind is ErrorKind.INVALID:
        return invalid("keywords", "The store refused the keywords or mailboxes.")
    return set_error_for(error)


# -- update ------------------------------------------------------------------------------------
def _update_op(
    call: MethodCall, ctx: JmapContext, acct: int, email_id: int, patch: Any
) -> Callable[[MailTransaction], Ref]:
    """The service call that applies ``patch`` to the email (SetError if it is invalid)."""
    email = ctx.services.mail.email(ctx.access, acct, email_id)
    if email is None:
        raise SetError("notFound", "The email does not exist.")
    keywords_set: tuple[str, ...] | None = None
    mailboxes_set: tuple[int, ...] | None = None
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
                keywords_set = tuple(sorted(keywords))
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
                mailboxes_set = tuple(sorted(mailboxes))
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
    if keywords_set is not None and (add_kw or del_kw):
        raise SetError("invalidPatch", "keywords is set whole and by member.")
    if mailboxes_set is not None and (add_mb or del_mb):
        raise SetError("invalidPatch", "mailboxIds is set whole and by member.")
    keywords = (keywords | set(add_kw)) - set(del_kw)
    mailboxes = (mailboxes | set(add_mb)) - set(del_mb)
    if len(keywords) > MAX_KEYWORDS:
        raise SetError("tooManyKeywords", f"At most {MAX_KEYWORDS} keywords.")
    if len(mailboxes) > MAX_MAILBOXES_PER_EMAIL:
        raise SetError("tooManyMailboxes", f"At most {MAX_MAILBOXES_PER_EMAIL} mailboxes.")
    if not mailboxes:
        raise invalid("mailboxIds", "An email must stay in at least one mailbox.")
    return lambda tx: tx.update_email(
        acct,
        email_id,
        keywords_add=tuple(add_kw),
        keywords_remove=tuple(del_kw),
        keywords_set=keywords_set,
        mailboxes_add=tuple(add_mb),
        mailboxes_remove=tuple(del_mb),
        mailboxes_set=mailboxes_set,
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
    step: Step[str] = Step(ctx)
    for ident, patch in update.items():
        number = _email_number(ident, call.created_ids)
        try:
            if number is None:
                raise SetError("notFound", f"Email {ident!r} does not exist.")
            refused = step.add(ident, _update_op(call, ctx, acct, number, patch), step.tx)
        except SetError as err:
            refused = err
        if refused is not None:
            failed[ident] = refused
    for ident, result in await step.commit():
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
    step: Step[str] = Step(ctx)
    for ident in destroy:
        number = _email_number(ident, call.created_ids)
        if number is None or ctx.services.mail.email(ctx.access, acct, number) is None:
            failed[ident] = SetError("notFound", f"Email {ident!r} does not exist.")
            continue
        refused = step.add(ident, step.tx.destroy_email, acct, number)
        if refused is not None:
            failed[ident] = refused
    for ident, result in await step.commit():
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
        return number is not None and ctx.services.mail.email(ctx.access, acct, number) is not None

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
    inner = replace(call, name="Email/set", args=args)
    try:
        return (await email_set(inner))[0]
    except MethodError as err:
        return ("error", err.to_json())
