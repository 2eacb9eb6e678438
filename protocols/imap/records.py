"""Decoded email records shared by every IMAP session of a server, kept current from the
change log.

Ten sessions selecting the same 1,000-message mailbox used to decode the same 10,000 msgpack
records between them (SELECT's flag list, FETCH 1:*, every SEARCH).  :class:`RecordCache` keeps
each account's decoded :class:`~store.models.Email` records once, as of change-log modseq
``modseq``: :meth:`RecordCache.sync` reads the log from there and drops every email with an
``Email`` entry (every write of an email record logs one: created, updated — keywords,
mailboxes, thread — or destroyed), and the next read decodes it again from the store.

Freshness: a session brings the cache up to date in the same step as it polls its own view
(:meth:`protocols.imap.selected.SelectedMailbox.poll`), *after* its own scan of the log and to
at least the modseq that scan reached (``at_least``; or by handing the cache the very entries
it scanned, :meth:`RecordCache.advance`).  A write can land between a session's read of the
account state and its log scan; the session consumes it, so the records must cover it too, or
the session would report flags older than a change it will never report again (the IMAP
stress test caught exactly that in a first version).  So the cache is never older than what
any session has consumed; a record read from the store after that may be newer, exactly as a
direct store read would be.  Nothing is kept that the log does not invalidate, and a log
compacted past the cache's modseq (or a deleted account) drops the account's records
wholesale.  Records are frozen values, so sharing them is safe.

All calls come from the server's one trio thread; the store's writer thread only writes
LevelDB, which commits a batch's records and log entries atomically.
"""

from __future__ import annotations

from collections import OrderedDict

from store import Store
from store.models import AccountState, ChangeEntry, Email

DEFAULT_MAX_RECORDS = 100_000  # decoded records over all accounts (≈0.7 KiB each: ≈70 MiB)
DEFAULT_MAX_ACCOUNTS = 256
MAX_LISTED_UIDS = 500_000  # UIDs over all kept mailbox listings


class Listing:
    """A mailbox's UIDs (ascending) and their email ids as of one account modseq, shared by the
    sessions that select it while the account stays at that modseq (read-only to them: a
    session copies what it will change).  ``keywords`` — every keyword set on a message in it,
    for SELECT's FLAGS — is filled in once by the first session that needs it."""

    __slots__ = ("uids", "email_ids", "keywords")

    def __init__(self, uids: tuple[int, ...], email_ids: dict[int, int]) -> None:
        self.uids = uids
        self.email_ids = email_ids
        self.keywords: frozenset[str] | None = None


class _AccountRecords:
    __slots__ = ("modseq", "emails")

    def __init__(self, modseq: int) -> None:
        self.modseq = modseq
        self.emails: dict[int, Email] = {}


