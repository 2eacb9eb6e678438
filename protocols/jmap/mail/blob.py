"""Blob methods: Blob/upload, Blob/get, Blob/lookup (RFC 9404) and Blob/copy (RFC 8620 §6.3).

Blob ids are ``store.ids.blob_id`` of the content's sha256, or a part blob id
(``b<sha>_<partId>``, :mod:`.email_render`) naming the decoded content of a part of a stored
message.  A token may read a blob only when the mail service says so (``MailService.blob``:
the token sees the account, and one of its emails references the blob or it uploaded it and the
upload has not expired).  :func:`read_blob` is the one place that asks, for every method that
takes a ``blobId``.

Blob/upload stores each blob through the service's ``upload_blob(hold_until = now +
upload_ttl)``; its creation id is added to the request's ``createdIds`` so later calls may use
``"#creationId"`` as a blob id (RFC 9404 §4.1).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any, Final

from protocols.mail import AccessToken, MailService
from store.ids import blob_id, object_id, parse_blob_id

from ..context import JmapContext
from ..core import (
    MethodCall,
    MethodError,
    SetError,
    check_known,
    get_id,
    get_id_list,
    get_str_list,
    get_uint,
    invalid_arguments,
    set_error_for,
)
from .email_render import parse_part_blob_id, part_content
from .write import Step, context_of

GET_PROPERTIES: Final = frozenset(
    {"data", "data:asText", "data:asBase64", "digest:sha", "digest:sha-256", "size"}
)
DEFAULT_GET_PROPERTIES: Final = ("data", "size")
LOOKUP_TYPES: Final = frozenset({"Email", "Mailbox", "Thread"})
_DIGESTS: Final = {"digest:sha": "sha1", "digest:sha-256": "sha256"}


def resolve_blob_ref(value: str, created_ids: Mapping[str, str]) -> str | None:
    """A blob id, or ``#creationId`` of a Blob/upload earlier in the request (RFC 9404 §4.1)."""
    if value.startswith("#"):
        return created_ids.get(value[1:])
    return value


def read_blob(mail: MailService, token: AccessToken, acct: int, ident: str) -> bytes | None:
    """The octets of blob ``ident`` if the token may read it in the account, else None."""
    sha = parse_blob_id(ident)
    if sha is not None:
        return mail.blob(token, acct, sha)
    part = parse_part_blob_id(ident)
    raw = mail.blob(token, acct, part[0]) if part is not None else None
    found = part_content(raw, part[1]) if raw is not None and part is not None else None
    return None if found is None else found[0]


def blob_reader(ctx: JmapContext, acct: int, created_ids: Mapping[str, str]) -> Any:
    """A ``blobId → bytes | None`` function for this account and request."""
    mail, token = ctx.services.mail, ctx.access

    def read(ident: str) -> bytes | None:
        resolved = resolve_blob_ref(ident, created_ids)
        return None if resolved is None else read_blob(mail, token, acct, resolved)

    return read


# -- Blob/upload (RFC 9404 §4.1) ---------------------------------------------------------------
def _data_source(
    source: Any, ctx: JmapContext, acct: int, call: MethodCall, local: Mapping[str, bytes]
) -> bytes:
    if not isinstance(source, dict):
        raise SetError(
            "invalidProperties", "A DataSourceObject must be an object.", properties=["data"]
        )
    if set(source) == {"data:asText"} and isinstance(source["data:asText"], str):
        return source["data:asText"].encode("utf-8")
    if set(source) == {"data:asBase64"} and isinstance(source["data:asBase64"], str):
        try:
            return base64.b64decode(source["data:asBase64"], validate=True)
        except ValueError:
            raise SetError(
                "invalidProperties", "data:asBase64 is not base64.", properties=["data"]
            ) from None
    if "blobId" in source and set(source) <= {"blobId", "offset", "length"}:
        ident = source["blobId"]
        if not isinstance(ident, str):
            raise SetError("invalidProperties", "blobId must be a string.", properties=["data"])
        if ident.startswith("#") and ident[1:] in local:
            data: bytes | None = local[ident[1:]]
        else:
            data = blob_reader(ctx, acct, call.created_ids)(ident)
        if data is None:
            raise SetError("blobNotFound", f"Blob {ident!r} not found.", notFound=[ident])
        try:
            offset = get_uint(source.get("offset") or 0, "offset")
            length = None if source.get("length") is None else get_uint(source["length"], "length")
        except MethodError:
            raise SetError(
                "invalidProperties", "offset and length are UnsignedInts.", properties=["data"]
            ) from None
        end = len(data) if length is None else offset + length
        if offset > len(data) or end > len(data):
            raise SetError(
                "invalidProperties", "The range is beyond the end of the blob.", properties=["data"]
            )
        return data[offset:end]
    raise SetError("invalidProperties", "Unknown DataSourceObject.", properties=["data"])


