"""Identity/get, /changes and /set (RFC 8621 §6).

Identities are generic store objects of type ``"Identity"``, written and read through the mail
service (``set_object`` / ``destroy_object`` / ``objects``), their value a map of the Identity's
properties; ids are ``store.ids.object_id("object", n)``.  Every
account has a default identity (its primary address, ``mayDelete`` false) created lazily by the
first Identity/get or EmailSubmission that needs one.  An identity's ``email`` must be one of
the principal's addresses (``forbiddenFrom`` otherwise, §6.3) and is immutable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from protocols.jmap.context import get_call
from protocols.mail import MailTransaction
from store.ids import parse_object_id

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
    split_will_destroy,
)
from .email_build import invalid
from .write import (
    Step,
    context_of,
    object_id_str,
    standard_changes,
    standard_get,
    type_state,
    write_one,
)

TYPE: Final = "Identity"
PROPERTIES: Final = (
    "id",
    "name",
    "email",
    "replyTo",
    "bcc",
    "textSignature",
    "htmlSignature",
    "mayDelete",
)
DEFAULTS: Final = {
    "name": "",
    "replyTo": None,
    "bcc": None,
    "textSignature": "",
    "htmlSignature": "",
}
SERVER_SET: Final = frozenset({"id", "mayDelete"})
MUTABLE: Final = frozenset(PROPERTIES) - SERVER_SET - {"email"}  # email is immutable (§6)


def load_identities(ctx: JmapContext, acct: int) -> dict[int, dict[str, Any]]:
    return {oid: dict(value) for oid, value in ctx.services.mail.objects(ctx.access, acct, TYPE)}


async def ensure_default(ctx: JmapContext, acct: int) -> dict[int, dict[str, Any]]:
    """The account's identities, creating the default one when there are none (§6)."""
    identities = load_identities(ctx, acct)
    if identities:
        return identities
    principal = ctx.store.principal(acct)
    if principal is None or not principal.emails:
        return identities
    value = {
        **DEFAULTS,
        "name": principal.description,
        "email": principal.emails[0],
        "mayDelete": False,
    }
    result = await write_one(ctx, MailTransaction.set_object, acct, TYPE, 0, value)
    if result.error is not None:
        raise result.error
    return load_identities(ctx, acct)


def allowed_addresses(ctx: JmapContext) -> set[str]:
    return {a.lower() for a in ctx.principal.emails}


def to_json(oid: int, value: dict[str, Any], properties: tuple[str, ...] | None) -> dict[str, Any]:
    full = {"id": object_id_str(oid), **DEFAULTS, **value}
    full.setdefault("mayDelete", True)
    return {p: full.get(p) for p in (properties or PROPERTIES)} | {"id": object_id_str(oid)}


def _address_list(value: Any, prop: str) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid(prop, f"{prop} must be an array of EmailAddress or null.")
    out = []
    for item in value:
        if (
            not isinstance(item, dict)
            or set(item) - {"name", "email"}
            or not isinstance(item.get("email"), str)
            or "@" not in item["email"]
            or not (item.get("name") is None or isinstance(item["name"], str))
        ):
            raise invalid(prop, f"{prop} must be an array of EmailAddress or null.")
        out.append({"name": item.get("name"), "email": item["email"]})
    return out


def validate(obj: dict[str, Any]) -> dict[str, Any]:
    """The stored value for an Identity object (all settable properties checked)."""
    for prop in ("name", "textSignature", "htmlSignature"):
        if not isinstance(obj.get(prop, ""), str):
            raise invalid(prop, f"{prop} must be a string.")
    if not isinstance(obj.get("email"), str):
        raise invalid("email", "email is required.")
    return {
        "name": obj.get("name", ""),
        "email": obj["email"],
        "replyTo": _address_list(obj.get("replyTo"), "replyTo"),
        "bcc": _address_list(obj.get("bcc"), "bcc"),
        "textSignature": obj.get("textSignature", ""),
        "htmlSignature": obj.get("htmlSignature", ""),
        "mayDelete": bool(obj.get("mayDelete", True)),
    }


def _shown(oid: int, value: dict[str, Any]) -> Callable[[set[str]], dict[str, Any]]:
    """The identity's properties as Identity/get shows them (for ``drop_unchanged``)."""
    return lambda names: to_json(oid, value, tuple(p for p in PROPERTIES if p in names))


def _number(ident: str, created_ids: dict[str, str]) -> int | None:
    resolved = created_ids.get(ident[1:]) if ident.startswith("#") else ident
    return parse_object_id("object", resolved) if resolved else None


