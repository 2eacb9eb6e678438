"""What one operation of a batch sees while it is applied (``store.apply``): its own overlay of
the store, the change entries it would log, the modseq its batch assigns per account, and the
record helpers every operation uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import keys
from .codec import read_u32, read_u64, u32, u64
from .errors import ErrorKind, MailError
from .models import (
    AccountState,
    BlobInfo,
    ChangeEntry,
    Email,
    Mailbox,
    decode_record,
    encode_record,
    evolve,
)
from .txn import Overlay


def fail(kind: ErrorKind, detail: str = "") -> MailError:
    return MailError(kind, detail)


@dataclass
class BatchContext:
    now: int
    modseqs: dict[int, int] = field(default_factory=dict)
    entries: dict[int, list[ChangeEntry]] = field(default_factory=dict)
    types: dict[int, set[str]] = field(default_factory=dict)


class OpContext:
    """Reads and writes of one operation, plus the change entries it would log."""

    def __init__(self, parent: Overlay, batch: BatchContext) -> None:
        self.txn = Overlay(parent)
        self.batch = batch
        self.entries: dict[int, list[ChangeEntry]] = {}
        self.extra_types: dict[int, set[str]] = {}

    # -- generic record access -------------------------------------------------------------
    def load(self, cls: type[Any], key: bytes) -> Any:
        data = self.txn.get(key)
        return None if data is None else decode_record(cls, data)

    def save(self, key: bytes, record: Any) -> None:
        self.txn.put(key, encode_record(record))

    def counter(self, name: str) -> int:
        data = self.txn.get(keys.counter(name))
        return 0 if data is None else read_u64(data)

    def set_counter(self, name: str, value: int) -> None:
        self.txn.put(keys.counter(name), u64(value))

    # -- accounts ----------------------------------------------------------------------------
    def account(self, acct: int) -> AccountState:
        state = self.load(AccountState, keys.account(acct))
        if state is None:
            raise fail(ErrorKind.NOT_FOUND, f"account {acct}")
        return state  # type: ignore[no-any-return]

    def modseq(self, acct: int, state: AccountState | None = None) -> int:
        """The modseq this batch assigns to ``acct`` (one per batch and account).  ``state``, the
        account's record read in this operation, saves reading it again (its ``modseq`` only
        changes when the batch is finished)."""
        m = self.batch.modseqs.get(acct)
        if m is None:
            m = (self.account(acct) if state is None else state).modseq + 1
            self.batch.modseqs[acct] = m
        return m

    def change(self, acct: int, type_: str, id_: int, op: str, uid: int = 0) -> None:
        self.entries.setdefault(acct, []).append(ChangeEntry(type_, id_, op, uid))

    def mailbox(self, acct: int, mbox: int) -> Mailbox:
        mb = self.load(Mailbox, keys.mailbox(acct, mbox))
        if mb is None:
            raise fail(ErrorKind.NOT_FOUND, f"mailbox {mbox}")
        return mb  # type: ignore[no-any-return]

    def email(self, acct: int, eid: int) -> Email:
        em = self.load(Email, keys.email(acct, eid))
        if em is None:
            raise fail(ErrorKind.NOT_FOUND, f"email {eid}")
        return em  # type: ignore[no-any-return]

    def adjust_mailbox(
        self,
        acct: int,
        mbox: int,
        *,
        total: int = 0,
        unseen: int = 0,
        deleted: int = 0,
        size: int = 0,
    ) -> Mailbox:
        mb = self.mailbox(acct, mbox)
        m = self.modseq(acct)
        mb = evolve(
            mb,
            total=mb.total + total,
            unseen=mb.unseen + unseen,
            deleted=mb.deleted + deleted,
            size=mb.size + size,
            highest_modseq=m,
        )
        self.save(keys.mailbox(acct, mbox), mb)
        self.change(acct, "Mailbox", mbox, "u")
        return mb

    # -- blobs -------------------------------------------------------------------------------
    def blob_link(self, acct: int, sha: bytes, delta: int) -> None:
        """Counts the account's emails referencing a blob (download access, RFC 8620 §6.2)."""
        key = keys.blob_link(acct, sha)
        data = self.txn.get(key)
        count = (0 if data is None else read_u32(data)) + delta
        if count > 0:
            self.txn.put(key, u32(count))
        else:
            self.txn.delete(key)

    def blob_ref(self, sha: bytes, delta: int, info: BlobInfo | None = None) -> None:
        """Adjusts the blob's reference count; ``info`` is its record if already read."""
        if info is None:
            info = self.load(BlobInfo, keys.blob_ref(sha))
        if info is None:
            raise fail(ErrorKind.NOT_FOUND, "blob")
        refs = info.refs + delta
        if refs <= 0 and info.hold_until <= self.batch.now:
            self.txn.delete(keys.blob_ref(sha))
        else:
            self.save(keys.blob_ref(sha), evolve(info, refs=max(refs, 0)))