async def blob_upload(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    check_known(call.args, {"accountId", "create"})
    acct = ctx.account(call.args.get("accountId"))
    create = call.args.get("create") or {}
    if not isinstance(create, dict):
        raise invalid_arguments("create must be an object.", arguments=["create"])
    if len(create) > ctx.services.limits.max_objects_in_set:
        raise MethodError("requestTooLarge", "Too many blobs in one call.")
    local: dict[str, bytes] = {}
    types: dict[str, str | None] = {}
    not_created: dict[str, SetError] = {}
    for cid, obj in create.items():
        try:
            get_id(cid, "create")
            if not isinstance(obj, dict) or set(obj) - {"data", "type"}:
                raise SetError("invalidProperties", "A blob has 'data' and 'type'.")
            sources = obj.get("data")
            if not isinstance(sources, list) or not sources:
                raise SetError(
                    "invalidProperties", "data must be a non-empty array.", properties=["data"]
                )
            kind = obj.get("type")
            if kind is not None and not isinstance(kind, str):
                raise SetError("invalidProperties", "type must be a string.", properties=["type"])
            data = b"".join(_data_source(s, ctx, acct, call, local) for s in sources)
            if len(data) > ctx.services.limits.max_size_upload:
                raise SetError("tooLarge", "The blob exceeds maxSizeUpload.")
        except SetError as err:
            not_created[cid] = err
            continue
        except MethodError:
            not_created[cid] = SetError("invalidProperties", "Invalid creation id.")
            continue
        local[cid] = data
        types[cid] = kind
    created: dict[str, dict[str, Any]] = {}
    now = ctx.services.now()
    hold = now + ctx.services.limits.upload_ttl
    step: Step[tuple[str, bytes]] = Step(ctx, now)
    for cid, data in local.items():
        sha = hashlib.sha256(data).digest()
        refused = step.add((cid, sha), step.tx.upload_blob, acct, sha, data, hold)
        if refused is not None:
            not_created[cid] = refused
    for (cid, sha), result in await step.commit():
        if result.error is not None:
            not_created[cid] = set_error_for(result.error)
            continue
        ident = blob_id(sha)
        call.created_ids[cid] = ident
        created[cid] = {"id": ident, "type": types[cid], "size": len(local[cid])}
    return [
        (
            "Blob/upload",
            {
                "accountId": call.args["accountId"],
                "created": created or None,
                "notCreated": {k: e.to_json() for k, e in not_created.items()} or None,
            },
        )
    ]


# -- Blob/get (RFC 9404 §4.2) ------------------------------------------------------------------
def _render_blob(
    ident: str, data: bytes, props: tuple[str, ...], offset: int, length: int | None
) -> dict[str, Any]:
    end = len(data) if length is None else min(offset + length, len(data))
    selected = data[offset:end] if offset <= len(data) else b""
    out: dict[str, Any] = {"id": ident}
    truncated = offset > len(data) or (length is not None and offset + length > len(data))
    text: str | None
    try:
        text = selected.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    for prop in props:
        if prop == "data":
            if text is not None:
                out["data:asText"] = text
            else:
                out["data:asBase64"] = base64.b64encode(selected).decode()
        elif prop == "data:asText":
            out[prop] = text
            if text is None:
                out["isEncodingProblem"] = True
        elif prop == "data:asBase64":
            out[prop] = base64.b64encode(selected).decode()
        elif prop in _DIGESTS:
            digest = hashlib.new(_DIGESTS[prop], selected).digest()
            out[prop] = base64.b64encode(digest).decode()
        elif prop == "size":
            out[prop] = len(data)
    if any(p.startswith("data") for p in props):
        out.setdefault("isEncodingProblem", False)
        out["isTruncated"] = truncated
    return out


async def blob_get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = call.args
    check_known(args, {"accountId", "ids", "properties", "offset", "length"})
    acct = ctx.account(args.get("accountId"))
    if args.get("ids") is None:
        raise invalid_arguments("Blob/get needs ids (blobs cannot be listed).", arguments=["ids"])
    ids = tuple(dict.fromkeys(get_id_list(args["ids"], "ids", allow_ref=True)))
    if len(ids) > ctx.services.limits.max_objects_in_get:
        raise MethodError("requestTooLarge", "Too many ids.")
    props: tuple[str, ...] = DEFAULT_GET_PROPERTIES
    if args.get("properties") is not None:
        props = tuple(dict.fromkeys(get_str_list(args["properties"], "properties")))
        bad = [p for p in props if p not in GET_PROPERTIES]
        if bad:
            raise invalid_arguments(f"Unknown properties: {', '.join(bad)}.", properties=bad)
    offset = get_uint(args.get("offset") or 0, "offset")
    length = None if args.get("length") is None else get_uint(args["length"], "length")
    read = blob_reader(ctx, acct, call.created_ids)
    found: list[dict[str, Any]] = []
    not_found: list[str] = []
    for ident in ids:
        data = read(ident)
        if data is None:
            not_found.append(ident)
        else:
            real = resolve_blob_ref(ident, call.created_ids) or ident
            found.append(_render_blob(real, data, props, offset, length))
    return [("Blob/get", {"accountId": args["accountId"], "list": found, "notFound": not_found})]


# -- Blob/lookup (RFC 9404 §4.3) ---------------------------------------------------------------
async def blob_lookup(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = call.args
    check_known(args, {"accountId", "typeNames", "ids"})
    acct = ctx.account(args.get("accountId"))
    if "typeNames" not in args or "ids" not in args:
        raise invalid_arguments("typeNames and ids are required.")
    type_names = get_str_list(args["typeNames"], "typeNames")
    unknown = [t for t in type_names if t not in LOOKUP_TYPES]
    if unknown:
        raise MethodError("unknownDataType", f"Unknown type names: {', '.join(unknown)}.")
    ids = get_id_list(args["ids"], "ids", allow_ref=True)
    wanted: dict[str, bytes] = {}
    not_found: list[str] = []
    for ident in ids:
        resolved = resolve_blob_ref(ident, call.created_ids)
        sha = None
        if resolved is not None:
            sha = parse_blob_id(resolved)
            if sha is None and (part := parse_part_blob_id(resolved)) is not None:
                sha = part[0]
        if sha is None or not ctx.services.mail.may_read_blob(ctx.access, acct, sha):
            not_found.append(ident)
        else:
            wanted[ident] = sha
    matches: dict[bytes, list[Any]] = {sha: [] for sha in wanted.values()}
    if matches:
        for email in ctx.store.emails(acct):
            if email.blob in matches:
                matches[email.blob].append(email)
    out: list[dict[str, Any]] = []
    for ident, sha in wanted.items():
        emails = matches[sha]
        matched: dict[str, list[str]] = {}
        for type_name in type_names:
            if type_name == "Email":
                matched[type_name] = [object_id("email", e.id) for e in emails]
            elif type_name == "Thread":
                threads = dict.fromkeys(e.thread_id for e in emails)
                matched[type_name] = [object_id("thread", t) for t in threads]
            else:
                boxes = dict.fromkeys(m for e in emails for m, _ in e.mailboxes)
                matched[type_name] = [object_id("mailbox", m) for m in boxes]
        out.append({"id": resolve_blob_ref(ident, call.created_ids), "matchedIds": matched})
    return [("Blob/lookup", {"accountId": args["accountId"], "list": out, "notFound": not_found})]


# -- Blob/copy (RFC 8620 §6.3) -----------------------------------------------------------------
async def blob_copy(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx = context_of(call)
    args = call.args
    check_known(args, {"fromAccountId", "accountId", "blobIds"})
    try:
        from_acct = ctx.account(args.get("fromAccountId"))
    except MethodError as err:
        if err.type == "accountNotFound":
            raise MethodError("fromAccountNotFound") from None
        raise
    to_acct = ctx.account(args.get("accountId"))
    if "blobIds" not in args:
        raise invalid_arguments("blobIds is required.", arguments=["blobIds"])
    ids = tuple(dict.fromkeys(get_id_list(args["blobIds"], "blobIds")))
    read = blob_reader(ctx, from_acct, call.created_ids)
    now = ctx.services.now()
    hold = now + ctx.services.limits.upload_ttl
    copied: dict[str, str] = {}
    not_copied: dict[str, dict[str, Any]] = {}
    step: Step[tuple[str, str]] = Step(ctx, now)
    for ident in ids:
        data = read(ident)
        if data is None:
            not_copied[ident] = SetError("notFound", f"Blob {ident!r} not found.").to_json()
            continue
        sha = hashlib.sha256(data).digest()
        refused = step.add((ident, blob_id(sha)), step.tx.upload_blob, to_acct, sha, data, hold)
        if refused is not None:
            not_copied[ident] = refused.to_json()
    for (ident, new_id), result in await step.commit():
        if result.error is not None:
            not_copied[ident] = set_error_for(result.error).to_json()
        else:
            copied[ident] = new_id
    return [
        (
            "Blob/copy",
            {
                "fromAccountId": args["fromAccountId"],
                "accountId": args["accountId"],
                "copied": copied or None,
                "notCopied": not_copied or None,
            },
        )
    ]