class RecordCache:
    """Per-account decoded email records, valid as of each account's ``modseq``."""

    def __init__(
        self,
        store: Store,
        *,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_accounts: int = DEFAULT_MAX_ACCOUNTS,
        max_listed_uids: int = MAX_LISTED_UIDS,
    ) -> None:
        self.store = store
        self.max_records = max(1, max_records)
        self.max_accounts = max(1, max_accounts)
        self._accounts: OrderedDict[int, _AccountRecords] = OrderedDict()
        self._size = 0
        self._listings: OrderedDict[tuple[int, int, int], Listing] = OrderedDict()
        self._listed = 0
        self.max_listed_uids = max_listed_uids
        self._spellings: dict[int, dict[str, str]] = {}

    def spelling(self, acct: int, keyword: str) -> str | None:
        """How an IMAP client first spelled ``keyword`` (lower case) in the account, None if
        none ever did (store/keywords.py).  A recorded spelling never changes (the first
        wins), so the ones found are kept; a missing one is asked for again each time."""
        known = self._spellings.get(acct)
        if known is None:
            if len(self._spellings) >= self.max_accounts:
                del self._spellings[next(iter(self._spellings))]
            known = self._spellings[acct] = {}
        found = known.get(keyword)
        if found is None:
            found = self.store.keyword_spelling(acct, keyword)
            if found is not None:
                known[keyword] = found
        return found

    def listing(self, acct: int, mbox: int, modseq: int) -> Listing | None:
        """The listing of ``mbox`` kept for account modseq ``modseq``, if any.  The key is the
        account's modseq, which every write to the account raises, so a listing is never
        stale: a later state simply has no listing yet."""
        found = self._listings.get((acct, mbox, modseq))
        if found is not None:
            self._listings.move_to_end((acct, mbox, modseq))
        return found

    def keep_listing(self, acct: int, mbox: int, modseq: int, listing: Listing) -> None:
        """Remember a listing read from the store while the account stood at ``modseq`` (the
        caller checks that it still did after the read)."""
        key = (acct, mbox, modseq)
        if key in self._listings or len(listing.uids) > self.max_listed_uids:
            return
        # One listing per mailbox: an older modseq's can no longer be asked for.
        for old in [k for k in self._listings if k[0] == acct and k[1] == mbox]:
            self._listed -= len(self._listings.pop(old).uids)
        self._listings[key] = listing
        self._listed += len(listing.uids)
        while self._listed > self.max_listed_uids:
            _, dropped = self._listings.popitem(last=False)
            self._listed -= len(dropped.uids)

    def __len__(self) -> int:
        return self._size

    def modseq(self, acct: int) -> int | None:
        """The modseq the account's records are current with (None: not cached)."""
        entry = self._accounts.get(acct)
        return None if entry is None else entry.modseq

    def sync(self, acct: int, state: AccountState | None, *, at_least: int = 0) -> None:
        """Brings the account's records up to date with ``state`` (read by the caller just
        before) and with the change log up to ``at_least`` (what the caller has read of it
        since: a write may land between the two reads).  Every change in the log when the
        scan runs is then reflected.  An older ``state`` than the cache's changes nothing."""
        if state is None:
            self._drop(acct)
            return
        entry = self._accounts.get(acct)
        if entry is None or entry.modseq < state.changes_floor:
            # First use, or history compacted past us: start empty at the state just read
            # (records read from now on are at least that new).
            self._drop(acct)
            entry = self._accounts[acct] = _AccountRecords(state.modseq)
            while len(self._accounts) > self.max_accounts:
                self._drop(next(iter(self._accounts)))
        elif entry.modseq < max(state.modseq, at_least):
            emails = entry.emails
            start = last = entry.modseq
            for modseq, entries in self.store.changes_since(acct, start):
                last = modseq
                for e in entries:
                    if e.type == "Email" and emails.pop(e.id, None) is not None:
                        self._size -= 1
            if self._compacted_past(acct, start):
                return
            # The log may already hold writes that landed after ``state`` was read: their
            # emails were dropped too, so the records are current with ``last``.
            entry.modseq = max(last, state.modseq)
        self._accounts.move_to_end(acct)

    def _compacted_past(self, acct: int, start: int) -> bool:
        """After a scan of the log from ``start``: if history was compacted past ``start``
        meanwhile (the janitor's CompactChanges landing between the caller's state read and
        the scan), the scan missed entries, so the account's records are dropped."""
        now = self.store.account(acct)
        if now is None or now.changes_floor > start:
            self._drop(acct)
            return True
        return False

    def advance(
        self, acct: int, start: int, changes: list[tuple[int, tuple[ChangeEntry, ...]]]
    ) -> None:
        """Applies change-log entries a caller read from ``start`` on (``changes_since``
        output), if the account's records stand exactly at ``start``; otherwise :meth:`sync`
        reads the log itself."""
        entry = self._accounts.get(acct)
        if entry is None or entry.modseq != start or not changes:
            return
        if self._compacted_past(acct, start):
            return
        emails = entry.emails
        for _, entries in changes:
            for e in entries:
                if e.type == "Email" and emails.pop(e.id, None) is not None:
                    self._size -= 1
        entry.modseq = changes[-1][0]

    def cached(self, acct: int) -> dict[int, Email] | None:
        """The account's cached records by email id (read-only; None: account not synced).
        A missing id is read through :meth:`email`."""
        entry = self._accounts.get(acct)
        return None if entry is None else entry.emails

    def email(self, acct: int, eid: int) -> Email | None:
        """The email's record: cached when the account is synced, else read directly."""
        entry = self._accounts.get(acct)
        if entry is None:
            return self.store.email(acct, eid)
        email = entry.emails.get(eid)
        if email is None:
            email = self.store.email(acct, eid)
            if email is not None:
                entry.emails[eid] = email
                self._size += 1
                if self._size > self.max_records:
                    self._shrink(acct)
        return email

    def _drop(self, acct: int) -> None:
        entry = self._accounts.pop(acct, None)
        if entry is not None:
            self._size -= len(entry.emails)

    def _shrink(self, keep: int) -> None:
        """Over the record budget: forget the least recently synced accounts, then (one huge
        account) this account's records; they are decoded again on demand."""
        for acct in list(self._accounts):
            if self._size <= self.max_records:
                return
            if acct != keep:
                self._drop(acct)
        entry = self._accounts.get(keep)
        if entry is not None and self._size > self.max_records:
            self._size -= len(entry.emails)
            entry.emails.clear()
