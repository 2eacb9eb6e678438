"""EmailSubmission/get, /changes, /query, /queryChanges and /set (RFC 8621 §7).

A submission sends a stored email at once through ``services.submit``, which delivers to the
accounts of this server by the delivery path LMTP uses, so its ``undoStatus`` is always
``"final"`` and ``deliveryStatus`` records each recipient's real outcome.  There is no outbound
relay yet: a submission with any recipient outside this server's domains is refused whole with
``forbiddenToSend`` (§7.5) rather than reported as sent and lost; none of its recipients gets
it.  Submissions are generic store objects of type ``"EmailSubmission"``, written and read
through the mail service; a failed recipient's ``smtpReply`` is the reply LMTP gives for the
same error (``protocols.mail.smtp_status``, the one mapping).

The envelope, when not given, is derived as §7 says: ``mailFrom`` from Sender, else From, else
the identity's address; ``rcptTo`` the de-duplicated addresses of To, Cc and Bcc.  Bcc header
fields are removed from the copy that is sent (§7: "the server MUST remove any Bcc header
field").  ``onSuccessUpdateEmail`` / ``onSuccessDestroyEmail`` run as an implicit Email/set
whose response follows the EmailSubmission/set response (§7.5).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from protocols.jmap.context import get_call
from protocols.mail import DELIVERED, MailTransaction, decode_metadata, smtp_status
from protocols.mime import ParsedMessage
from store.ids import object_id, parse_object_id

from ..context import JmapContext, SubmissionRecipient
from ..core import (
    AddedItem,
    Comparator,
    Filter,
    FilterCondition,
    FilterOperator,
    MethodCall,
    MethodError,
    QueryChanges,
    SetError,
    SetResponse,
    check_if_in_state,
    compute_changes,
    drop_unchanged,
    get_object,
    parse_query,
    parse_query_changes,
    parse_set,
    parse_state,
    patch_paths,
    query_response,
    set_error_for,
    split_will_destroy,
)
from .email_build import invalid, utc_date
from .email_set import implicit_email_set
from .identity import ensure_default
from .write import (
    Step,
    context_of,
    object_id_str,
    standard_changes,
    standard_get,
    type_state,
    write_one,
)

TYPE: Final = "EmailSubmission"
PROPERTIES: Final = (
    "id",
    "identityId",
    "emailId",
    "threadId",
    "envelope",
    "sendAt",
    "undoStatus",
    "deliveryStatus",
    "dsnBlobIds",
    "mdnBlobIds",
)
MAX_RECIPIENTS: Final = 100
FILTERS: Final = frozenset(
    {"identityIds", "emailIds", "threadIds", "undoStatus", "before", "after"}
)
SORTS: Final = frozenset({"emailId", "threadId", "sentAt", "sendAt"})
_ADDRESS: Final = re.compile(r"[^\s<>@,;\"()\\]+@[^\s<>@,;\"()\\]+")
_DELIVERED: Final = {"delivered": "yes", "failed": "no"}


def _date(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load(ctx: JmapContext, acct: int) -> dict[int, dict[str, Any]]:
    return {oid: dict(v) for oid, v in ctx.services.mail.objects(ctx.access, acct, TYPE)}


def _json(oid: int, value: Mapping[str, Any], properties: tuple[str, ...] | None) -> dict[str, Any]:
    full = {**value, "id": object_id_str(oid), "sendAt": _date(value["sendAt"])}
    full["dsnBlobIds"] = list(full.get("dsnBlobIds", ()))
    full["mdnBlobIds"] = list(full.get("mdnBlobIds", ()))
    return {p: full.get(p) for p in (properties or PROPERTIES)} | {"id": object_id_str(oid)}


# -- /get, /changes ----------------------------------------------------------------------------
async def submission_get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx, args, acct = get_call(call, PROPERTIES)
    return standard_get(
        "EmailSubmission/get",
        args.account_id,
        type_state(ctx, acct, TYPE),
        _load(ctx, acct),
        args.ids,
        lambda number, value: _json(number, value, args.properties),
    )


async def submission_changes(call: MethodCall) -> list[Any]:
    return await standard_changes(call, TYPE, "EmailSubmission/changes")


# -- /query, /queryChanges (§7.3, §7.4) ----------------------------------------------------------
def _matches(value: Mapping[str, Any], flt: Filter | None) -> bool:
    if flt is None:
        return True
    if isinstance(flt, FilterOperator):
        results = (_matches(value, c) for c in flt.conditions)
        if flt.operator == "AND":
            return all(results)
        if flt.operator == "OR":
            return any(results)
        return not any(results)
    return _condition(value, flt)


def _condition(value: Mapping[str, Any], cond: FilterCondition) -> bool:
    for key, wanted in cond.fields.items():
        if key in ("identityIds", "emailIds", "threadIds"):
            prop = key[:-1]
            if value.get(prop) not in wanted:
                return False
        elif key == "undoStatus":
            if value.get("undoStatus") != wanted:
                return False
        elif key == "before":
            if not value["sendAt"] < wanted:
                return False
        elif key == "after" and not value["sendAt"] >= wanted:
            return False
    return True


def _check_filter(flt: Filter | None) -> Filter | None:
    """Validates conditions; ``before``/``after`` become unix seconds."""
    if flt is None:
        return None
    if isinstance(flt, FilterOperator):
        return FilterOperator(flt.operator, tuple(_check_filter(c) for c in flt.conditions))  # type: ignore[misc]
    fields: dict[str, Any] = {}
    for key, wanted in flt.fields.items():
        if key not in FILTERS:
            raise MethodError("unsupportedFilter", f"Unknown filter property {key!r}.")
        if key in ("identityIds", "emailIds", "threadIds"):
            if not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted):
                raise MethodError("invalidArguments", f"{key} must be an array of Ids.")
            fields[key] = set(wanted)
        elif key == "undoStatus":
            if wanted not in ("pending", "final", "canceled"):
                raise MethodError("invalidArguments", "undoStatus is pending, final or canceled.")
            fields[key] = wanted
        else:
            parsed = utc_date(wanted)
            if parsed is None:
                raise MethodError("invalidArguments", f"{key} must be a UTCDate.")
            fields[key] = int(parsed.timestamp())
    return FilterCondition(fields)


def _results(
    stored: Mapping[int, dict[str, Any]], flt: Filter | None, sort: tuple[Comparator, ...] | None
) -> list[str]:
    items = [(oid, v) for oid, v in sorted(stored.items()) if _matches(v, flt)]
    for comparator in reversed(sort or ()):
        if comparator.property not in SORTS:
            raise MethodError("unsupportedSort", f"Cannot sort by {comparator.property!r}.")
        prop = "sendAt" if comparator.property in ("sentAt", "sendAt") else comparator.property

        def key(item: tuple[int, dict[str, Any]], prop: str = prop) -> Any:
            value = item[1].get(prop)
            if isinstance(value, str) and value[1:].isdigit():
                return (value[0], int(value[1:]))  # "e10" after "e9"
            return value

        items.sort(key=key, reverse=not comparator.is_ascending)
    return [object_id_str(oid) for oid, _ in items]


async def submission_query(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = parse_query(call.args)
    acct = ctx.account(args.account_id)
    state = type_state(ctx, acct, TYPE)
    ids = _results(_load(ctx, acct), _check_filter(args.filter), args.sort)
    out = query_response(ids, args, state, max_limit=ctx.services.limits.max_query_limit)
    return [("EmailSubmission/query", out)]


async def submission_query_changes(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    """§5.6 from the change log: every changed submission is removed and, if it matches now,
    added at its new index (RFC 8620 §5.6 allows reporting extra removed ids)."""
    ctx = context_of(call)
    args = parse_query_changes(call.args)
    acct = ctx.account(args.account_id)
    state = ctx.store.account(acct)
    assert state is not None
    position = parse_state(args.since_query_state)
    changes = compute_changes(
        TYPE,
        args.since_query_state,
        current=state.type_state(TYPE),
        floor=state.changes_floor,
        log=ctx.store.changes_since(acct, position.modseq if position else 0),
        max_changes=None,
        id_of=object_id_str,
    )
    ids = _results(_load(ctx, acct), _check_filter(args.filter), args.sort)
    touched = set(changes.created) | set(changes.updated)
    removed = (*changes.updated, *changes.destroyed)
    added = tuple(AddedItem(i, n) for n, i in enumerate(ids) if i in touched)
    if args.max_changes is not None and len(removed) + len(added) > args.max_changes:
        raise MethodError("tooManyChanges", f"More than {args.max_changes} changes.")
    result = QueryChanges(removed, added).to_json(
        args.account_id,
        args.since_query_state,
        str(state.type_state(TYPE)),
        len(ids) if args.calculate_total else None,
    )
    return [("EmailSubmission/queryChanges", result)]


# -- /set (§7.5) -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Outgoing:
    """A validated submission ready to send."""

    identity_id: str
    email_id: int
    thread_id: int
    mail_from: str
    rcpt_to: tuple[str, ...]
    envelope: dict[str, Any]
    raw: bytes


def strip_bcc(raw: bytes, parsed: ParsedMessage) -> bytes:
    """``raw`` without its top-level Bcc header fields (§7; RFC 5322 §3.6.3)."""
    out = raw
    for field in sorted(parsed.headers, key=lambda h: h.start, reverse=True):
        if field.name.lower() == "bcc":
            end = field.end
            if raw[end : end + 2] == b"\r\n":
                end += 2
            elif raw[end : end + 1] == b"\n":
                end += 1
            out = out[: field.start] + out[end:]
    return out


def _envelope_address(value: Any) -> str:
    if (
        not isinstance(value, dict)
        or set(value) - {"email", "parameters"}
        or not isinstance(value.get("email"), str)
        or not (value.get("parameters") is None or isinstance(value["parameters"], dict))
    ):
        raise invalid("envelope", "An envelope Address is {email, parameters}.")
    return str(value["email"])


def _prepare(
    call: MethodCall,
    ctx: JmapContext,
    acct: int,
    obj: dict[str, Any],
    identities: Mapping[int, dict[str, Any]],
) -> Outgoing:
    unknown = sorted(set(obj) - {"identityId", "emailId", "envelope", "undoStatus"})
    if unknown:
        raise SetError("invalidProperties", "Server-set or unknown properties.", properties=unknown)
    if obj.get("undoStatus", "final") != "final":
        raise invalid("undoStatus", "Submissions are sent at once; undoStatus is final.")
    identity_ref = obj.get("identityId")
    email_ref = obj.get("emailId")
    if not isinstance(identity_ref, str):
        raise invalid("identityId", "identityId is required.")
    if not isinstance(email_ref, str):
        raise invalid("emailId", "emailId is required.")
    identity_id = (
        call.created_ids.get(identity_ref[1:]) if identity_ref.startswith("#") else identity_ref
    )
    number = parse_object_id("object", identity_id) if identity_id else None
    if number is None or number not in identities or identity_id is None:
        raise invalid("identityId", f"Identity {identity_ref!r} does not exist.")
    identity = identities[number]
    email_id = call.created_ids.get(email_ref[1:]) if email_ref.startswith("#") else email_ref
    email_number = parse_object_id("email", email_id) if email_id else None
    mail, token = ctx.services.mail, ctx.access
    email = mail.email(token, acct, email_number) if email_number is not None else None
    metadata = mail.metadata(token, acct, email.id) if email is not None else None
    raw = mail.blob(token, acct, email.blob) if email is not None else None
    if email is None or metadata is None or raw is None:
        raise invalid("emailId", f"Email {email_ref!r} does not exist.")
    parsed = decode_metadata(metadata)
    allowed = {a.lower() for a in ctx.principal.emails}
    if not parsed.from_:
        raise SetError("invalidEmail", "The email has no From address.", properties=["from"])
    if any(a.email.lower() not in allowed for a in parsed.from_):
        raise SetError("forbiddenFrom", "You may not send with this From address.")
    envelope = obj.get("envelope")
    if envelope is not None:
        get_object(envelope, "envelope")
        if set(envelope) != {"mailFrom", "rcptTo"} or not isinstance(envelope["rcptTo"], list):
            raise invalid("envelope", "An Envelope is {mailFrom, rcptTo}.")
        mail_from = _envelope_address(envelope["mailFrom"])
        rcpt_to = [_envelope_address(a) for a in envelope["rcptTo"]]
    else:
        sender = parsed.sender or parsed.from_
        mail_from = sender[0].email if sender else str(identity["email"])
        rcpt_to = [a.email for a in (*parsed.to, *parsed.cc, *parsed.bcc)]
        envelope = {
            "mailFrom": {"email": mail_from, "parameters": None},
            "rcptTo": [{"email": a, "parameters": None} for a in dict.fromkeys(rcpt_to)],
        }
    rcpts = tuple(dict.fromkeys(rcpt_to))
    if mail_from.lower() not in allowed:
        raise SetError("forbiddenMailFrom", f"You may not send as {mail_from!r}.")
    if not rcpts:
        raise SetError("noRecipients", "The envelope has no recipients.")
    bad = [r for r in rcpts if not _ADDRESS.fullmatch(r)]
    if bad:
        raise SetError("invalidRecipients", "Invalid recipient addresses.", invalidRecipients=bad)
    if len(rcpts) > MAX_RECIPIENTS:
        raise SetError("tooManyRecipients", "Too many recipients.", maxRecipients=MAX_RECIPIENTS)
    remote = [r for r in rcpts if ctx.store.domain(r.rpartition("@")[2].lower()) is None]
    if remote:
        # §7.5 forbiddenToSend: "The user does not have permission to send at all right now".
        # Never report a send that will not happen; never deliver half of a submission.
        raise SetError(
            "forbiddenToSend",
            "This server has no outbound relay (SMTP sending is not built yet), so it can only "
            "deliver to its own accounts; nothing was sent. Recipients outside this server: "
            + ", ".join(remote)
            + ".",
        )
    return Outgoing(
        identity_id, email.id, email.thread_id, mail_from, rcpts, envelope, strip_bcc(raw, parsed)
    )


def delivery_status(results: list[SubmissionRecipient]) -> dict[str, dict[str, Any]]:
    """``deliveryStatus`` (§7) from the per-recipient results of ``services.submit``."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.status == "delivered":
            reply = str(DELIVERED)
        else:
            # The reply LMTP gives for the same failure (RFC 5321 §4.2, RFC 3463).
            reply = str(smtp_status(r.error.kind)) if r.error is not None else "554 5.0.0 Failed"
        out[r.address] = {
            "smtpReply": reply,
            "delivered": _DELIVERED.get(r.status, "unknown"),
            "displayed": "unknown",
        }
    return out


