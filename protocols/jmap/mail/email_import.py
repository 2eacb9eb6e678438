"""Email/import (RFC 8621 §4.8), Email/copy (§4.7, RFC 8620 §5.4) and Email/parse (§4.9).

Import stores a blob the account may read (an upload, a part of one of its emails, or a
``#creationId`` of a Blob/upload) as a new email: the message is parsed once and stored through
the mail service (``import_message``) like every other arrival.  Copy re-links an existing
email's blob and stored metadata into another account (``copy_email``, no re-parsing), with
the token's rights checked in both accounts; RFC 8620 §5.4 requires ``accountId``
to differ from ``fromAccountId``, and a user may so far only reach their own account, so the
method answers ``fromAccountNotFound``/``accountNotFound``/``invalidArguments`` until shared
accounts exist — :func:`copy_emails` does the work between any two accounts.  Parse renders a
blob as an Email without storing anything, with the read side's :mod:`.email_render`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from protocols.mail import NewMessage
from protocols.mime import canonical_line_ends, parse_message
from store.ids import object_id, parse_object_id

from ..context import JmapContext
from ..core import (
    InvalidProperties,
    MethodCall,
    MethodError,
    SetError,
    check_if_in_state,
    check_known,
    get_bool,
    get_id,
    get_id_list,
    get_str,
    get_str_list,
    invalid_arguments,
    set_error_for,
)
from .blob import blob_reader, resolve_blob_ref
from .email_build import invalid
from .email_get import body_options
from .email_render import (
    BODY_PART_PROPERTIES,
    DEFAULT_EMAIL_PROPERTIES,
    EMAIL_PROPERTIES,
    MessageSource,
    check_properties,
    render_email,
)
from .email_set import (
    created_json,
    implicit_email_set,
    parse_keywords,
    parse_mailbox_ids,
    parse_placement,
    parse_received_at,
    store_messages,
)
from .write import Step, context_of, type_state

IMPORT_PROPERTIES: Final = frozenset({"blobId", "mailboxIds", "keywords", "receivedAt"})
COPY_PROPERTIES: Final = frozenset({"id", "mailboxIds", "keywords", "receivedAt"})
# §4.9: Email/parse's default "properties": Email/get's (§4.2) without what only a stored
# email has.
PARSE_DEFAULT_PROPERTIES: Final = tuple(
    p
    for p in DEFAULT_EMAIL_PROPERTIES
    if p not in {"id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt"}
)


def _state_of(ctx: JmapContext, acct: int) -> str:
    return type_state(ctx, acct, "Email")


# -- Email/import (§4.8) -------------------------------------------------------------------------
def _import_one(call: MethodCall, ctx: JmapContext, acct: int, obj: Any, now: int) -> NewMessage:
    if not isinstance(obj, dict):
        raise invalid("blobId", "An EmailImport must be an object.")
    # RFC 8621 §4.8: "If the blobId, mailboxIds, or keywords properties are invalid (e.g.,
    # missing, wrong type, id not found), the server MUST reject the import with an
    # invalidProperties SetError"; RFC 8620 §5.3: it lists all of them.
    problems = InvalidProperties()
    for prop in sorted(set(obj) - IMPORT_PROPERTIES):
        problems.add(prop, f"{prop!r} is not an EmailImport property.")
    ident = obj.get("blobId")
    raw: bytes | None = None
    if not isinstance(ident, str):
        problems.add("blobId", "blobId is required.")
    else:
        raw = blob_reader(ctx, acct, call.created_ids)(ident)
        if raw is None:
            problems.add("blobId", f"Blob {ident!r} does not exist or is not accessible.")
    mailbox_ids, keywords, received_at = parse_placement(call, ctx, acct, obj, now, problems)
    problems.check()
    assert raw is not None
    raw = canonical_line_ends(raw)  # RFC 5322 §2.3: stored with CRLF line ends
    parsed = parse_message(raw)
    if not raw.strip() or not parsed.headers:
        # §4.8: a blob that is not a valid RFC 5322 message may be repaired or "the server MAY
        # reject the import with an invalidEmail SetError"; nothing here can be repaired.
        raise SetError(
            "invalidEmail", "The blob is not an RFC 5322 message.", properties=["blobId"]
        )
    return NewMessage(raw, parsed, mailbox_ids, keywords, received_at)


async def email_import(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = call.args
    check_known(args, {"accountId", "ifInState", "emails"})
    acct = ctx.account(args.get("accountId"))
    emails = args.get("emails")
    if not isinstance(emails, dict):
        raise invalid_arguments("emails must be an object.", arguments=["emails"])
    if len(emails) > ctx.services.limits.max_objects_in_set:
        raise MethodError("requestTooLarge", "Too many emails in one call.")
    for cid in emails:
        get_id(cid, "emails")
    old_state = _state_of(ctx, acct)
    if args.get("ifInState") is not None:
        check_if_in_state(get_str(args["ifInState"], "ifInState"), old_state)
    now = ctx.services.now()
    not_created: dict[str, SetError] = {}
    news: list[tuple[str, NewMessage]] = []
    for cid, obj in emails.items():
        try:
            news.append((cid, _import_one(call, ctx, acct, obj, now)))
        except SetError as err:
            not_created[cid] = err
    created = await store_messages(call, ctx, acct, news, now, not_created)
    return [
        (
            "Email/import",
            {
                "accountId": args["accountId"],
                "oldState": old_state,
                "newState": _state_of(ctx, acct),
                "created": created or None,
                "notCreated": {k: e.to_json() for k, e in not_created.items()} or None,
            },
        )
    ]


# -- Email/copy (§4.7) ---------------------------------------------------------------------------
async def copy_emails(
    call: MethodCall,
    ctx: JmapContext,
    from_acct: int,
    to_acct: int,
    create: Mapping[str, Any],
) -> tuple[dict[str, dict[str, Any]], dict[str, SetError], dict[str, str]]:
    """Copies emails of ``from_acct`` into ``to_acct``: (created, notCreated, creation id →
    original id of each success).  Properties not given are copied from the original
    (RFC 8620 §5.4)."""
    created: dict[str, dict[str, Any]] = {}
    failed: dict[str, SetError] = {}
    originals: dict[str, str] = {}
    now = ctx.services.now()
    mail, token = ctx.services.mail, ctx.access
    step: Step[tuple[str, str, bytes, int]] = Step(ctx, now)
    for cid, obj in create.items():
        try:
            if not isinstance(obj, dict):
                raise invalid("id", "A copy must be an object.")
            unknown = sorted(set(obj) - COPY_PROPERTIES)
            if unknown:
                raise SetError(
                    "invalidProperties",
                    "Only id, mailboxIds, keywords and receivedAt may be set.",
                    properties=unknown,
                )
            ident = obj.get("id")
            resolved = resolve_blob_ref(ident, call.created_ids) if isinstance(ident, str) else None
            number = parse_object_id("email", resolved) if resolved else None
            original = mail.email(token, from_acct, number) if number is not None else None
            metadata = mail.metadata(token, from_acct, number) if number is not None else None
            if original is None or metadata is None or not isinstance(ident, str):
                raise SetError("notFound", f"Email {ident!r} does not exist.")
            if "mailboxIds" not in obj:
                raise invalid("mailboxIds", "mailboxIds is required.")
            mailbox_ids = parse_mailbox_ids(ctx, to_acct, obj["mailboxIds"], call.created_ids)
            keywords = parse_keywords(obj["keywords"]) if "keywords" in obj else original.keywords
            received_at = (
                parse_received_at(obj["receivedAt"], now)
                if "receivedAt" in obj
                else original.received_at
            )
        except SetError as err:
            failed[cid] = err
            continue
        key = (cid, object_id("email", original.id), original.blob, original.size)
        refused = step.add(
            key,
            step.tx.copy_email,
            from_acct,
            original.id,
            to_acct,
            mailbox_ids,
            keywords=keywords,
            received_at=received_at,
        )
        if refused is not None:
            failed[cid] = refused
    for (cid, original_id, sha, size), result in await step.commit():
        if result.error is not None:
            failed[cid] = set_error_for(result.error)
            continue
        call.created_ids[cid] = object_id("email", result.value.email_id)
        created[cid] = created_json(result.value.email_id, result.value.thread_id, sha, size)
        originals[cid] = original_id
    return created, failed, originals


async def email_copy(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = call.args
    check_known(
        args,
        {
            "fromAccountId",
            "ifFromInState",
            "accountId",
            "ifInState",
            "create",
            "onSuccessDestroyOriginal",
            "destroyFromIfInState",
        },
    )
    try:
        from_acct = ctx.account(args.get("fromAccountId"))
    except MethodError as err:
        if err.type == "accountNotFound":
            raise MethodError("fromAccountNotFound") from None
        raise
    to_acct = ctx.account(args.get("accountId"))
    if from_acct == to_acct:
        # RFC 8620 §5.4 accountId: "This MUST be different to the fromAccountId."
        raise invalid_arguments(
            "accountId must differ from fromAccountId (RFC 8620 §5.4).", arguments=["accountId"]
        )
    create = args.get("create")
    if not isinstance(create, dict):
        raise invalid_arguments("create must be an object.", arguments=["create"])
    for cid in create:
        get_id(cid, "create")
    destroy_original = get_bool(
        args.get("onSuccessDestroyOriginal") or False, "onSuccessDestroyOriginal"
    )
    if args.get("ifFromInState") is not None:
        check_if_in_state(
            get_str(args["ifFromInState"], "ifFromInState"), _state_of(ctx, from_acct)
        )
    old_state = _state_of(ctx, to_acct)
    if args.get("ifInState") is not None:
        check_if_in_state(get_str(args["ifInState"], "ifInState"), old_state)
    created, failed, originals = await copy_emails(call, ctx, from_acct, to_acct, create)
    responses: list[tuple[str, dict[str, Any]]] = [
        (
            "Email/copy",
            {
                "fromAccountId": args["fromAccountId"],
                "accountId": args["accountId"],
                "oldState": old_state,
                "newState": _state_of(ctx, to_acct),
                "created": created or None,
                "notCreated": {k: e.to_json() for k, e in failed.items()} or None,
            },
        )
    ]
    if destroy_original and originals:
        set_args: dict[str, Any] = {
            "accountId": args["fromAccountId"],
            "destroy": list(originals.values()),
        }
        if args.get("destroyFromIfInState") is not None:
            set_args["ifInState"] = args["destroyFromIfInState"]
        responses.append(await implicit_email_set(call, set_args))
    return responses


# -- Email/parse (§4.9) --------------------------------------------------------------------------
async def email_parse(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = call.args
    check_known(
        args,
        {
            "accountId",
            "blobIds",
            "properties",
            "bodyProperties",
            "fetchTextBodyValues",
            "fetchHTMLBodyValues",
            "fetchAllBodyValues",
            "maxBodyValueBytes",
        },
    )
    acct = ctx.account(args.get("accountId"))
    if args.get("blobIds") is None:
        raise invalid_arguments("blobIds is required.", arguments=["blobIds"])
    blob_ids = tuple(dict.fromkeys(get_id_list(args["blobIds"], "blobIds", allow_ref=True)))
    if len(blob_ids) > ctx.services.limits.max_objects_in_get:
        raise MethodError("requestTooLarge", "Too many blobIds.")
    properties: tuple[str, ...] = PARSE_DEFAULT_PROPERTIES
    if args.get("properties") is not None:
        properties = tuple(dict.fromkeys(get_str_list(args["properties"], "properties")))
        check_properties(properties, EMAIL_PROPERTIES)
    if args.get("bodyProperties") is not None:
        body_properties = tuple(get_str_list(args["bodyProperties"], "bodyProperties"))
        check_properties(body_properties, BODY_PART_PROPERTIES, argument="bodyProperties")
    # The same §4.2 body arguments as Email/get, with the same server cap.
    body = body_options(ctx, args)
    read = blob_reader(ctx, acct, call.created_ids)
    parsed_out: dict[str, Any] = {}
    not_parsable: list[str] = []
    not_found: list[str] = []
    for ident in blob_ids:
        raw = read(ident)
        if raw is None:
            not_found.append(ident)
            continue
        parsed = parse_message(raw)
        if not parsed.headers:
            not_parsable.append(ident)
            continue
        real = resolve_blob_ref(ident, call.created_ids) or ident
        parsed_out[ident] = render_email(MessageSource(parsed, raw, real), properties, body)
    return [
        (
            "Email/parse",
            {
                "accountId": args["accountId"],
                "parsed": parsed_out or None,
                "notParsable": not_parsable or None,
                "notFound": not_found or None,
            },
        )
    ]
