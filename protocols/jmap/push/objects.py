"""JMAP push objects (RFC 8620 §7): StateChange, PushVerification, PushSubscription and its
/get and /set methods, plus the EventSource (§7.3) and WebSocket push (RFC 8887 §4.3.5) framing.

Pure: no I/O.  Sending a PushVerification or a StateChange to a subscription's URL is the
application's job; it learns about new subscriptions through :class:`PushHooks`.

PushSubscriptions belong to the authenticated user, not to an account (§7.2), so they have no
``accountId``; they are generic objects of the mail service (``MailTransaction.set_object``)
in the user's own account (the token's first account).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import urlsplit

from protocols.mail import AccessToken, MailService
from store import Store
from store.errors import MailError
from store.ids import object_id, parse_object_id

from ..context import JmapContext
from ..core import (
    CORE,
    Dispatcher,
    MethodCall,
    MethodError,
    SetError,
    check_known,
    drop_unchanged,
    get_id,
    get_id_list,
    get_object,
    get_str_list,
    invalid_arguments,
    set_error_for,
    split_will_destroy,
)

TYPE_NAME: Final = "PushSubscription"
STATE_CHANGE: Final = "StateChange"
# Types that change in the store but carry no state a client could sync: never pushed.
# PushSubscription has no state at all (§7.2.1: its /get returns none).
UNPUSHED_TYPES: Final = frozenset({"imap", TYPE_NAME})
MAX_EXPIRY: Final = 7 * 86400  # the server MAY shorten the client's expires (§7.2)
PING_MIN: Final = 1
PING_MAX: Final = 3600  # §7.3: the maximum MUST NOT be below 300, the minimum not above 30
PROPERTIES: Final = ("id", "deviceClientId", "url", "keys", "verificationCode", "expires", "types")
# §7.2.1: url and keys "MUST NOT be returned"; asking for them is "forbidden".
PRIVATE_PROPERTIES: Final = frozenset({"url", "keys"})
DEFAULT_PROPERTIES: Final = tuple(p for p in PROPERTIES if p not in PRIVATE_PROPERTIES)
MUTABLE: Final = frozenset({"verificationCode", "expires", "types"})  # §7.2.2


# -- StateChange -------------------------------------------------------------------------------
def state_change(
    changed: Mapping[str, Mapping[str, str]], *, push_state: str | None = None
) -> dict[str, Any]:
    """A StateChange object (§7.1); ``push_state`` only over WebSocket (RFC 8887 §4.3.5)."""
    out: dict[str, Any] = {
        "@type": STATE_CHANGE,
        "changed": {a: dict(t) for a, t in changed.items()},
    }
    if push_state is not None:
        out["pushState"] = push_state
    return out


def filter_types(types: Iterable[str], wanted: frozenset[str] | None) -> list[str]:
    """The pushable ``types`` the client asked for (``wanted`` None: all), sorted.  Types
    named ``imap:...`` are IMAP's own state (subscriptions of deleted mailboxes), no JMAP
    data type either."""
    return sorted(
        t
        for t in types
        if t not in UNPUSHED_TYPES and not t.startswith("imap:") and (wanted is None or t in wanted)
    )


def type_states(
    store: Store, acct: int, types: Iterable[str], wanted: frozenset[str] | None
) -> dict[str, str]:
    """The current state string of each of the changed ``types`` that is pushable and wanted
    (§7.1 TypeState)."""
    state = store.account(acct)
    if state is None:
        return {}
    return {t: str(state.type_state(t)) for t in filter_types(types, wanted)}


def changed_states(
    store: Store,
    changes: Mapping[int, Iterable[str]],
    accounts: Sequence[int],
    wanted: frozenset[str] | None,
) -> dict[str, dict[str, str]]:
    """A StateChange's ``changed`` map (§7.1) for the accounts a token may see, in its order."""
    out: dict[str, dict[str, str]] = {}
    for acct in accounts:
        types = changes.get(acct)
        if types:
            states = type_states(store, acct, types, wanted)
            if states:
                out[object_id("account", acct)] = states
    return out


def push_state(store: Store, accounts: Sequence[int]) -> str:
    """Where a push stream of these accounts stands: their modseqs joined by ``.`` (one
    account: its modseq).  Sent as the EventSource event id (§7.3) and the WebSocket
    ``pushState`` (RFC 8887 §4.3.5); :func:`types_since` reads it back."""
    modseqs = []
    for acct in accounts:
        state = store.account(acct)
        modseqs.append(str(state.modseq if state is not None else 0))
    return ".".join(modseqs)


