"""Mutations as values.

A :class:`Batch` is a frozen, serialisable list of operations together with everything that would
otherwise make applying it non-deterministic (the clock reading ``now``).  Ids, UIDs and modseqs
are *not* in the batch: they are assigned from counters in the store while the batch is applied, so
every replica that applies the same sequence of batches assigns the same ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .codec import pack, unpack
from .errors import MailError

BATCH_VERSION = 2  # 2: PutBlob/UploadBlob carry the size, not the bytes; request ids

# Sentinel for "leave unchanged" in update operations (ids are >= 1, so -1 is free).
UNCHANGED = -1


@dataclass(frozen=True, slots=True)
class Op:
    TAG: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class CreateDomain(Op):
    TAG: ClassVar[str] = "domain+"
    name: str


@dataclass(frozen=True, slots=True)
class DeleteDomain(Op):
    TAG: ClassVar[str] = "domain-"
    name: str


@dataclass(frozen=True, slots=True)
class SetCatchAll(Op):
    TAG: ClassVar[str] = "catchall"
    domain: str
    principal_id: int  # 0 clears


# (name, role, sort_order, subscribed)
MailboxSpec = tuple[str, str, int, bool]


@dataclass(frozen=True, slots=True)
class CreatePrincipal(Op):
    """Creates a principal, its addresses, and (for accounts) its account state and mailboxes."""

    TAG: ClassVar[str] = "principal+"
    kind: str
    name: str
    emails: tuple[str, ...]
    secret: str
    quota: int = 0
    members: tuple[int, ...] = ()
    description: str = ""
    roles: tuple[str, ...] = ()
    mailboxes: tuple[MailboxSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class UpdatePrincipal(Op):
    TAG: ClassVar[str] = "principal~"
    principal_id: int
    secret: str | None = None
    quota: int | None = None
    members: tuple[int, ...] | None = None
    description: str | None = None
    roles: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class DeletePrincipal(Op):
    TAG: ClassVar[str] = "principal-"
    principal_id: int


@dataclass(frozen=True, slots=True)
class AddAlias(Op):
    TAG: ClassVar[str] = "alias+"
    address: str
    principal_id: int


@dataclass(frozen=True, slots=True)
class RemoveAlias(Op):
    TAG: ClassVar[str] = "alias-"
    address: str


@dataclass(frozen=True, slots=True)
class CreateMailbox(Op):
    TAG: ClassVar[str] = "mailbox+"
    account_id: int
    name: str
    parent_id: int = 0
    role: str = ""
    sort_order: int = 0
    subscribed: bool = True


@dataclass(frozen=True, slots=True)
class UpdateMailbox(Op):
    TAG: ClassVar[str] = "mailbox~"
    account_id: int
    mailbox_id: int
    name: str | None = None
    parent_id: int = UNCHANGED  # 0 = move to top level
    role: str | None = None
    sort_order: int | None = None
    subscribed: bool | None = None


@dataclass(frozen=True, slots=True)
class DestroyMailbox(Op):
    TAG: ClassVar[str] = "mailbox-"
    account_id: int
    mailbox_id: int
    remove_emails: bool = False


@dataclass(frozen=True, slots=True)
class PutBlob(Op):
    """Records a blob (content-addressed, its bytes already in the blob store: see
    :mod:`store.blobs`) and holds it until ``hold_until`` even if unreferenced."""

    TAG: ClassVar[str] = "blob+"
    sha: bytes
    size: int
    hold_until: int


@dataclass(frozen=True, slots=True)
class ImportEmail(Op):
    """Adds an email whose blob is already stored (or put earlier in the same batch)."""

    TAG: ClassVar[str] = "email+"
    account_id: int
    blob: bytes
    size: int
    mailbox_ids: tuple[int, ...]
    keywords: tuple[str, ...]
    received_at: int
    metadata: bytes
    message_id: str = ""
    references: tuple[str, ...] = ()  # In-Reply-To and References ids
    subject: str = ""  # normalised subject, for threading
    dedupe_window: int = 0  # seconds; 0 = no duplicate suppression
    delivery: bool = False  # arrived by delivery (JMAP EmailDelivery push type)


@dataclass(frozen=True, slots=True)
class UpdateEmail(Op):
    TAG: ClassVar[str] = "email~"
    account_id: int
    email_id: int
    keywords_add: tuple[str, ...] = ()
    keywords_remove: tuple[str, ...] = ()
    keywords_set: tuple[str, ...] | None = None
    mailboxes_add: tuple[int, ...] = ()
    mailboxes_remove: tuple[int, ...] = ()
    mailboxes_set: tuple[int, ...] | None = None
    if_modseq: int = 0  # conditional update (IMAP UNCHANGEDSINCE); 0 = unconditional
    # Mailboxes the email stays in under a new UID (IMAP MOVE to the selected mailbox): its
    # old UID is expunged there and a new one appended; the email keeps its id.
    mailboxes_renew: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class NameKeywords(Op):
    """Records how IMAP spells keywords: each spelling whose lower-case keyword has none yet
    becomes its spelling (the first wins; ``store/keywords.py``).  Touches no email, modseq
    or change log."""

    TAG: ClassVar[str] = "keyword-names"
    account_id: int
    spellings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DestroyEmail(Op):
    TAG: ClassVar[str] = "email-"
    account_id: int
    email_id: int


@dataclass(frozen=True, slots=True)
class UploadBlob(Op):
    """Stores a blob uploaded to an account (RFC 8620 §6.1): the account may use it until
    ``hold_until`` even while no email references it."""

    TAG: ClassVar[str] = "upload"
    account_id: int
    sha: bytes
    size: int
    hold_until: int


@dataclass(frozen=True, slots=True)
class SetObject(Op):
    """Creates (``object_id`` 0) or replaces a generic per-account object of ``type_name``.

    The value is opaque to the store (its protocol owns the shape); the store assigns ids and
    logs changes, so JMAP ``/get``, ``/changes`` and states work for it like for mail."""

    TAG: ClassVar[str] = "object~"
    account_id: int
    type_name: str
    object_id: int
    value: bytes


@dataclass(frozen=True, slots=True)
class DestroyObject(Op):
    TAG: ClassVar[str] = "object-"
    account_id: int
    type_name: str
    object_id: int


@dataclass(frozen=True, slots=True)
class ExpireBlobs(Op):
    """Deletes unreferenced blobs whose hold expired at or before ``now`` of the batch."""

    TAG: ClassVar[str] = "blob-expire"


@dataclass(frozen=True, slots=True)
class ExpireRequests(Op):
    """Forgets request ids applied ``REQUEST_TTL`` or more before ``now`` of the batch."""

    TAG: ClassVar[str] = "request-expire"


@dataclass(frozen=True, slots=True)
class CompactChanges(Op):
    """Drops an account's change-log entries older than the newest ``keep`` ones."""

    TAG: ClassVar[str] = "changes-compact"
    account_id: int
    keep: int


