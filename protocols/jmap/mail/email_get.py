"""Email/get (RFC 8621 §4.2) and Email/changes (§4.3)."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any, Final

from protocols.jmap.context import JmapContext, get_call
from protocols.jmap.core import (
    MethodCall,
    MethodError,
    get_bool,
    get_uint,
    jsonio,
    parse_changes,
)
from protocols.jmap.core.errors import REQUEST_TOO_LARGE
from store import Store
from store.ids import blob_id, parse_object_id

from .account_index import EmailRow, account_index, parsed_message
from .email_render import (
    DEFAULT_BODY_PROPERTIES,
    DEFAULT_EMAIL_PROPERTIES,
    EMAIL_PROPERTIES,
    BodyOptions,
    MessageSource,
    PreEncoded,
    PreEncodedList,
    check_properties,
    render_email,
)
from .mail_changes import email_state, type_changes

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
    if "maxBodyValueBytes" in extra:
        # RFC 8621 §4.2: "maxBodyValueBytes: UnsignedInt (default: 0) ... If 0 (the default),
        # no truncation occurs." An explicit 0 is valid; null or a non-integer is not.
        max_bytes = get_uint(extra["maxBodyValueBytes"], "maxBodyValueBytes")
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
    ctx, args, acct = get_call(call, extra=_BODY_ARGS)
    limits = ctx.services.limits
    store = ctx.store
    properties = tuple(args.properties if args.properties is not None else DEFAULT_EMAIL_PROPERTIES)
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
    index = account_index(store, acct)
    # The token's view (who asks, with which rights) is part of every cache key below, so one
    # token is never answered from another's.
    shape = (acct, properties, body_key(body), ctx.view(acct))
    # The same ids with the same properties at the same index state (a client re-reading its
    # message list) give the same answer: kept until the next change to the account's emails.
    answer_key = ("Email/get", shape, tuple(wanted))
    answer = index.derived.get(answer_key)
    if answer is None:
        # Rights are per account today: one check per call, not one per email in the loop
        # (JmapContext.may_read); a token without the read right finds no email.
        if ctx.may_read(acct):
            answer = _get_many(ctx, acct, index.rows, wanted, shape, body)
        else:
            answer = (PreEncodedList(()), tuple(wanted))
        index.remember(answer_key, answer)
    found, not_found = answer  # found is shared by every answer from the cache: read-only
    return [
        (
            "Email/get",
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
    rows: dict[int, EmailRow],
    wanted: list[str],
    shape: Shape,
    body: BodyOptions,
) -> tuple[PreEncodedList, tuple[str, ...]]:
    properties = shape[1]
    cache = render_cache(ctx.store)
    found: list[PreEncoded] = []
    not_found: list[str] = []
    for ident in wanted:
        eid = parse_object_id("email", ident)  # only the canonical form: "e007" is not 7
        row = rows.get(eid) if eid is not None else None
        if row is not None:
            hit = cache.get(row, shape)
            if hit is not None:
                found.append(hit)
                continue
        rendered = render_stored(ctx, acct, eid, properties, body)
        if rendered is None:
            not_found.append(ident)
            continue
        encoded = PreEncoded(rendered, jsonio.dumps(rendered))
        if row is not None:
            cache.put(row, shape, encoded)
        found.append(encoded)
    return PreEncodedList(found), tuple(not_found)


def render_stored(
    ctx: JmapContext, acct: int, eid: int | None, properties: tuple[str, ...], body: BodyOptions
) -> dict[str, Any] | None:
    """Email ``eid`` rendered from its record and stored parse; None when it does not exist.
    The caller has checked the token once for the call (``JmapContext.may_read``, Email/get) or
    read the email through the service (Email/set): this is Email/get's per-email loop."""
    store = ctx.store
    email = store.email(acct, eid) if eid is not None else None
    parsed = parsed_message(store, acct, eid) if email is not None and eid else None
    if email is None or parsed is None:
        return None
    sha = email.blob

    def load() -> bytes:
        data = store.blob(sha)
        if data is None:
            raise MethodError("serverFail", "A message body is missing.")
        return data

    return render_email(MessageSource(parsed, load, blob_id(sha), email), properties, body)


# -- the render cache -----------------------------------------------------------------------
# An Email object is a pure function of (a) the email's mutable fields, all of which are in its
# account-index row (thread, size, receivedAt, keywords, mailbox ids, blob), (b) its immutable
# blob and stored parse, and (c) the requested properties and body options.  So a rendering
# keyed by (row, account, properties, body options, view) stays exact for as long as the row is
# current: any change to the email yields a different row and misses.
MAX_RENDER_CACHE_BYTES: Final = 32 * 1024 * 1024
MAX_RENDER_ENTRY_BYTES: Final = 64 * 1024

# (account, properties, body options, the token's view: JmapContext.view)
Shape = tuple[Any, ...]


def body_key(body: BodyOptions) -> tuple[Any, ...]:
    return (body.properties, body.fetch_text, body.fetch_html, body.fetch_all, body.max_bytes)


class RenderCache:
    """Least-recently-used rendered Emails with their JSON, bounded in encoded bytes."""

    def __init__(self, max_bytes: int = MAX_RENDER_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[tuple[EmailRow, Shape], PreEncoded] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, row: EmailRow, shape: Shape) -> PreEncoded | None:
        key = (row, shape)
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
        return hit

    def put(self, row: EmailRow, shape: Shape, value: PreEncoded) -> None:
        cost = len(value.encoded)
        if cost > MAX_RENDER_ENTRY_BYTES or (row, shape) in self._entries:
            return
        self._entries[(row, shape)] = value
        self.size += cost
        while self.size > self.max_bytes and self._entries:
            _, old = self._entries.popitem(last=False)
            self.size -= len(old.encoded)


_CACHES: weakref.WeakKeyDictionary[Store, RenderCache] = weakref.WeakKeyDictionary()


def render_cache(store: Store) -> RenderCache:
    cache = _CACHES.get(store)
    if cache is None:
        cache = _CACHES[store] = RenderCache()
    return cache


async def email_changes(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx: JmapContext = call.context
    args = parse_changes(call.args)
    acct = ctx.account(args.account_id)
    changes = type_changes(ctx, acct, "Email", "email", args)
    return [("Email/changes", changes.to_json(args.account_id))]
