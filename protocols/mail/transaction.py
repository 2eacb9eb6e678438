"""One mail-service transaction: operations collected with their rights checked, written as one
batch (one atomic, durable store write, one modseq per account touched).

Every method checks the token's rights when it is called and raises :class:`MailError` then
(NOT_FOUND when the token may not see the object, NO_PERMISSION when it sees it without the
right), so a protocol can report a refused object and go on with the others.  It returns a
:class:`Ref`; after :meth:`MailTransaction.commit`, ``result[ref]`` is that operation's
outcome: a value, or a domain error as a value (the store never raises for those).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from store import ApplyResult, Batch, OpResult, Store
from store.batch import (
    UNCHANGED,
    CreateMailbox,
    DestroyEmail,
    DestroyMailbox,
    DestroyObject,
    NameKeywords,
    Op,
    SetObject,
    UpdateEmail,
    UpdateMailbox,
    UploadBlob,
)
from store.codec import pack
from store.errors import ErrorKind, MailError
from store.models import Email

from .messages import NewMessage, copy_email_op, new_email_ops
from .rights import Right, in_any_mailbox, keyword_right, require
from .token import AccessToken

# How a transaction's batch is written (the group-committed store path).
Writer = Callable[[Batch], Awaitable[ApplyResult]]


@dataclass(frozen=True, slots=True)
class Ref:
    """The position of an operation's result in its transaction."""

    index: int


@dataclass(frozen=True, slots=True)
class Committed:
    """The outcome of a committed transaction."""

    applied: ApplyResult | None  # None when there was nothing to write

    def __getitem__(self, ref: Ref) -> OpResult:
        assert self.applied is not None, "a Ref of an empty transaction"
        return self.applied.results[ref.index]

    def modseq(self, acct: int) -> int:
        """The account's modseq after this transaction (0 if it did not touch it)."""
        if self.applied is None:
            return 0
        return dict(self.applied.modseqs).get(acct, 0)

    def error(self) -> MailError | None:
        """The first operation error, if any."""
        if self.applied is None:
            return None
        return next((r.error for r in self.applied.results if r.error is not None), None)