def types_since(store: Store, accounts: Sequence[int], since: str) -> dict[int, frozenset[str]]:
    """The types of each account whose state moved past the :func:`push_state` ``since`` (for
    a client resuming from it); nothing when ``since`` is not a state of these accounts."""
    parts = since.split(".")
    if len(parts) != len(accounts) or not all(p.isascii() and p.isdigit() for p in parts):
        return {}
    out: dict[int, frozenset[str]] = {}
    for acct, part in zip(accounts, parts, strict=True):
        state = store.account(acct)
        if state is not None:
            modseq = int(part)
            out[acct] = frozenset(t for t, m in state.type_states if m > modseq)
    return out


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- EventSource (§7.3) -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EventSourceParams:
    types: frozenset[str] | None  # None = "*"
    close_after_state: bool
    ping: int  # seconds, 0 = no pings


class BadParameter(ValueError):
    """A query parameter of the EventSource URL is invalid (answer 400)."""


def parse_event_source(query: Mapping[str, str]) -> EventSourceParams:
    """The ``types``, ``closeafter`` and ``ping`` parameters (§7.3).

    Every parameter is required by the URL template, but we default gracefully: ``types=*``,
    ``closeafter=no``, ``ping=0``.  The ping interval is clamped into [PING_MIN, PING_MAX], which
    §7.3 allows ("the server MAY modify the interval ... subject to a minimum and/or maximum").
    """
    raw_types = query.get("types", "*").strip()
    types: frozenset[str] | None = None
    if raw_types != "*":
        types = frozenset(t.strip() for t in raw_types.split(",") if t.strip())
    close = query.get("closeafter", "no")
    if close not in ("state", "no"):
        raise BadParameter("closeafter must be 'state' or 'no'")
    raw_ping = query.get("ping", "0")
    if not raw_ping.isascii() or not raw_ping.isdigit() or len(raw_ping) > 9:
        raise BadParameter("ping must be a non-negative integer")
    ping = int(raw_ping)
    if ping:
        ping = min(max(ping, PING_MIN), PING_MAX)
    return EventSourceParams(types, close == "state", ping)


def sse_event(event: str, data: Any, *, event_id: str | None = None) -> bytes:
    """One server-sent event (HTML Standard §9.2.5); our JSON never contains a newline."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {dumps(data)}")
    return ("\n".join(lines) + "\n\n").encode()


def ping_event(interval: int) -> bytes:
    """§7.3: a ``ping`` event without id, data ``{"interval": N}`` (the interval in use)."""
    return sse_event("ping", {"interval": interval})


# -- PushSubscription (§7.2) ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PushSubscription:
    id: int
    device_client_id: str
    url: str
    keys: dict[str, str] | None
    expires: int  # unix seconds
    types: tuple[str, ...] | None  # None = all types
    # The code the server sent in its PushVerification, and the one the client set.
    expected_code: str
    verification_code: str | None = None

    @property
    def verified(self) -> bool:
        return self.verification_code is not None and secrets.compare_digest(
            self.verification_code, self.expected_code
        )

    def wants(self, type_name: str) -> bool:
        return self.types is None or type_name in self.types

    def to_value(self) -> dict[str, Any]:
        """The value stored with the mail service (a generic object)."""
        return {
            "d": self.device_client_id,
            "u": self.url,
            "k": self.keys,
            "e": self.expires,
            "t": list(self.types) if self.types is not None else None,
            "x": self.expected_code,
            "v": self.verification_code,
        }

    @classmethod
    def from_value(cls, oid: int, d: Mapping[str, Any]) -> PushSubscription:
        """The subscription stored as ``d`` (:meth:`to_value`); KeyError/ValueError/TypeError
        when it is not one."""
        types = d.get("t")
        keys = d.get("k")
        return cls(
            id=oid,
            device_client_id=d["d"],
            url=d["u"],
            keys=dict(keys) if keys is not None else None,
            expires=int(d["e"]),
            types=tuple(types) if types is not None else None,
            expected_code=d["x"],
            verification_code=d.get("v"),
        )

    @property
    def public_id(self) -> str:
        return object_id("object", self.id)

    def shown(self, names: set[str]) -> dict[str, Any]:
        """Its ``names`` as /get shows them, for ``drop_unchanged`` (RFC 8620 §5.3).  Never
        ``url`` or ``keys``: /get does not return them (§7.2 "MUST NOT be returned"), so a
        client cannot have them to send back, and comparing them would tell a caller whether
        its guess of the stored URL is right; an update naming them is refused whatever the
        value."""
        return self.to_json(p for p in PROPERTIES if p in names and p not in PRIVATE_PROPERTIES)

    def to_json(self, properties: Iterable[str] = DEFAULT_PROPERTIES) -> dict[str, Any]:
        full: dict[str, Any] = {
            "id": self.public_id,
            "deviceClientId": self.device_client_id,
            "url": self.url,
            "keys": self.keys,
            "verificationCode": self.verification_code,
            "expires": utc_date(self.expires),
            "types": list(self.types) if self.types is not None else None,
        }
        out = {p: full[p] for p in properties}
        out["id"] = self.public_id  # §5.1: id is always returned
        return out


def push_verification(subscription_id: str, code: str) -> dict[str, Any]:
    """The object POSTed to a new subscription's URL (§7.2.2)."""
    return {
        "@type": "PushVerification",
        "pushSubscriptionId": subscription_id,
        "verificationCode": code,
    }


