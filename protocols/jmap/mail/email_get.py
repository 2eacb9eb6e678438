"""Email/get (RFC 8621 §4.2) and Email/changes (§4.3)."""

from __future__ import annotations

from typing import Any

from protocols.jmap.context import JmapContext
from protocols.jmap.core import (
    MethodCall,
    MethodError,
    get_bool,
    get_uint,
    parse_changes,
    parse_get,
)
from protocols.jmap.core.errors import REQUEST_TOO_LARGE
from store.ids import blob_id, object_id, parse_object_id

from .email_query import email_state, parsed_message, type_changes
from .email_render import (
    DEFAULT_BODY_PROPERTIES,
    DEFAULT_EMAIL_PROPERTIES,
    EMAIL_PROPERTIES,
    BodyOptions,
    MessageSource,
    check_properties,
    render_email,
)

_BODY_ARGS = (
    "bodyProperties",
    "fetchTextBodyValues",
    "fetchHTMLBodyValues",
    "fetchAllBodyValues",
    "maxBodyValueBytes",
)


def body_options(ctx: JmapContext, extra: dict[str, Any]) -> BodyOptions:
    """The §4.2 body arguments (shared with Email/parse, §4.9)."""
    props = DEFAULT_BODY_PROPERTIES
    if extra.get("bodyProperties") is not None:
        value = extra["bodyProperties"]
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise MethodError("invalidArguments", "'bodyProperties' must be an array of strings.")
        props = tuple(dict.fromkeys(value))

    def flag(name: str) -> bool:
        value = extra.get(name)
        return False if value is None else get_bool(value, name)

    max_bytes = 0
    if extra.get("maxBodyValueBytes") is not None:
        # §4.2: "MUST be a positive integer"; 0 is refused like a negative value.
        max_bytes = get_uint(extra["maxBodyValueBytes"], "maxBodyValueBytes", positive=True)
    cap = ctx.services.limits.max_body_value_bytes
    if cap and (max_bytes == 0 or max_bytes > cap):
        max_bytes = cap
    return BodyOptions.create(
        props,
        fetch_text=flag("fetchTextBodyValues"),
        fetch_html=flag("fetchHTMLBodyValues"),
        fetch_all=flag("fetchAllBodyValues"),
        max_bytes=max_bytes,
    )


async def email_get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx: JmapContext = call.context
    limits = ctx.services.limits
    args = parse_get(
        call.args,
        max_objects=limits.max_objects_in_get,
        created_ids=call.created_ids,
        extra=_BODY_ARGS,
    )
    acct = ctx.account(args.account_id)
    store = ctx.store
    properties = args.properties if args.properties is not None else DEFAULT_EMAIL_PROPERTIES
    check_properties(properties, EMAIL_PROPERTIES)
    # §5.1: "id" is always returned, whether requested or not.
    if "id" not in properties:
        properties = ("id", *properties)
    body = body_options(ctx, dict(args.extra))
    state = email_state(store, acct)
    if args.ids is None:
        account = store.account(acct)
        count = account.email_count if account is not None else 0
        if count > limits.max_objects_in_get:
            raise MethodError(
                REQUEST_TOO_LARGE,
                f"The account has {count} emails; maxObjectsInGet is {limits.max_objects_in_get}.",
            )
        wanted = [f"e{em.id}" for em in store.emails(acct)]
    else:
        wanted = list(args.ids)
    found: list[dict[str, Any]] = []
    not_found: list[str] = []
    for ident in wanted:
        eid = parse_object_id("email", ident)
        if eid is not None and object_id("email", eid) != ident:
            eid = None  # "e007" is not the id of email 7
        email = store.email(acct, eid) if eid is not None else None
        parsed = parsed_message(store, acct, eid) if email is not None and eid else None
        if email is None or parsed is None:
            not_found.append(ident)
            continue
        sha = email.blob

        def load(sha: bytes = sha) -> bytes:
            data = store.blob(sha)
            if data is None:
                raise MethodError("serverFail", "A message body is missing.")
            return data

        src = MessageSource(parsed, load, blob_id(sha), email)
        found.append(render_email(src, properties, body))
    return [
        (
            "Email/get",
            {
                "accountId": args.account_id,
                "state": str(state),
                "list": found,
                "notFound": not_found,
            },
        )
    ]


async def email_changes(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx: JmapContext = call.context
    args = parse_changes(call.args)
    acct = ctx.account(args.account_id)
    changes = type_changes(ctx, acct, "Email", "email", args)
    return [("Email/changes", changes.to_json(args.account_id))]