OP_TYPES: dict[str, type[Op]] = {
    cls.TAG: cls
    for cls in (
        CreateDomain,
        DeleteDomain,
        SetCatchAll,
        CreatePrincipal,
        UpdatePrincipal,
        DeletePrincipal,
        AddAlias,
        RemoveAlias,
        CreateMailbox,
        UpdateMailbox,
        DestroyMailbox,
        PutBlob,
        ImportEmail,
        UpdateEmail,
        NameKeywords,
        DestroyEmail,
        ExpireBlobs,
        ExpireRequests,
        CompactChanges,
        UploadBlob,
        SetObject,
        DestroyObject,
    )
}


@dataclass(frozen=True, slots=True)
class Batch:
    ops: tuple[Op, ...]
    now: int  # unix seconds, read once by whoever built the batch
    # The bytes of the blobs its PutBlob/UploadBlob ops record.  They travel beside the batch,
    # never in its wire form (:meth:`encode`): the write log puts them in the blob store,
    # fsynced, before the batch is applied (store/blobs.py).
    blobs: tuple[bytes, ...] = field(default=(), compare=False, repr=False)
    # Set by a proposer that may propose the same batch again (store/requests.py): a batch
    # whose request id was applied already is answered with that result, not applied twice.
    request_id: bytes = b""
    # All or nothing: if any operation fails, apply writes none of the batch (IMAP MULTIAPPEND,
    # RFC 3502 §6.3.11), decided inside apply instead of undone by a second batch.
    atomic: bool = False

    def encode(self) -> bytes:
        ops = [[op.TAG, *(getattr(op, f.name) for f in dataclasses.fields(op))] for op in self.ops]
        return pack([BATCH_VERSION, self.now, ops, self.request_id, self.atomic])

    @classmethod
    def decode(cls, data: bytes) -> Batch:
        version, now, ops, request_id, atomic = unpack(data)
        if version != BATCH_VERSION:
            raise ValueError(f"unsupported batch version {version}")
        return cls(
            ops=tuple(OP_TYPES[tag](*fields) for tag, *fields in ops),
            now=now,
            request_id=request_id,
            atomic=atomic,
        )


@dataclass(frozen=True, slots=True)
class OpResult:
    """The outcome of one operation: a value, or an error as a value (never an exception)."""

    value: Any = None
    error: MailError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class EmailCreated:
    email_id: int
    thread_id: int
    uids: tuple[tuple[int, int], ...]  # (mailbox id, uid)
    modseq: int
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class ApplyResult:
    results: tuple[OpResult, ...]
    modseqs: tuple[tuple[int, int], ...]  # (account, new modseq) for every account touched
    # The log index of the group that applied the batch (store.writelog): a reader waits for it
    # with ``WriteLog.wait_applied`` to see its own write on any node.  Not part of equality.
    index: int = field(default=0, compare=False)

    def __getitem__(self, i: int) -> OpResult:
        return self.results[i]