def utc_date(seconds: int) -> str:
    """A UTCDate (§1.4): ``2014-10-30T06:12:00Z``."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc_date(value: str) -> int | None:
    """Seconds of a UTCDate (the RFC 3339 ``date-time`` with ``Z``); None if not one."""
    if not isinstance(value, str) or not value.endswith("Z") or "T" not in value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError:
        return None
    return int(parsed.timestamp())


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive pushes, or None.  HTTPS only (§7.2: "the URL MUST use https");
    plain http is accepted for loopback IP literals only (local receivers, tests)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    del port
    if not parts.hostname:
        return "the URL needs a host"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http":
        try:
            if ipaddress.ip_address(parts.hostname).is_loopback:
                return None
        except ValueError:
            pass
        return "only https URLs (or http on a loopback address) are accepted"
    return "the URL must be https"


# -- /get and /set ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PushHooks:
    """How the methods reach the application: ``created`` is called (synchronously, from the
    request task) after a subscription is stored, to send its PushVerification."""

    created: Callable[[int, PushSubscription], None]
    max_expiry: int = MAX_EXPIRY


def _context(call: MethodCall) -> JmapContext:
    ctx = call.context
    if not isinstance(ctx, JmapContext):
        raise MethodError("serverFail", "No JMAP context for this request.")
    return ctx


def stored_values(mail: MailService, token: AccessToken, acct: int) -> list[tuple[int, Any]]:
    """The decoded values of the account's PushSubscription objects.  Versions before the mail
    service stored each one as JSON text; those are read as such (and rewritten in the current
    form by the next update), so a subscription made then keeps working."""
    try:
        return mail.objects(token, acct, TYPE_NAME)
    except ValueError:  # one of them is not in the mail service's encoding
        pass
    out: list[tuple[int, Any]] = []
    for oid, raw in mail.store.objects(acct, TYPE_NAME):
        try:
            value = mail.object(token, acct, TYPE_NAME, oid)
        except ValueError:
            value = json.loads(raw)
        if value is not None:
            out.append((oid, value))
    return out


def load_all(ctx: JmapContext) -> dict[int, PushSubscription]:
    """The user's subscriptions (in its own account, §7.2)."""
    token = ctx.access
    objects = stored_values(ctx.services.mail, token, token.account_id)
    return {oid: PushSubscription.from_value(oid, value) for oid, value in objects}