async def _create(
    call: MethodCall,
    ctx: JmapContext,
    acct: int,
    create: Mapping[str, dict[str, Any]],
    response: SetResponse,
    identities: Mapping[int, dict[str, Any]],
) -> dict[str, str]:
    """Sends each submission; returns creation id → email id of the successes."""
    emails: dict[str, str] = {}
    for cid, obj in create.items():
        try:
            out = _prepare(call, ctx, acct, obj, identities)
        except SetError as err:
            response.not_created[cid] = err
            continue
        results = await ctx.services.submit(acct, out.mail_from, out.rcpt_to, out.raw)
        now = ctx.services.now()
        value = {
            "identityId": out.identity_id,
            "emailId": object_id("email", out.email_id),
            "threadId": object_id("thread", out.thread_id),
            "envelope": out.envelope,
            "sendAt": now,
            "undoStatus": "final",
            "deliveryStatus": delivery_status(results),
            "dsnBlobIds": [],
            "mdnBlobIds": [],
        }
        result = await write_one(ctx, MailTransaction.set_object, acct, TYPE, 0, value)
        if result.error is not None:
            response.not_created[cid] = set_error_for(result.error)
            continue
        ident = object_id_str(result.value)
        call.created_ids[cid] = ident
        emails["#" + cid] = emails[ident] = str(value["emailId"])
        response.created[cid] = {
            "id": ident,
            "threadId": value["threadId"],
            "sendAt": _date(now),
            "undoStatus": "final",
            "deliveryStatus": value["deliveryStatus"],
            "dsnBlobIds": [],
            "mdnBlobIds": [],
        }
    return emails


