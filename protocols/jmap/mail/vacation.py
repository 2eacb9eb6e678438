"""VacationResponse/get and /set (RFC 8621 §8).

There is exactly one VacationResponse per account, with id ``"singleton"``; it is stored as a
generic object of type ``"VacationResponse"`` (created by its first update), written and read
through the mail service.  Create and destroy
are refused with the ``singleton`` SetError (§8: "cannot be created or destroyed").
"""

from __future__ import annotations

from typing import Any, Final

from protocols.jmap.context import get_call
from protocols.mail import MailTransaction

from ..context import JmapContext
from ..core import (
    MethodCall,
    SetError,
    SetResponse,
    apply_patch,
    check_if_in_state,
    drop_unchanged,
    parse_set,
    set_error_for,
)
from .email_build import invalid, utc_date
from .write import context_of, type_state, write_one

TYPE: Final = "VacationResponse"
SINGLETON: Final = "singleton"
PROPERTIES: Final = (
    "id",
    "isEnabled",
    "fromDate",
    "toDate",
    "subject",
    "textBody",
    "htmlBody",
)
DEFAULTS: Final = {
    "isEnabled": False,
    "fromDate": None,
    "toDate": None,
    "subject": None,
    "textBody": None,
    "htmlBody": None,
}


def load(ctx: JmapContext, acct: int) -> tuple[int, dict[str, Any]]:
    """(stored object id or 0, the VacationResponse's properties without id)."""
    stored = ctx.services.mail.objects(ctx.access, acct, TYPE)
    if not stored:
        return 0, dict(DEFAULTS)
    oid, value = stored[0]
    return oid, {**DEFAULTS, **dict(value)}


def _validate(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prop, value in obj.items():
        if prop == "id":
            if value != SINGLETON:
                raise invalid("id", "id is immutable.")
            continue
        if prop not in DEFAULTS:
            raise invalid(prop, f"Unknown property {prop!r}.")
        if prop == "isEnabled":
            if not isinstance(value, bool):
                raise invalid(prop, "isEnabled must be a boolean.")
        elif prop in ("fromDate", "toDate"):
            if value is not None and (utc_date(value) is None or not value.endswith("Z")):
                raise invalid(prop, f"{prop} must be a UTCDate or null.")
        elif value is not None and not isinstance(value, str):
            raise invalid(prop, f"{prop} must be a string or null.")
        out[prop] = value
    return out


async def vacation_get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx, args, acct = get_call(call, PROPERTIES)
    _, value = load(ctx, acct)
    full = {"id": SINGLETON, **value}
    obj = {p: full[p] for p in (args.properties or PROPERTIES)} | {"id": SINGLETON}
    ids = args.ids if args.ids is not None else (SINGLETON,)
    return [
        (
            "VacationResponse/get",
            {
                "accountId": args.account_id,
                "state": type_state(ctx, acct, TYPE),
                "list": [obj] if SINGLETON in ids else [],
                "notFound": [i for i in ids if i != SINGLETON],
            },
        )
    ]


async def vacation_set(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = parse_set(call.args, max_objects=ctx.services.limits.max_objects_in_set)
    acct = ctx.account(args.account_id)
    old_state = type_state(ctx, acct, TYPE)
    check_if_in_state(args.if_in_state, old_state)
    response = SetResponse(args.account_id, old_state, old_state)
    for cid in args.create:
        response.not_created[cid] = SetError("singleton", "The VacationResponse is a singleton.")
    for ident in args.destroy:
        response.not_destroyed[ident] = SetError(
            "singleton", "The VacationResponse cannot be destroyed."
        )
    for ident, patch in args.update.items():
        if ident != SINGLETON:
            response.not_updated[ident] = SetError("notFound", "Only 'singleton' exists.")
            continue
        oid, current = load(ctx, acct)
        # RFC 8620 §5.3: the server-set id may be sent back unchanged.
        patch = drop_unchanged(patch, DEFAULTS, lambda names: {"id": SINGLETON})
        try:
            value = _validate(apply_patch({"id": SINGLETON, **current}, patch, defaults=DEFAULTS))
        except SetError as err:
            response.not_updated[ident] = err
            continue
        if value == current:
            response.updated[ident] = None  # nothing changed: no write, no new state
            continue
        result = await write_one(ctx, MailTransaction.set_object, acct, TYPE, oid, value)
        if result.error is not None:
            response.not_updated[ident] = set_error_for(result.error)
        else:
            response.updated[ident] = None
    response.new_state = type_state(ctx, acct, TYPE)
    return [("VacationResponse/set", response.to_json())]
