"""Blobs out of batches (issue 10 §2): bytes in the blob store, written and fsynced before the
batch that records them; batches carry digest and size only; files go after the last reference;
orphans are swept; a format-1 store moves its blobs out on open."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import plyvel
import pytest

from store import Batch, Store, keys
from store.batch import DestroyEmail, ExpireBlobs, ImportEmail, PutBlob, UploadBlob
from store.blobs import BlobStore
from store.models import BlobInfo, encode_record
from tests.support import two_account_store

MAX_BATCH = 64 * 1024


def _import(store: Store, raw: bytes, acct: int = 1, now: int = 10) -> int:
    sha = hashlib.sha256(raw).digest()
    batch = Batch(
        (PutBlob(sha, len(raw), now), ImportEmail(acct, sha, len(raw), (1,), (), now, b"")),
        now=now,
        blobs=(raw,),
    )
    result = store.write(batch)
    assert result.results[1].error is None, result
    return int(result.results[1].value.email_id)


def test_put_is_content_addressed_durable_and_idempotent(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    data = b"hello blob"
    sha = blobs.put(data)
    assert sha == hashlib.sha256(data).digest()
    assert blobs.get(sha) == data and blobs.has(sha)
    path = blobs.path(sha)
    assert path.parent.name == sha.hex()[:2] and path.name == sha.hex()
    inode = path.stat().st_ino
    assert blobs.put(data) == sha and path.stat().st_ino == inode  # kept, not rewritten
    assert not any(p.name.startswith(".") for p in path.parent.iterdir())  # no temp left
    assert blobs.get(b"\0" * 32) is None


def test_put_fsyncs_the_file_and_its_directories_before_returning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blob counts as written only once its bytes and its directory entry are on disk (the
    batch naming it may be acknowledged right after)."""
    synced: list[str] = []
    real_fsync = os.fsync

    def tracing_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    blobs = BlobStore(tmp_path / "blobs")
    monkeypatch.setattr(os, "fsync", tracing_fsync)
    sha = blobs.put(b"durable")
    path = blobs.path(sha)
    assert synced[0].endswith(".tmp")  # the file's bytes, before the rename
    assert str(path.parent) in synced and str(blobs.root) in synced  # new entries, after it
    synced.clear()
    blobs.put(b"durable")
    assert synced == []  # already there: nothing to write


def test_batches_carry_no_blob_bytes_even_for_a_10_mib_message(tmp_path: Path) -> None:
    store = two_account_store(tmp_path / "db")
    try:
        raw = b"Subject: big\r\n\r\n" + b"x" * (10 * 1024 * 1024)
        sha = hashlib.sha256(raw).digest()
        batch = Batch(
            (PutBlob(sha, len(raw), 10), ImportEmail(1, sha, len(raw), (1,), (), 10, b"")),
            now=10,
            blobs=(raw,),
        )
        assert len(batch.encode()) <= MAX_BATCH
        assert Batch.decode(batch.encode()) == batch  # the wire form is complete without them
        store.write(batch)
        assert store.blob(sha) == raw
        assert not list(store.scan(keys.BLOB))  # nothing of it in LevelDB
        assert all(len(v) < MAX_BATCH for _, v in store.scan(b""))
    finally:
        store.close()


def test_the_last_reference_removes_the_file_after_the_batch(tmp_path: Path) -> None:
    store = two_account_store(tmp_path / "db")
    try:
        raw = b"Subject: gone\r\n\r\nsoon\r\n"
        sha = hashlib.sha256(raw).digest()
        first = _import(store, raw)
        second = _import(store, raw, now=11)  # the same bytes again: one file, two references
        assert store.blob_info(sha).refs == 2  # type: ignore[union-attr]
        store.write(Batch((DestroyEmail(1, first),), now=20))
        assert store.blobs.has(sha)
        store.write(Batch((DestroyEmail(1, second),), now=21))
        assert store.blob_info(sha) is None and not store.blobs.has(sha)
        assert store.blob(sha) is None
    finally:
        store.close()


def test_an_upload_keeps_its_file_until_it_expires(tmp_path: Path) -> None:
    store = two_account_store(tmp_path / "db")
    try:
        data = b"an upload"
        sha = hashlib.sha256(data).digest()
        store.write(Batch((UploadBlob(1, sha, len(data), 500),), now=100, blobs=(data,)))
        store.write(Batch((ExpireBlobs(),), now=499))
        assert store.blob(sha) == data
        store.write(Batch((ExpireBlobs(),), now=500))
        assert store.blob(sha) is None and not store.blobs.has(sha)
    finally:
        store.close()