async def identity_get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx, args, acct = get_call(call, PROPERTIES)
    identities = await ensure_default(ctx, acct)
    return standard_get(
        "Identity/get",
        args.account_id,
        type_state(ctx, acct, TYPE),
        identities,
        args.ids,
        lambda number, value: to_json(number, value, args.properties),
    )


async def identity_changes(call: MethodCall) -> list[Any]:
    return await standard_changes(call, TYPE, "Identity/changes")


async def identity_set(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = parse_set(call.args, max_objects=ctx.services.limits.max_objects_in_set)
    acct = ctx.account(args.account_id)
    identities = await ensure_default(ctx, acct)
    old_state = type_state(ctx, acct, TYPE)
    check_if_in_state(args.if_in_state, old_state)
    response = SetResponse(args.account_id, old_state, old_state)
    addresses = allowed_addresses(ctx)

    # create
    creates: Step[tuple[str, dict[str, Any]]] = Step(ctx)
    for cid, obj in args.create.items():
        try:
            bad = sorted(SERVER_SET & obj.keys())
            unknown = sorted(set(obj) - set(PROPERTIES))
            if bad or unknown:
                raise SetError(
                    "invalidProperties",
                    "Unknown or server-set properties.",
                    properties=bad + unknown,
                )
            value = validate({**obj, "mayDelete": True})
            if value["email"].lower() not in addresses:
                raise SetError("forbiddenFrom", "You may not send from this address (§6.3).")
        except SetError as err:
            response.not_created[cid] = err
            continue
        refused = creates.add((cid, value), creates.tx.set_object, acct, TYPE, 0, value)
        if refused is not None:
            response.not_created[cid] = refused
    for (cid, value), result in await creates.commit():
        if result.error is not None:
            response.not_created[cid] = set_error_for(result.error)
            continue
        call.created_ids[cid] = object_id_str(result.value)
        out: dict[str, Any] = {"id": object_id_str(result.value), "mayDelete": True}
        for prop, default in DEFAULTS.items():
            if prop not in args.create[cid]:
                out[prop] = default
        response.created[cid] = out
        identities[result.value] = value

    # update
    updates: Step[tuple[str, int, dict[str, Any]]] = Step(ctx)

    def destroyable(ident: str) -> bool:
        number = _number(ident, call.created_ids)
        return number in identities and bool(identities[number].get("mayDelete", True))

    update, response.not_updated = split_will_destroy(
        args.update, args.destroy, call.created_ids, destroyable
    )
    for ident, patch in update.items():
        number = _number(ident, call.created_ids)
        try:
            if number is None or number not in identities:
                raise SetError("notFound", f"Identity {ident!r} does not exist.")
            current = identities[number]
            patch = drop_unchanged(patch, MUTABLE, _shown(number, current))
            patched = apply_patch({**DEFAULTS, **current}, patch)
            for prop in set(patched) | set(current):
                if prop not in PROPERTIES:
                    raise invalid(prop, f"Unknown property {prop!r}.")
            if patched.get("email") != current.get("email"):
                raise invalid("email", "email is immutable (§6).")
            if patched.get("mayDelete") != current.get("mayDelete", True):
                raise invalid("mayDelete", "mayDelete is server-set.")
            if patched.pop("id", object_id_str(number)) != object_id_str(number):
                raise invalid("id", "id is immutable.")
            value = validate(patched)
        except SetError as err:
            response.not_updated[ident] = err
            continue
        if value == current:
            response.updated[ident] = None  # sent back as is: no write, no new state
            continue
        refused = updates.add(
            (ident, number, value), updates.tx.set_object, acct, TYPE, number, value
        )
        if refused is not None:
            response.not_updated[ident] = refused
    for (ident, number, value), result in await updates.commit():
        if result.error is not None:
            response.not_updated[ident] = set_error_for(result.error)
        else:
            response.updated[ident] = None
            identities[number] = value

    # destroy
    destroys: Step[str] = Step(ctx)
    for ident in args.destroy:
        number = _number(ident, call.created_ids)
        if number is None or number not in identities:
            response.not_destroyed[ident] = SetError("notFound", f"Identity {ident!r} not found.")
        elif not identities[number].get("mayDelete", True):
            response.not_destroyed[ident] = SetError(
                "forbidden", "This identity may not be deleted."
            )
        else:
            refused = destroys.add(ident, destroys.tx.destroy_object, acct, TYPE, number)
            if refused is not None:
                response.not_destroyed[ident] = refused
    for ident, result in await destroys.commit():
        if result.error is not None:
            response.not_destroyed[ident] = set_error_for(result.error)
        else:
            response.destroyed.append(ident)
    response.new_state = type_state(ctx, acct, TYPE)
    return [("Identity/set", response.to_json())]
