"""The mail service: one protocol-neutral API for every mail operation, called with an
:class:`AccessToken` (Dovecot's lib-storage, Stalwart's ``email`` crate).

IMAP, JMAP, LMTP delivery (and later Sieve and submission) store and change mail only through
it: writes through a :class:`MailTransaction` (:meth:`MailService.begin`), reads that depend on
rights through the methods here.  Rights are checked here and in :mod:`.rights`, nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from store import Store
from store.codec import unpack
from store.errors import ErrorKind, MailError
from store.models import AccountState, Email, Mailbox, Principal

from .rights import Right, Rights, account_rights, in_any_mailbox, mailbox_rights
from .token import AccessToken, AuthMethod
from .transaction import MailTransaction, Writer


@dataclass(frozen=True, slots=True)
class Quota:
    """An account's storage use (RFC 9208 STORAGE, RFC 9425 Quota)."""

    used_bytes: int
    limit_bytes: int  # 0 = unlimited
    messages: int


class MailService:
    def __init__(self, store: Store, write: Writer, now: Callable[[], int]) -> None:
        self.store = store
        self.write = write
        self.now = now

    # -- tokens ------------------------------------------------------------------------------
    def token_for(self, principal: Principal, method: AuthMethod) -> AccessToken:
        """The token of a principal that has just authenticated."""
        return AccessToken.for_owner(principal, method)

    # -- writes ------------------------------------------------------------------------------
    def begin(
        self,
        token: AccessToken,
        now: int | None = None,
        *,
        atomic: bool = False,
        request_id: bytes = b"",
    ) -> MailTransaction:
        """A transaction of ``token``'s operations, stamped with the clock (or ``now``);
        ``atomic``: all or nothing; ``request_id``: a retry of it is applied at most once."""
        when = self.now() if now is None else now
        return MailTransaction(
            self.store, self.write, when, token, atomic=atomic, request_id=request_id
        )

    # -- reads -------------------------------------------------------------------------------
    def account(self, token: AccessToken, acct: int) -> AccountState:
        """The account's state (modseqs, counts); NOT_FOUND if the token may not see it."""
        account_rights(token, acct)
        state = self.store.account(acct)
        if state is None:
            raise MailError(ErrorKind.NOT_FOUND, "no such account")
        return state

    def rights(self, token: AccessToken, acct: int, mailbox_id: int) -> Rights:
        return mailbox_rights(token, acct, mailbox_id)

    def account_rights(self, token: AccessToken, acct: int) -> Rights:
        """The token's rights in the account as a whole; NOT_FOUND if it may not see it."""
        return account_rights(token, acct)

    def mailboxes(self, token: AccessToken, acct: int) -> list[Mailbox]:
        """The account's mailboxes the token may see (the ``l`` right)."""
        account_rights(token, acct)
        return [
            mb
            for mb in self.store.mailboxes(acct)
            if Right.LOOKUP in mailbox_rights(token, acct, mb.id)
        ]

    def mailbox(self, token: AccessToken, acct: int, mailbox_id: int) -> Mailbox | None:
        if not token.may_see(acct):
            return None
        mb = self.store.mailbox(acct, mailbox_id)
        if mb is None or Right.LOOKUP not in mailbox_rights(token, acct, mb.id):
            return None
        return mb

    def email(self, token: AccessToken, acct: int, email_id: int) -> Email | None:
        """The email if the token may read it in one of its mailboxes, else None."""
        if not token.may_see(acct):
            return None
        email = self.store.email(acct, email_id)
        if email is None or not in_any_mailbox(token, acct, email, Right.READ):
            return None
        return email

    def thread(self, token: AccessToken, acct: int, thread_id: int) -> list[int]:
        """The ids of the thread's emails the token may read (oldest first); [] if none."""
        if not token.may_see(acct):
            return []
        return [
            eid
            for eid in self.store.thread_emails(acct, thread_id)
            if self.email(token, acct, eid) is not None
        ]

    def quota(self, token: AccessToken, acct: int) -> Quota:
        """The account's storage use and limit; NOT_FOUND if the token may not see it."""
        state = self.account(token, acct)
        principal = self.store.principal(acct)
        limit = principal.quota if principal is not None else 0
        return Quota(state.used_bytes, limit, state.email_count)

    def metadata(self, token: AccessToken, acct: int, email_id: int) -> bytes | None:
        """The stored parse of a readable email (``messages.decode_metadata``)."""
        if self.email(token, acct, email_id) is None:
            return None
        return self.store.metadata(acct, email_id)

    def may_read_blob(self, token: AccessToken, acct: int, sha: bytes) -> bool:
        """Whether the token may read the blob in the account (an email of it references it,
        or it uploaded it and the upload has not expired, RFC 8620 §6), without reading it."""
        return token.may_see(acct) and self.store.blob_accessible(acct, sha, self.now())

    def blob(self, token: AccessToken, acct: int, sha: bytes) -> bytes | None:
        """A blob the token may read in the account (:meth:`may_read_blob`), else None."""
        if not self.may_read_blob(token, acct, sha):
            return None
        return self.store.blob(sha)

    def objects(self, token: AccessToken, acct: int, type_name: str) -> list[tuple[int, Any]]:
        """Every generic object of a type in the account (id order), decoded."""
        account_rights(token, acct)
        return [(oid, unpack(value)) for oid, value in self.store.objects(acct, type_name)]

    def object(self, token: AccessToken, acct: int, type_name: str, oid: int) -> Any | None:
        """One generic object, decoded; None if absent or the account is not visible."""
        if not token.may_see(acct):
            return None
        value = self.store.object(acct, type_name, oid)
        return None if value is None else unpack(value)