async def push_get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    """PushSubscription/get (§7.2.1): no accountId, no state, never url or keys."""
    ctx = _context(call)
    args = call.args
    check_known(args, {"ids", "properties"})
    properties: tuple[str, ...] = DEFAULT_PROPERTIES
    if args.get("properties") is not None:
        properties = tuple(dict.fromkeys(get_str_list(args["properties"], "properties")))
        if PRIVATE_PROPERTIES & set(properties):
            raise MethodError("forbidden", "url and keys are never returned.")
        bad = [p for p in properties if p not in PROPERTIES]
        if bad:
            raise invalid_arguments(f"Unknown properties: {', '.join(bad)}.", properties=bad)
    subs = load_all(ctx)
    found: list[dict[str, Any]] = []
    not_found: list[str] = []
    if args.get("ids") is None:
        found = [s.to_json(properties) for s in subs.values()]
    else:
        for text in dict.fromkeys(get_id_list(args["ids"], "ids")):
            oid = parse_object_id("object", text)
            sub = subs.get(oid) if oid is not None else None
            if sub is None:
                not_found.append(text)
            else:
                found.append(sub.to_json(properties))
    return [("PushSubscription/get", {"list": found, "notFound": not_found})]


def _check_types(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise SetError(
            "invalidProperties", "types must be an array of type names", properties=["types"]
        )
    return tuple(dict.fromkeys(value))


def _check_expires(value: Any, now: int, max_expiry: int) -> int:
    """The expiry to store: the client's, shortened to at most ``max_expiry`` from now."""
    limit = now + max_expiry
    if value is None:
        return limit
    seconds = parse_utc_date(value)
    if seconds is None:
        raise SetError("invalidProperties", "expires must be a UTCDate", properties=["expires"])
    if seconds <= now:
        raise SetError("invalidProperties", "expires is in the past", properties=["expires"])
    return min(seconds, limit)


def _check_keys(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    # RFC 8291 message encryption is not implemented: refuse rather than send in clear.
    raise SetError(
        "invalidProperties",
        "encrypted push (keys) is not supported by this server",
        properties=["keys"],
    )


def create_subscription(obj: Mapping[str, Any], *, now: int, max_expiry: int) -> PushSubscription:
    """Validates a create object (§7.2); the id is assigned later by the store."""
    known = {"deviceClientId", "url", "keys", "verificationCode", "expires", "types"}
    unknown = sorted(k for k in obj if k not in known)
    if unknown:
        raise SetError("invalidProperties", "unknown properties", properties=unknown)
    device = obj.get("deviceClientId")
    if not isinstance(device, str) or not device or len(device) > 255:
        raise SetError(
            "invalidProperties", "deviceClientId is required", properties=["deviceClientId"]
        )
    url = obj.get("url")
    problem = url_problem(url) if isinstance(url, str) else "url is required"
    if problem is not None:
        raise SetError("invalidProperties", problem, properties=["url"])
    assert isinstance(url, str)
    # §7.2: verificationCode "MUST be null (or omitted) when the subscription is created".
    if obj.get("verificationCode") is not None:
        raise SetError(
            "invalidProperties",
            "verificationCode must be null on create",
            properties=["verificationCode"],
        )
    return PushSubscription(
        id=0,
        device_client_id=device,
        url=url,
        keys=_check_keys(obj.get("keys")),
        expires=_check_expires(obj.get("expires"), now, max_expiry),
        types=_check_types(obj.get("types")),
        expected_code=secrets.token_urlsafe(24),
    )


def update_subscription(
    sub: PushSubscription, patch: Mapping[str, Any], *, now: int, max_expiry: int
) -> PushSubscription:
    """Applies a PatchObject: only verificationCode, expires and types may change."""
    immutable = [p for p in ("id", "deviceClientId", "url", "keys") if p in patch]
    unknown = [p for p in patch if p not in PROPERTIES]
    if immutable or unknown:
        raise SetError(
            "invalidProperties", "immutable or unknown properties", properties=immutable + unknown
        )
    if "verificationCode" in patch and patch["verificationCode"] != sub.verification_code:
        code = patch["verificationCode"]
        # §7.2.2: a code that does not match is rejected with invalidProperties.
        if not isinstance(code, str) or not secrets.compare_digest(code, sub.expected_code):
            raise SetError(
                "invalidProperties",
                "verificationCode does not match",
                properties=["verificationCode"],
            )
        sub = replace(sub, verification_code=code)
    if "expires" in patch:
        sub = replace(sub, expires=_check_expires(patch["expires"], now, max_expiry))
    if "types" in patch:
        sub = replace(sub, types=_check_types(patch["types"]))
    return sub


def register(dispatcher: Dispatcher, hooks: PushHooks) -> None:
    """Registers PushSubscription/get and /set (core capability)."""

    async def push_set(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
        ctx = _context(call)
        args = call.args
        check_known(args, {"create", "update", "destroy"})
        acct = ctx.access.account_id
        now = ctx.services.now()
        created: dict[str, Any] = {}
        updated: dict[str, Any] = {}
        destroyed: list[str] = []
        not_created: dict[str, Any] = {}
        not_updated: dict[str, Any] = {}
        not_destroyed: dict[str, Any] = {}
        create = get_object(args.get("create") or {}, "create")
        update = get_object(args.get("update") or {}, "update")
        destroy = get_id_list(args.get("destroy") or [], "destroy", allow_ref=True)
        total = len(create) + len(update) + len(destroy)
        if total > ctx.services.limits.max_objects_in_set:
            raise MethodError("requestTooLarge", "too many objects in one /set")
        for cid, obj in create.items():
            get_id(cid, "create")
            try:
                sub = create_subscription(
                    get_object(obj, "create"), now=now, max_expiry=hooks.max_expiry
                )
                result = await _write_one(ctx, 0, sub)
            except SetError as err:
                not_created[cid] = err.to_json()
                continue
            sub = replace(sub, id=int(result))
            call.created_ids[cid] = sub.public_id
            # §7.2.2: the server sets (and so returns) id and expires.
            created[cid] = {"id": sub.public_id, "expires": utc_date(sub.expires)}
            hooks.created(acct, sub)
        subs = load_all(ctx)
        # §5.3 willDestroy: an update of an object this request destroys is ignored.
        update, will_destroy = split_will_destroy(
            update, destroy, call.created_ids, lambda key: _resolve(key, call.created_ids) in subs
        )
        not_updated.update({k: e.to_json() for k, e in will_destroy.items()})
        for key, patch in update.items():
            target = _resolve(key, call.created_ids)
            current = subs.get(target) if target is not None else None
            if current is None:
                not_updated[key] = SetError("notFound").to_json()
                continue
            try:
                # RFC 8620 §5.3: immutable and server-set values may be sent back unchanged.
                patch = drop_unchanged(get_object(patch, "update"), MUTABLE, current.shown)
                new = update_subscription(current, patch, now=now, max_expiry=hooks.max_expiry)
                if new != current:  # sent back as is: no write, no new state
                    await _write_one(ctx, current.id, new)
            except SetError as err:
                not_updated[key] = err.to_json()
                continue
            changed = {}
            if "expires" in patch and new.expires != parse_utc_date(patch.get("expires") or ""):
                changed["expires"] = utc_date(new.expires)
            updated[key] = changed or None
        for key in destroy:
            target = _resolve(key, call.created_ids)
            if target is None or target not in subs:
                not_destroyed[key] = SetError("notFound").to_json()
                continue
            try:
                await _write_one(ctx, target, None)
            except SetError as err:
                not_destroyed[key] = err.to_json()
                continue
            destroyed.append(key)
        # §7.2.2: no accountId, oldState or newState.
        return [
            (
                "PushSubscription/set",
                {
                    "created": created or None,
                    "updated": updated or None,
                    "destroyed": destroyed or None,
                    "notCreated": not_created or None,
                    "notUpdated": not_updated or None,
                    "notDestroyed": not_destroyed or None,
                },
            )
        ]

    dispatcher.register("PushSubscription/get", CORE, push_get)
    dispatcher.register("PushSubscription/set", CORE, push_set)


async def _write_one(ctx: JmapContext, oid: int, sub: PushSubscription | None) -> Any:
    """Stores ``sub`` as subscription ``oid`` (0: a new one; the result is its id), or destroys
    it (``sub`` None), in its own transaction of the mail service; a refusal (rights, or the
    store's domain error) becomes the matching SetError (raised)."""
    token = ctx.access
    acct = token.account_id
    txn = ctx.services.mail.begin(token, ctx.services.now())
    try:
        if sub is None:
            ref = txn.destroy_object(acct, TYPE_NAME, oid)
        else:
            ref = txn.set_object(acct, TYPE_NAME, oid, sub.to_value())
    except MailError as err:
        raise set_error_for(err) from None
    result = (await txn.commit())[ref]
    if result.error is not None:
        raise set_error_for(result.error)
    return result.value


def _resolve(key: str, created_ids: Mapping[str, str]) -> int | None:
    if key.startswith("#"):
        resolved = created_ids.get(key[1:])
        if resolved is None:
            return None
        key = resolved
    return parse_object_id("object", key)