def test_a_batch_whose_blob_cannot_be_written_is_not_applied(tmp_path: Path) -> None:
    """A full or failing disk: the batch fails as a temporary error, nothing refers to a
    missing file, and the other batches of the group still apply."""
    store = two_account_store(tmp_path / "db")
    try:
        good = b"Subject: fine\r\n\r\n"
        bad = b"Subject: fails\r\n\r\n"
        real = store.blobs._write_file

        def failing(path: Path, data: bytes) -> None:
            if data == bad:
                raise OSError(28, "No space left on device")
            real(path, data)

        store.blobs._write_file = failing  # type: ignore[method-assign]
        with pytest.raises(Exception) as refused:
            _import(store, bad)
        assert "blob write failed" in str(refused.value)
        assert store.blob_info(hashlib.sha256(bad).digest()) is None
        assert store.account(1).email_count == 0  # type: ignore[union-attr]
        _import(store, good)
        assert store.account(1).email_count == 1  # type: ignore[union-attr]
    finally:
        store.close()


def test_sweep_removes_orphans_only(tmp_path: Path) -> None:
    store = two_account_store(tmp_path / "db")
    try:
        kept = b"Subject: kept\r\n\r\n"
        _import(store, kept)
        orphan = store.blobs.put(b"written, never recorded (a crash before the batch)")
        store.blobs.settle([orphan])
        (store.blobs.path(orphan).parent / ".leftover.tmp").write_bytes(b"half")
        assert store.sweep_blobs() == 0  # younger than the grace period: spared
        assert store.sweep_blobs(min_age=0) == 2
        assert set(store.blobs.digests()) == {hashlib.sha256(kept).digest()}
    finally:
        store.close()


def test_a_blob_in_flight_is_never_deleted(tmp_path: Path) -> None:
    """The race of issue 10 §2: the sweep (or the effect of a batch that dropped the last
    reference) runs while the same bytes are being put for a new batch."""
    blobs = BlobStore(tmp_path / "blobs")
    sha = blobs.put(b"same bytes")  # in flight until settled
    assert blobs.discard([sha], lambda _: False) == 0
    assert blobs.sweep(lambda _: False, min_age=0) == 0
    blobs.settle([sha])
    assert blobs.discard([sha], lambda _: False) == 1
    # Concurrently: puts and deletions interleave; a put that returned always leaves the file
    # until it is settled.
    stop = threading.Event()

    def deleter() -> None:
        while not stop.is_set():
            blobs.discard([sha], lambda _: False)

    thread = threading.Thread(target=deleter)
    thread.start()
    try:
        for _ in range(300):
            put = blobs.put(b"same bytes")
            assert blobs.get(put) == b"same bytes"
            blobs.settle([put])
    finally:
        stop.set()
        thread.join()


def test_a_format_1_store_moves_its_blobs_out_on_open(tmp_path: Path) -> None:
    path = tmp_path / "db"
    data = b"Subject: old\r\n\r\nfrom format 1\r\n"
    sha = hashlib.sha256(data).digest()
    db = plyvel.DB(str(path), create_if_missing=True)
    db.put(keys.VERSION, b"1")
    db.put(keys.blob(sha), data)
    db.put(keys.blob_ref(sha), encode_record(BlobInfo(len(data), 1, 0)))
    db.close()
    store = Store(path)
    try:
        assert store.blob(sha) == data
        assert not list(store.scan(keys.BLOB))
        assert store.get(keys.VERSION) == b"2"
    finally:
        store.close()


def test_a_failed_put_leaves_no_digest_marked_in_flight(tmp_path: Path) -> None:
    """A put that fails half-way settles what it marked: those files stay deletable (else an
    orphan written before the failure could never be swept by this process)."""
    blobs = BlobStore(tmp_path / "blobs")
    written, failing = b"written first", b"then the disk fails"
    real = blobs._write_file

    def fail_second(path: Path, data: bytes) -> None:
        if data == failing:
            raise OSError(28, "No space left on device")
        real(path, data)

    blobs._write_file = fail_second  # type: ignore[method-assign]
    with pytest.raises(OSError):
        blobs.put_many([written, failing])
    sha = hashlib.sha256(written).digest()
    assert blobs.has(sha)
    assert blobs.discard([sha], lambda _: False) == 1