def _shown(oid: int, value: Mapping[str, Any]) -> Callable[[set[str]], dict[str, Any]]:
    """The submission's properties as EmailSubmission/get shows them (``drop_unchanged``)."""
    return lambda names: _json(oid, value, tuple(p for p in PROPERTIES if p in names))


def _number(ident: str, created_ids: Mapping[str, str]) -> int | None:
    resolved = created_ids.get(ident[1:]) if ident.startswith("#") else ident
    return parse_object_id("object", resolved) if resolved else None


async def submission_set(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = parse_set(
        call.args,
        max_objects=ctx.services.limits.max_objects_in_set,
        extra=("onSuccessUpdateEmail", "onSuccessDestroyEmail"),
    )
    acct = ctx.account(args.account_id)
    on_update = args.extra.get("onSuccessUpdateEmail") or {}
    on_destroy = args.extra.get("onSuccessDestroyEmail") or []
    get_object(on_update, "onSuccessUpdateEmail")
    if not isinstance(on_destroy, list) or not all(isinstance(i, str) for i in on_destroy):
        raise MethodError("invalidArguments", "onSuccessDestroyEmail must be an array of Ids.")
    old_state = type_state(ctx, acct, TYPE)
    check_if_in_state(args.if_in_state, old_state)
    identities = await ensure_default(ctx, acct)
    response = SetResponse(args.account_id, old_state, old_state)
    # Submission id (or "#creationId") → its email id, for every submission that succeeded.
    succeeded = await _create(call, ctx, acct, args.create, response, identities)
    stored = _load(ctx, acct)
    update, response.not_updated = split_will_destroy(
        args.update,
        args.destroy,
        call.created_ids,
        lambda ident: _number(ident, call.created_ids) in stored,
    )
    for ident, patch in update.items():
        number = _number(ident, call.created_ids)
        if number is None or number not in stored:
            response.not_updated[ident] = SetError("notFound", f"{ident!r} does not exist.")
            continue
        # RFC 8620 §5.3: the other (immutable, server-set) properties may be sent back unchanged.
        patch = drop_unchanged(patch, {"undoStatus"}, _shown(number, stored[number]))
        try:
            for path, value in patch_paths(patch).items():
                if path != ("undoStatus",):
                    raise invalid("/".join(path), "Only undoStatus may be changed (§7).")
                if value == "canceled":
                    # Sent at creation: nothing is ever pending (§7.5 cannotUnsend).
                    raise SetError("cannotUnsend", "The message has already been sent.")
                if value != stored[number]["undoStatus"]:
                    raise invalid("undoStatus", "undoStatus may only become canceled.")
        except SetError as err:
            response.not_updated[ident] = err
            continue
        response.updated[ident] = None
        succeeded[ident] = str(stored[number]["emailId"])
    destroys: Step[tuple[str, int]] = Step(ctx)
    for ident in args.destroy:
        number = _number(ident, call.created_ids)
        if number is None or number not in stored:
            response.not_destroyed[ident] = SetError("notFound", f"{ident!r} does not exist.")
        else:
            refused = destroys.add((ident, number), destroys.tx.destroy_object, acct, TYPE, number)
            if refused is not None:
                response.not_destroyed[ident] = refused
    for (ident, number), result in await destroys.commit():
        if result.error is not None:
            response.not_destroyed[ident] = set_error_for(result.error)
        else:
            response.destroyed.append(ident)
            succeeded[ident] = str(stored[number]["emailId"])
    response.new_state = type_state(ctx, acct, TYPE)
    responses: list[tuple[str, dict[str, Any]]] = [("EmailSubmission/set", response.to_json())]
    update = {succeeded[k]: p for k, p in on_update.items() if k in succeeded}
    destroy = list(dict.fromkeys(succeeded[k] for k in on_destroy if k in succeeded))
    if update or destroy:
        set_args: dict[str, Any] = {"accountId": args.account_id}
        if update:
            set_args["update"] = update
        if destroy:
            set_args["destroy"] = destroy
        responses.append(await implicit_email_set(call, set_args))
    return responses
