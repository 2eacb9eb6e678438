"""Request ids: a batch proposed again with the id of one already applied is not applied twice.

A client that got ``UnknownOutcome`` (the batch may or may not have been applied: a leader lost
mid-commit, a timeout) retries with the same request id; so does an MTA whose LMTP delivery got
``451`` (the delivery derives the id from the transaction).  Apply records each applied request
id with the batch's result (``q<id>``) and the time (``Q<now><id>``, for expiry after
:data:`REQUEST_TTL`); a batch whose id is recorded is answered with the recorded result and
writes nothing.  Everything here runs inside apply, so every replica decides alike.
"""

from __future__ import annotations

from typing import Any, Final

from . import keys
from .batch import ApplyResult, EmailCreated, OpResult
from .codec import pack, read_u64, u64, unpack
from .errors import ErrorKind, MailError
from .txn import View

REQUEST_TTL: Final = 7 * 86400  # seconds a request id is remembered
MAX_REQUEST_ID: Final = 64  # bytes

_PLAIN, _CREATED, _ERROR = 0, 1, 2


def _encode_op(result: OpResult) -> list[Any]:
    if result.error is not None:
        return [_ERROR, result.error.kind.value, result.error.detail]
    value = result.value
    if isinstance(value, EmailCreated):
        return [
            _CREATED,
            value.email_id,
            value.thread_id,
            value.uids,
            value.modseq,
            value.duplicate,
        ]
    return [_PLAIN, value]


def _decode_op(item: list[Any]) -> OpResult:
    tag, *fields = item
    if tag == _ERROR:
        return OpResult(error=MailError(ErrorKind(fields[0]), fields[1]))
    if tag == _CREATED:
        eid, tid, uids, modseq, duplicate = fields
        uids = tuple(tuple(u) for u in uids)
        return OpResult(value=EmailCreated(eid, tid, uids, modseq, duplicate))
    return OpResult(value=fields[0])


def encode_result(result: ApplyResult) -> bytes:
    return pack([[_encode_op(r) for r in result.results], result.modseqs])


def decode_result(data: bytes) -> ApplyResult:
    ops, modseqs = unpack(data)
    return ApplyResult(tuple(_decode_op(list(r)) for r in ops), tuple(tuple(m) for m in modseqs))


def check_request_id(request_id: bytes) -> None:
    if len(request_id) > MAX_REQUEST_ID:
        raise MailError(ErrorKind.INVALID, f"request id over {MAX_REQUEST_ID} bytes")


def recorded(view: View, request_id: bytes) -> ApplyResult | None:
    """The result of the batch applied earlier with this request id, if any."""
    data = view.get(keys.request(request_id))
    return None if data is None else decode_result(data[8:])


def record(view: Any, request_id: bytes, now: int, result: ApplyResult) -> None:
    """Remembers an applied batch's request id and result (``view`` is an Overlay)."""
    view.put(keys.request(request_id), u64(now) + encode_result(result))
    view.put(keys.request_time(now, request_id), b"")


def expire(view: Any, before: int) -> int:
    """Forgets request ids recorded at or before ``before`` (unix seconds); returns how many."""
    removed = 0
    stop = keys.REQUEST_TIME + u64(before + 1)
    for key, _ in list(view.scan(keys.REQUEST_TIME)):
        if key >= stop:
            break
        request_id = key[len(keys.REQUEST_TIME) + 8 :]
        view.delete(key)
        data = view.get(keys.request(request_id))
        if data is not None and read_u64(data) <= before:
            view.delete(keys.request(request_id))
        removed += 1
    return removed