class MailTransaction:
    """Operations of one token, written together by :meth:`commit` (a builder: not shared)."""

    def __init__(
        self,
        store: Store,
        write: Writer,
        now: int,
        token: AccessToken,
        *,
        atomic: bool = False,
        request_id: bytes = b"",
    ) -> None:
        self.store = store
        self.token = token
        self.now = now
        # All or nothing (Batch.atomic): one failed operation and none is written.
        self.atomic = atomic
        # Proposed again with the same id, it is answered with the first result (requests.py).
        self.request_id = request_id
        self._write = write
        self._ops: list[Op] = []
        self._blobs: list[bytes] = []  # bytes of the blobs the ops record (Batch.blobs)

    def __len__(self) -> int:
        return len(self._ops)

    def _add(self, op: Op) -> Ref:
        self._ops.append(op)
        return Ref(len(self._ops) - 1)

    # -- checks ------------------------------------------------------------------------------
    def _visible_email(self, acct: int, email_id: int) -> Email:
        """The email, if the token may read it in one of its mailboxes; NOT_FOUND otherwise."""
        email = self.store.email(acct, email_id) if self.token.may_see(acct) else None
        if email is None or not in_any_mailbox(self.token, acct, email, Right.READ):
            raise MailError(ErrorKind.NOT_FOUND, "no such email")
        return email

    def _require_any(self, acct: int, email: Email, right: Right) -> None:
        """``right`` in one of the email's mailboxes."""
        if not in_any_mailbox(self.token, acct, email, right):
            raise MailError(ErrorKind.NO_PERMISSION, f"the {right.name.lower()} right is missing")

    def _require_keywords(self, acct: int, words: Iterable[str], mailbox_id: int) -> None:
        for right in {keyword_right(w.lower()) for w in words}:
            require(self.token, acct, right, mailbox_id)

    # -- messages ----------------------------------------------------------------------------
    def import_message(self, acct: int, new: NewMessage) -> Ref:
        """Stores a new message (its blob, held until now) as an email of ``acct``: APPEND,
        Email/set create, Email/import, delivery.  The Ref's value is an ``EmailCreated``."""
        for mailbox_id in new.mailbox_ids:
            require(self.token, acct, Right.POST if new.delivery else Right.INSERT, mailbox_id)
            self._require_keywords(acct, new.keywords, mailbox_id)
        blob, email = new_email_ops(acct, new, hold_until=self.now)
        self._blobs.append(new.raw)
        self._add(blob)
        return self._add(email)

    def copy_email(
        self,
        from_acct: int,
        email_id: int,
        to_acct: int,
        mailbox_ids: tuple[int, ...],
        *,
        keywords: tuple[str, ...] | None = None,
        received_at: int | None = None,
    ) -> Ref:
        """A new email in ``to_acct`` sharing the original's blob (IMAP COPY, Email/copy)."""
        original = self._visible_email(from_acct, email_id)
        metadata = self.store.metadata(from_acct, email_id) or b""
        words = original.keywords if keywords is None else keywords
        for mailbox_id in mailbox_ids:
            require(self.token, to_acct, Right.INSERT, mailbox_id)
            self._require_keywords(to_acct, words, mailbox_id)
        when = original.received_at if received_at is None else received_at
        return self._add(copy_email_op(to_acct, original, metadata, mailbox_ids, words, when))

    def update_email(
        self,
        acct: int,
        email_id: int,
        *,
        keywords_add: tuple[str, ...] = (),
        keywords_remove: tuple[str, ...] = (),
        keywords_set: tuple[str, ...] | None = None,
        mailboxes_add: tuple[int, ...] = (),
        mailboxes_remove: tuple[int, ...] = (),
        mailboxes_set: tuple[int, ...] | None = None,
        mailboxes_renew: tuple[int, ...] = (),
        if_modseq: int = 0,
    ) -> Ref:
        """Changes an email's keywords and mailboxes (IMAP STORE/MOVE, Email/set update)."""
        email = self._visible_email(acct, email_id)
        changed = set(keywords_add) | set(keywords_remove)
        if keywords_set is not None:
            changed |= set(keywords_set) ^ set(email.keywords)
        for right in {keyword_right(w.lower()) for w in changed}:
            self._require_any(acct, email, right)
        current = {m for m, _ in email.mailboxes}
        target = set(mailboxes_set) if mailboxes_set is not None else current | set(mailboxes_add)
        target -= set(mailboxes_remove)
        for mailbox_id in target - current:
            require(self.token, acct, Right.INSERT, mailbox_id)
        for mailbox_id in current - target:
            require(self.token, acct, Right.EXPUNGE, mailbox_id)
        for mailbox_id in mailboxes_renew:
            require(self.token, acct, Right.INSERT, mailbox_id)
            require(self.token, acct, Right.EXPUNGE, mailbox_id)
        return self._add(
            UpdateEmail(
                acct,
                email_id,
                keywords_add=keywords_add,
                keywords_remove=keywords_remove,
                keywords_set=keywords_set,
                mailboxes_add=mailboxes_add,
                mailboxes_remove=mailboxes_remove,
                mailboxes_set=mailboxes_set,
                mailboxes_renew=mailboxes_renew,
                if_modseq=if_modseq,
            )
        )

    def move_email(self, acct: int, email_id: int, source: int, target: int) -> Ref:
        """IMAP MOVE (RFC 6851): out of ``source`` into ``target``; to the same mailbox, the
        email gets a new UID there (as Dovecot does)."""
        if source == target:
            return self.update_email(acct, email_id, mailboxes_renew=(target,))
        return self.update_email(
            acct, email_id, mailboxes_remove=(source,), mailboxes_add=(target,)
        )

    def expunge_email(self, acct: int, email: Email, mailbox_id: int) -> Ref:
        """IMAP EXPUNGE of one message: out of ``mailbox_id``; an email in no other mailbox is
        destroyed (its blob released)."""
        require(self.token, acct, Right.EXPUNGE, mailbox_id)
        if len(email.mailboxes) == 1:
            return self._add(DestroyEmail(acct, email.id))
        return self._add(UpdateEmail(acct, email.id, mailboxes_remove=(mailbox_id,)))

    def destroy_email(self, acct: int, email_id: int) -> Ref:
        """Destroys an email wherever it is (JMAP Email/set destroy): EXPUNGE in each mailbox."""
        email = self._visible_email(acct, email_id)
        for mailbox_id, _ in email.mailboxes:
            require(self.token, acct, Right.EXPUNGE, mailbox_id)
        return self._add(DestroyEmail(acct, email_id))

    def name_keywords(self, acct: int, spellings: tuple[str, ...]) -> Ref | None:
        """Records the first IMAP spelling of these keywords (store/keywords.py)."""
        if not spellings:
            return None
        require(self.token, acct, Right.WRITE)
        return self._add(NameKeywords(acct, spellings))

    # -- mailboxes ---------------------------------------------------------------------------
    def create_mailbox(
        self,
        acct: int,
        name: str,
        *,
        parent_id: int = 0,
        role: str = "",
        sort_order: int = 0,
        subscribed: bool = True,
    ) -> Ref:
        """The Ref's value is the new mailbox's id."""
        require(self.token, acct, Right.CREATE, parent_id or None)
        return self._add(CreateMailbox(acct, name, parent_id, role, sort_order, subscribed))

    def update_mailbox(
        self,
        acct: int,
        mailbox_id: int,
        *,
        name: str | None = None,
        parent_id: int = UNCHANGED,
        role: str | None = None,
        sort_order: int | None = None,
        subscribed: bool | None = None,
    ) -> Ref:
        require(self.token, acct, Right.LOOKUP, mailbox_id)
        if name is not None or parent_id != UNCHANGED or role is not None:
            require(self.token, acct, Right.DELETE_MAILBOX, mailbox_id)
        if parent_id not in (UNCHANGED, 0):
            require(self.token, acct, Right.CREATE, parent_id)
        elif parent_id == 0:
            require(self.token, acct, Right.CREATE)
        return self._add(
            UpdateMailbox(acct, mailbox_id, name, parent_id, role, sort_order, subscribed)
        )

    def destroy_mailbox(self, acct: int, mailbox_id: int, *, remove_emails: bool = False) -> Ref:
        require(self.token, acct, Right.DELETE_MAILBOX, mailbox_id)
        if remove_emails:
            require(self.token, acct, Right.EXPUNGE, mailbox_id)
        return self._add(DestroyMailbox(acct, mailbox_id, remove_emails))

    # -- blobs and objects -------------------------------------------------------------------
    def upload_blob(self, acct: int, sha: bytes, data: bytes, hold_until: int) -> Ref:
        """An upload the account may use until ``hold_until`` (RFC 8620 §6.1)."""
        require(self.token, acct, Right.INSERT)
        if hashlib.sha256(data).digest() != sha:
            raise MailError(ErrorKind.INVALID, "blob digest mismatch")
        self._blobs.append(data)
        return self._add(UploadBlob(acct, sha, len(data), hold_until))

    def set_object(self, acct: int, type_name: str, object_id: int, value: Any) -> Ref:
        """Creates (``object_id`` 0; the Ref's value is the new id) or replaces a generic
        per-account object (Identity, VacationResponse, PushSubscription ...); ``value`` is any
        msgpack-able value (dicts, lists, str, int, bytes), read back by
        :meth:`MailService.object` (lists as tuples)."""
        require(self.token, acct, Right.ADMIN)
        return self._add(SetObject(acct, type_name, object_id, pack(value)))

    def destroy_object(self, acct: int, type_name: str, object_id: int) -> Ref:
        require(self.token, acct, Right.ADMIN)
        return self._add(DestroyObject(acct, type_name, object_id))

    # -- commit ------------------------------------------------------------------------------
    async def commit(self) -> Committed:
        """Writes every operation as one batch (nothing when there is none)."""
        if not self._ops:
            return Committed(None)
        ops, self._ops = tuple(self._ops), []
        blobs, self._blobs = tuple(self._blobs), []
        batch = Batch(
            ops, now=self.now, blobs=blobs, request_id=self.request_id, atomic=self.atomic
        )
        return Committed(await self._write(batch))
