"""The LevelDB store: reads as plain methods, writes as batches through one writer thread.

Writes are group-committed: the writer thread takes every batch queued while the previous group was
being synced (at most ``group_commit_max``), applies them in order through one overlay, and writes
the union as one LevelDB ``WriteBatch`` with ``sync=True``.  ``write`` returns only after that sync,
so an acknowledged write survives kill -9 and power loss; the resulting database is identical to
applying the batches one by one (see :mod:`store.txn`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import plyvel

from . import keys
from .batch import (
    AddAlias,
    ApplyResult,
    Batch,
    CreateDomain,
    CreatePrincipal,
    DeleteDomain,
    DeletePrincipal,
    RemoveAlias,
    SetCatchAll,
    UpdatePrincipal,
)
from .blobs import BlobStore
from .codec import read_u32, read_u64, unpack
from .errors import ErrorKind, MailError
from .feed import ChangeEvent, ChangeFeed
from .group import apply_group
from .models import (
    AccountState,
    BlobInfo,
    ChangeEntry,
    Domain,
    Email,
    Mailbox,
    Principal,
    decode_record,
)
from .readcache import ReadCache
from .txn import DbView

log = logging.getLogger(__name__)

# Operations that change how addresses resolve (principals, aliases, domains, quotas, members).
_DIRECTORY_OPS = frozenset(
    {
        AddAlias,
        CreateDomain,
        CreatePrincipal,
        DeleteDomain,
        DeletePrincipal,
        RemoveAlias,
        SetCatchAll,
        UpdatePrincipal,
    }
)

# 1: blob bytes in LevelDB (``B<sha>``); 2: blob bytes in the blob store (store/blobs.py).
FORMAT_VERSION = b"2"


class StoreClosed(MailError):
    pass


@dataclass
class _Pending:
    batch: Batch
    done: threading.Event | None  # for ``write``; ``submit`` reports through its callback
    callback: Callable[[ApplyResult | None, BaseException | None], None] | None = None
    result: ApplyResult | None = None
    error: BaseException | None = None


class Store:
    def __init__(self, path: str | Path, *, group_commit_max: int = 256, sync: bool = True) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._db = plyvel.DB(str(self.path), create_if_missing=True)
        except plyvel.IOError as exc:
            # LevelDB reports the lock held by another process ("lock ... LOCK: Resource
            # temporarily unavailable") and every other I/O failure the same way; only the first
            # means "in use".
            if "lock" in str(exc).lower():
                raise MailError(
                    ErrorKind.IN_USE, f"the data directory {self.path} is in use: {exc}"
                ) from exc
            raise MailError(
                ErrorKind.TEMPORARY, f"cannot open the data directory {self.path}: {exc}"
            ) from exc
        self.blobs = BlobStore(self.path / "blobs", sync=sync)
        version = self._db.get(keys.VERSION)
        if version is None:
            self._db.put(keys.VERSION, FORMAT_VERSION, sync=True)
        elif version == b"1":
            self._move_blobs_out()
        elif version != FORMAT_VERSION:
            self._db.close()
            raise MailError(ErrorKind.INVALID, f"unsupported store format {version!r}")
        self._sync = sync
        self._group_max = max(1, group_commit_max)
        self._queue: deque[_Pending] = deque()
        self._cv = threading.Condition()
        self._closing = False
        self.feed = ChangeFeed()
        self.batches_written = 0
        self.groups_written = 0
        # Bumped (before the writes are acknowledged) by every group that applied a directory
        # operation: callers caching address resolution compare it instead of re-reading.
        self.directory_version = 0
        # Decoded hot records (account states, principals, name/address → id), kept exact by
        # _commit_group (store/readcache.py).
        self._cache = ReadCache()
        self._writer = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._writer.start()

    def _move_blobs_out(self) -> None:
        """Format 1 -> 2: blob bytes move from LevelDB into the blob store (each file fsynced
        before its key is deleted; safe to repeat after a crash)."""
        moved = 0
        for key, value in list(self._db.iterator(prefix=keys.BLOB)):
            self.blobs.put(value)
            self._db.delete(key, sync=True)
            moved += 1
        self._db.put(keys.VERSION, FORMAT_VERSION, sync=True)
        if moved:
            log.info("moved %d blobs out of LevelDB into %s", moved, self.blobs.root)

    # -- writes ------------------------------------------------------------------------------
    def write(self, batch: Batch) -> ApplyResult:
        """Applies ``batch`` durably and returns its per-operation results (blocking).

        The blobs beside it (``batch.blobs``) are in the blob store, fsynced, before the batch
        is applied."""
        done = threading.Event()
        pending = _Pending(batch, done)
        self._enqueue(pending)
        done.wait()
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def submit(
        self,
        batch: Batch,
        callback: Callable[[ApplyResult | None, BaseException | None], None],
    ) -> None:
        """Queues ``batch`` (and its blobs, see :meth:`write`); ``callback(result, error)`` runs
        on the writer thread once durable."""
        self._enqueue(_Pending(batch, None, callback))

    def _enqueue(self, pending: _Pending) -> None:
        with self._cv:
            if self._closing:
                raise StoreClosed(ErrorKind.TEMPORARY, "the store is shutting down")
            self._queue.append(pending)
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closing:
                    self._cv.wait()
                if not self._queue:
                    return
                group = [
                    self._queue.popleft() for _ in range(min(len(self._queue), self._group_max))
                ]
            self._commit_group(group)

    def _put_blobs(self, group: list[_Pending]) -> tuple[list[_Pending], list[bytes]]:
        """Writes the group's blobs (every directory fsynced once) before anything of the
        group is applied; the batches whose blobs could not be written fail unapplied.
        Returns the batches to apply and the digests put (to :meth:`BlobStore.settle`)."""
        try:
            digests = self.blobs.put_many(d for pending in group for d in pending.batch.blobs)
            return group, digests
        except OSError:
            pass
        ready, digests = [], []
        for pending in group:  # one by one, to fail only the batches whose blobs fail
            try:
                digests += self.blobs.put_many(pending.batch.blobs)
                ready.append(pending)
            except OSError as exc:
                log.error("blob write failed: %s", exc)
                pending.error = MailError(ErrorKind.TEMPORARY, f"blob write failed: {exc}")
                self._finish(pending)
        return ready, digests

    def _commit_group(self, group: list[_Pending]) -> None:
        put: list[bytes] = []
        if any(pending.batch.blobs for pending in group):
            group, put = self._put_blobs(group)
        try:
            self._apply_and_write(group)
        finally:
            if put:
                self.blobs.settle(put)

    def _apply_and_write(self, group: list[_Pending]) -> None:
        # (a) the pure part every replica runs identically (store/group.py) ...
        outcome = apply_group(DbView(self._db), [pending.batch for pending in group])
        writes = outcome.writes
        try:
            with self._db.write_batch(sync=self._sync) as wb:
                for key, value in writes.items():
                    if value is None:
                        wb.delete(key)
                    else:
                        wb.put(key, value)
        except Exception as exc:
            log.exception("LevelDB write failed")
            self._cache.clear()
            for pending in group:
                pending.error = MailError(ErrorKind.TEMPORARY, f"storage write failed: {exc}")
                self._finish(pending)
            return
        # (b) what every node does once the writes are durable, before any acknowledgement:
        # no reader may see a cached value older than this group.
        self._cache.invalidate(writes)
        self.groups_written += 1
        self.batches_written += len(group)
        if any(type(op) in _DIRECTORY_OPS for pending in group for op in pending.batch.ops):
            self.directory_version += 1
        # Blobs whose last reference this group dropped: their files go now that it is durable.
        dropped = [
            key[len(keys.BLOB_REF) :]
            for key, value in writes.items()
            if value is None and key.startswith(keys.BLOB_REF)
        ]
        if dropped:
            self.blobs.discard(dropped, self._blob_referenced)
        events: list[ChangeEvent] = []
        for pending, result in zip(group, outcome.applied, strict=True):
            if isinstance(result, MailError):
                pending.error = result
            else:
                pending.result = replace(result.result, index=self.groups_written)
                # A replayed request id answers with the first application's result: nothing
                # changed now, so no change event.
                changed = dict(result.types)
                for acct, m in () if result.replayed else result.result.modseqs:
                    events.append(ChangeEvent(acct, m, changed.get(acct, frozenset())))
            # (c) what only the proposer does: answer its waiter.
            self._finish(pending)
        for event in events:
            self.feed.publish(event)

    @property
    def applied_index(self) -> int:
        """The index of the last group applied (``ApplyResult.index`` of its batches)."""
        return self.groups_written

    def _blob_referenced(self, sha: bytes) -> bool:
        return self._db.get(keys.blob_ref(sha)) is not None

    def sweep_blobs(self, min_age: float | None = None) -> int:
        """Removes orphan blob files (a crash between blob and batch, a batch that failed)."""
        return self.blobs.sweep(self._blob_referenced, min_age=min_age)

    @staticmethod
    def _finish(pending: _Pending) -> None:
        if pending.done is not None:
            pending.done.set()
        if pending.callback is not None:
            try:
                pending.callback(pending.result, pending.error)
            except Exception:
                log.exception("store write callback failed")

    def close(self) -> None:
        """Drains queued writes, stops the writer and closes the database."""
        with self._cv:
            if self._closing:
                return
            self._closing = True
            self._cv.notify_all()
        self._writer.join()
        self._db.close()

    @property
    def closed(self) -> bool:
        return self._db.closed  # type: ignore[no-any-return]

    # -- raw reads ---------------------------------------------------------------------------
    def view(self) -> DbView:
        """The committed state as :func:`store.group.apply_group` reads it."""
        return DbView(self._db)

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)  # type: ignore[no-any-return]

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return self._db.iterator(prefix=prefix)  # type: ignore[no-any-return]

    def dump(self) -> dict[bytes, bytes]:
        """Every key and value (tests compare replicas with it)."""
        return dict(self._db.iterator())

    def _record(self, cls: type[Any], key: bytes) -> Any:
        data = self._db.get(key)
        return None if data is None else decode_record(cls, data)

    def _cached_record(self, cls: type[Any], key: bytes) -> Any:
        """:meth:`_record` through the read cache (for small records read on every request)."""
        cache = self._cache
        value = cache.get(key)
        if value is None:
            ticket = cache.ticket()
            value = self._record(cls, key)
            if value is not None:
                cache.fill(ticket, key, value)
        return value

    def _cached_id(self, key: bytes) -> int | None:
        """A u32 id stored under ``key`` (a name or address index), through the read cache."""
        cache = self._cache
        value = cache.get(key)
        if value is None:
            ticket = cache.ticket()
            data = self._db.get(key)
            if data is None:
                return None
            value = read_u32(data)
            cache.fill(ticket, key, value)
        return value  # type: ignore[no-any-return]

    # -- directory ---------------------------------------------------------------------------
    def principal(self, pid: int) -> Principal | None:
        return self._cached_record(Principal, keys.principal(pid))  # type: ignore[no-any-return]

    def principal_by_name(self, name: str) -> Principal | None:
        pid = self._cached_id(keys.principal_name(name))
        return None if pid is None else self.principal(pid)

    def principal_by_address(self, address: str) -> Principal | None:
        pid = self._cached_id(keys.address(address))
        return None if pid is None else self.principal(pid)

    def principals(self) -> list[Principal]:
        return [decode_record(Principal, v) for _, v in self.scan(keys.PRINCIPAL)]

    def domain(self, name: str) -> Domain | None:
        return self._record(Domain, keys.domain(name))  # type: ignore[no-any-return]

    def domains(self) -> list[Domain]:
        return [decode_record(Domain, v) for _, v in self.scan(keys.DOMAIN)]

    # -- accounts and mail -------------------------------------------------------------------
    def account(self, acct: int) -> AccountState | None:
        return self._cached_record(AccountState, keys.account(acct))  # type: ignore[no-any-return]

    def mailbox(self, acct: int, mbox: int) -> Mailbox | None:
        return self._record(Mailbox, keys.mailbox(acct, mbox))  # type: ignore[no-any-return]

    def mailboxes(self, acct: int) -> list[Mailbox]:
        return [decode_record(Mailbox, v) for _, v in self.scan(keys.MAILBOX + keys.u32(acct))]

    def mailbox_by_role(self, acct: int, role: str) -> Mailbox | None:
        return next((mb for mb in self.mailboxes(acct) if mb.role == role), None)

    def email(self, acct: int, eid: int) -> Email | None:
        return self._record(Email, keys.email(acct, eid))  # type: ignore[no-any-return]

    def emails(self, acct: int) -> Iterator[Email]:
        for _, v in self.scan(keys.EMAIL + keys.u32(acct)):
            yield decode_record(Email, v)

    def metadata(self, acct: int, eid: int) -> bytes | None:
        return self._db.get(keys.metadata(acct, eid))  # type: ignore[no-any-return]

    def mailbox_uids(self, acct: int, mbox: int) -> list[tuple[int, int]]:
        """(uid, email id) pairs of a mailbox in UID order."""
        return [(read_u32(k, 9), read_u32(v)) for k, v in self.scan(keys.uid_prefix(acct, mbox))]

    def uid_email(self, acct: int, mbox: int, uid: int) -> int | None:
        """The email id at a UID of a mailbox (None if no message has it now)."""
        data = self._db.get(keys.uid(acct, mbox, uid))
        return None if data is None else read_u32(data)

    def keyword_spelling(self, acct: int, keyword: str) -> str | None:
        """How IMAP first spelled a (lower-case) keyword in this account (store/keywords.py)."""
        data = self._db.get(keys.keyword(acct, keyword))
        return None if data is None else bytes(data).decode()

    def thread_emails(self, acct: int, tid: int) -> list[int]:
        return [read_u32(k, 9) for k, _ in self.scan(keys.thread_prefix(acct, tid))]

    def changes_since(
        self, acct: int, modseq: int, limit: int | None = None
    ) -> list[tuple[int, tuple[ChangeEntry, ...]]]:
        """Change-log entries after ``modseq``, oldest first."""
        out: list[tuple[int, tuple[ChangeEntry, ...]]] = []
        start = keys.change(acct, modseq + 1)
        stop = keys.change_prefix(acct) + b"\xff" * 9
        for key, value in self._db.iterator(start=start, stop=stop):
            m = read_u64(key, 5)
            out.append((m, tuple(ChangeEntry(*e) for e in unpack(value))))
            if limit is not None and len(out) >= limit:
                break
        return out

    # -- generic objects ---------------------------------------------------------------------
    def object(self, acct: int, type_name: str, oid: int) -> bytes | None:
        return self._db.get(keys.object_key(acct, type_name, oid))  # type: ignore[no-any-return]

    def objects(self, acct: int, type_name: str) -> list[tuple[int, bytes]]:
        """(id, value) of every object of a type, in id order."""
        return [
            (read_u32(k, len(k) - 4), v) for k, v in self.scan(keys.object_prefix(acct, type_name))
        ]

    # -- blobs -------------------------------------------------------------------------------
    def blob_accessible(self, acct: int, sha: bytes, now: int) -> bool:
        """May this account read the blob: an email of the account references it, or the
        account uploaded it and the upload has not expired (RFC 8620 §6)."""
        if self._db.get(keys.blob_link(acct, sha)) is not None:
            return True
        hold = self._db.get(keys.upload(acct, sha))
        return hold is not None and read_u64(hold) > now and self.blob_info(sha) is not None

    def blob(self, sha: bytes) -> bytes | None:
        """A blob's bytes.  Callers come from a record that names it (an email, or an upload
        :meth:`blob_accessible` checked), so no second lookup of the record is made here."""
        return self.blobs.get(sha)

    def blob_info(self, sha: bytes) -> BlobInfo | None:
        return self._record(BlobInfo, keys.blob_ref(sha))  # type: ignore[no-any-return]
