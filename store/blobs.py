"""Blob bytes outside the batches: content-addressed files under ``<data>/blobs``.

A message or upload is written here, fsynced (file, then directory) *before* the batch that
references it is proposed; the batch carries only the digest and size (``PutBlob``,
``UploadBlob``), so no batch grows with the message and a replicated log never carries blob
bytes.  Reference counts stay in LevelDB (``BlobInfo``), changed by apply like everything else.

Deleting the file of a blob whose last reference went away is an effect that runs after the
group that dropped the reference is durable (:meth:`BlobStore.discard`); a crash before it, or
a blob written for a batch that never committed, leaves an orphan file that :meth:`sweep`
removes later.  Neither can leave a reference without its file.

The one race, a blob written again (same digest) for a new batch while the file is being
deleted, is closed by a lock and a count of digests in flight: :meth:`put_many` marks a digest
before it looks at the file, and the mark stays until the batch has been applied or has failed
(:meth:`settle`); a deletion checks "no reference and no mark" under the same lock, so either it
happened first and the put writes the file anew, or it sees the mark and leaves the file.
:meth:`sweep` also spares files younger than ``grace`` seconds (by modification time, which a
restart keeps).  See docs/storage.md.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

DIGEST_SIZE = 32
# The sweep spares files younger than this (a put whose batch another process may still apply).
DEFAULT_GRACE = 3600.0


class BlobStore:
    """Content-addressed blob files: ``<root>/<hex[:2]>/<hex>`` (sha256 of the bytes)."""

    def __init__(
        self,
        root: str | Path,
        *,
        sync: bool = True,
        grace: float = DEFAULT_GRACE,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._sync = sync
        self._grace = grace
        self._lock = threading.Lock()
        self._in_flight: Counter[bytes] = Counter()  # digest -> batches not yet settled

    # -- paths -------------------------------------------------------------------------------
    def path(self, sha: bytes) -> Path:
        if len(sha) != DIGEST_SIZE:
            raise ValueError("a blob digest is 32 bytes")
        name = sha.hex()
        return self.root / name[:2] / name

    # -- writes ------------------------------------------------------------------------------
    def put(self, data: bytes) -> bytes:
        """Stores ``data`` durably (file and directory fsynced) and returns its digest.

        Idempotent: an existing file of the same digest is kept.  Blocking (call it off the
        event loop for large data)."""
        return self.put_many((data,))[0]

    def put_many(self, blobs: Iterable[bytes]) -> list[bytes]:
        """:meth:`put` of several blobs, each directory fsynced once at the end."""
        digests: list[bytes] = []
        dirty: set[Path] = set()
        try:
            for data in blobs:
                sha = hashlib.sha256(data).digest()
                with self._lock:
                    self._in_flight[sha] += 1
                digests.append(sha)
                path = self.path(sha)
                if path.exists() and path.stat().st_size == len(data):
                    continue
                if not path.parent.exists():
                    path.parent.mkdir(exist_ok=True)
                    dirty.add(self.root)
                self._write_file(path, data)
                dirty.add(path.parent)
            if self._sync:
                # Children before parents: a new subdirectory's entry is synced after its file's.
                for directory in sorted(dirty, key=lambda d: len(d.parts), reverse=True):
                    self._fsync_dir(directory)
        except BaseException:
            # No batch will name these: without the settle they would stay undeletable.
            self.settle(digests)
            raise
        return digests

    def _write_file(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                if self._sync:
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def settle(self, digests: Iterable[bytes]) -> None:
        """The batches these blobs were put for have been applied (or have failed): their
        files are deletable again once nothing references them."""
        with self._lock:
            for sha in digests:
                self._in_flight[sha] -= 1
                if self._in_flight[sha] <= 0:
                    del self._in_flight[sha]

    def _deletable(self, sha: bytes) -> bool:
        """No batch in flight puts it (call with the lock held)."""
        return sha not in self._in_flight

    def _unlink(self, sha: bytes) -> bool:
        try:
            self.path(sha).unlink()
        except FileNotFoundError:
            return False
        return True

    def discard(self, digests: Iterable[bytes], is_referenced: Callable[[bytes], bool]) -> int:
        """Deletes the files of blobs no longer referenced (the effect after a group that
        dropped their last reference is durable); keeps a digest a batch in flight puts."""
        removed = 0
        for sha in digests:
            with self._lock:
                if not is_referenced(sha) and self._deletable(sha) and self._unlink(sha):
                    removed += 1
        return removed

    def sweep(self, is_referenced: Callable[[bytes], bool], *, min_age: float | None = None) -> int:
        """Deletes orphan files: no reference, no batch in flight, and (by modification time,
        which survives a restart) older than ``min_age`` seconds (default: the grace period).
        Leftover temporary files of an interrupted :meth:`put` go too."""
        age = self._grace if min_age is None else min_age
        cutoff = time.time() - age
        removed = 0
        for path in self._files():
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            if mtime > cutoff:
                continue
            if path.name.startswith("."):
                path.unlink(missing_ok=True)
                removed += 1
                continue
            sha = _digest_of(path)
            if sha is None:
                continue
            with self._lock:
                if not is_referenced(sha) and self._deletable(sha) and self._unlink(sha):
                    removed += 1
                    log.info("removed orphan blob %s", path.name)
        return removed

    # -- reads -------------------------------------------------------------------------------
    def get(self, sha: bytes) -> bytes | None:
        try:
            return self.path(sha).read_bytes()
        except FileNotFoundError:
            return None

    def has(self, sha: bytes) -> bool:
        return self.path(sha).exists()

    def digests(self) -> Iterator[bytes]:
        """The digest of every stored blob file."""
        for path in self._files():
            sha = _digest_of(path)
            if sha is not None:
                yield sha

    def _files(self) -> Iterator[Path]:
        for sub in sorted(self.root.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                yield from sorted(sub.iterdir())


def _digest_of(path: Path) -> bytes | None:
    """The digest a blob file's name spells, None for anything else (temporary files ...)."""
    try:
        sha = bytes.fromhex(path.name)
    except ValueError:  # also every ".…tmp" name
        return None
    return sha if len(sha) == DIGEST_SIZE else None
