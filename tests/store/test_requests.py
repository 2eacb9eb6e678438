"""Request ids (issue 10 §1): a batch proposed again with the id of one already applied is
answered with the first result and writes nothing, so a retry after UnknownOutcome (an MTA after
``451``) never makes a duplicate."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from pathlib import Path

from store import Batch
from store.batch import ExpireRequests, ImportEmail, PutBlob, UpdateEmail
from store.errors import ErrorKind
from store.requests import MAX_REQUEST_ID, REQUEST_TTL, decode_result, encode_result
from tests.support import two_account_store

RAW = b"Subject: once\r\n\r\nonly once\r\n"
SHA = hashlib.sha256(RAW).digest()


def _delivery(request_id: bytes, now: int = 100) -> Batch:
    ops = (
        PutBlob(SHA, len(RAW), now),
        ImportEmail(1, SHA, len(RAW), (1,), (), now, b""),
        ImportEmail(2, SHA, len(RAW), (1,), (), now, b""),
    )
    return Batch(ops, now, blobs=(RAW,), request_id=request_id)


def test_a_retried_request_is_applied_once(tmp_path: Path) -> None:
    store = two_account_store(tmp_path / "db")
    try:
        first = store.write(_delivery(b"lmtp:abc"))
        after_first = store.dump()
        again = store.write(_delivery(b"lmtp:abc"))
        assert again == first  # the same ids, UIDs and modseqs as the first answer
        assert store.dump() == after_first  # nothing written
        assert store.account(1).email_count == 1  # type: ignore[union-attr]
        other = store.write(_delivery(b"lmtp:other"))  # another id is another request
        assert other.results[1].value.email_id != first.results[1].value.email_id
    finally:
        store.close()


def test_one_request_id_twice_in_one_group(tmp_path: Path) -> None:
    store = two_account_store(tmp_path / "db", now=1)
    try:
        results = []
        done = threading.Semaphore(0)

        def answered(result: object, error: object) -> None:
            results.append(result)
            done.release()

        for _ in range(2):
            store.submit(_delivery(b"same"), answered)
        for _ in range(2):
            assert done.acquire(timeout=10)
        assert results[0] == results[1]
        assert store.account(1).email_count == 1  # type: ignore[union-attr]
    finally:
        store.close()


def test_errors_are_replayed_too(tmp_path: Path) -> None:
    store = two_account_store(tmp_path / "db")
    try:
        batch = Batch((UpdateEmail(1, 999, keywords_add=("$seen",)),), 5, request_id=b"e")
        first = store.write(batch)
        assert first.results[0].error is not None
        assert store.write(batch) == first
    finally:
        store.close()


def test_request_ids_travel_in_the_wire_form_and_results_round_trip(tmp_path: Path) -> None:
    batch = _delivery(b"wire")
    assert Batch.decode(batch.encode()).request_id == b"wire"
    store = two_account_store(tmp_path / "db")
    try:
        result = store.write(batch)
        assert decode_result(encode_result(result)) == result
        failed = store.write(Batch((UpdateEmail(1, 999, keywords_add=("x",)),), 5))
        assert decode_result(encode_result(failed)) == failed
        assert failed.results[0].error.kind is ErrorKind.NOT_FOUND  # type: ignore[union-attr]
    finally:
        store.close()


def test_request_ids_expire(tmp_path: Path) -> None:
    store = two_account_store(tmp_path / "db")
    try:
        store.write(_delivery(b"old", now=100))
        store.write(Batch((ExpireRequests(),), now=100 + REQUEST_TTL - 1))
        assert store.write(_delivery(b"old", now=200)).results[1].value.email_id == 1
        store.write(Batch((ExpireRequests(),), now=100 + REQUEST_TTL))
        later = store.write(_delivery(b"old", now=100 + REQUEST_TTL))
        assert later.results[1].value.email_id == 2  # forgotten: applied as new
    finally:
        store.close()


def test_an_overlong_request_id_is_refused(tmp_path: Path) -> None:
    store = two_account_store(tmp_path / "db")
    try:
        batch = replace(_delivery(b""), request_id=b"x" * (MAX_REQUEST_ID + 1))
        try:
            store.write(batch)
        except Exception as err:
            assert getattr(err, "kind", None) is ErrorKind.INVALID
        else:
            raise AssertionError("an over-long request id was accepted")
        assert store.account(1).email_count == 0  # type: ignore[union-attr]
    finally:
        store.close()


def test_an_atomic_batch_writes_nothing_when_one_operation_fails(tmp_path: Path) -> None:
    """Batch.atomic (RFC 3502 §6.3.11 MULTIAPPEND): decided inside apply, no undo batch."""
    store = two_account_store(tmp_path / "db")
    try:
        before = store.dump()
        ops = (
            PutBlob(SHA, len(RAW), 10),
            ImportEmail(1, SHA, len(RAW), (1,), (), 10, b""),
            ImportEmail(1, SHA, len(RAW), (99,), (), 10, b""),  # no such mailbox
        )
        result = store.write(Batch(ops, 10, blobs=(RAW,), atomic=True))
        assert result.results[2].error.kind is ErrorKind.NOT_FOUND  # type: ignore[union-attr]
        assert all(r.error is not None for r in result.results)
        assert result.modseqs == ()
        assert store.dump() == before
        assert Batch.decode(Batch(ops, 10, atomic=True).encode()).atomic
        plain = store.write(Batch(ops, 11, blobs=(RAW,)))  # the same, not atomic: two of three
        assert [r.error is None for r in plain.results] == [True, True, False]
    finally:
        store.close()
