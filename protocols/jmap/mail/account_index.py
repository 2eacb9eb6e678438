"""The account index: the few small fields of every email that queries, Mailbox counts and
Thread/get read, kept per account in memory.

Queries, Mailbox counts and Thread/get need a few small fields of every email (thread, size,
receivedAt, keywords, mailboxes).  :func:`account_index` keeps them per account, in memory, and
brings them up to date from the store's change log on each use (an O(changes) step: every
change to these fields logs an ``Email`` entry), so a query over 10,000 messages does not
decode 10,000 records each time.  A state older than the change-log floor, or a first use,
reads every record once.  Fields that only come from the parsed message (sentAt, first
From/To, base subject, hasAttachment) are immutable per email and are filled lazily, once, when
a filter or sort needs them.

:attr:`AccountIndex.derived` holds results computed from the index (query results, Email/get
and Mailbox/get answers) until the next change; their keys hold the asking token's view
(``JmapContext.view``), so one token never gets another's cached answer.
"""

from __future__ import annotations

import weakref
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from protocols.mail import decode_metadata, decode_metadata_wire
from protocols.mime import WIRE_VERSION, ParsedMessage
from store import Store
from store.models import Email

MAX_CACHED_ACCOUNTS: Final = 64
MAX_DERIVED: Final = 1024  # entries of AccountIndex.derived between two changes


# -- the account index ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EmailRow:
    id: int
    thread_id: int
    size: int
    received_at: int
    keywords: frozenset[str]
    mailboxes: frozenset[int]
    blob: bytes

    @classmethod
    def of(cls, em: Email) -> EmailRow:
        return cls(
            em.id,
            em.thread_id,
            em.size,
            em.received_at,
            frozenset(em.keywords),
            frozenset(m for m, _ in em.mailboxes),
            em.blob,
        )


@dataclass(frozen=True, slots=True)
class ContentInfo:
    """Immutable per-email values from the parsed message, for filters and sorts."""

    sent_at: int
    from_key: str
    to_key: str
    subject_key: str
    has_attachment: bool


def _unread(row: EmailRow) -> bool:
    """RFC 8621 §2 unreadEmails: neither ``$seen`` nor ``$draft``."""
    kw = row.keywords
    return "$seen" not in kw and "$draft" not in kw


class _BoxStats:
    """One mailbox's members and the counts Mailbox/get reports, kept up to date row by row.

    ``members`` is replaced, never mutated, so a caller iterating an earlier set (a query that
    awaits the full-text index) is not disturbed by a change landing meanwhile."""

    __slots__ = ("members", "unread", "threads", "unread_threads")

    def __init__(self) -> None:
        self.members: frozenset[int] = frozenset()
        self.unread = 0
        self.threads: Counter[int] = Counter()  # thread id → member emails in that thread
        self.unread_threads: Counter[int] = Counter()

    def add(self, row: EmailRow, unread: bool) -> None:
        self.threads[row.thread_id] += 1
        if unread:
            self.unread += 1
            self.unread_threads[row.thread_id] += 1

    def discard(self, row: EmailRow, unread: bool) -> None:
        _decrement(self.threads, row.thread_id)
        if unread:
            self.unread -= 1
            _decrement(self.unread_threads, row.thread_id)


def _decrement(counter: Counter[int], key: int) -> None:
    n = counter[key] - 1
    if n > 0:
        counter[key] = n
    else:
        del counter[key]


class AccountIndex:
    """Per-account email rows, current as of change-log modseq ``modseq``."""

    def __init__(self, modseq: int) -> None:
        self.modseq = modseq
        self.rows: dict[int, EmailRow] = {}
        self.content: dict[int, ContentInfo] = {}
        self._threads: dict[int, list[int]] | None = None
        # Built on first use, then maintained by put/remove (O(mailboxes of the row) per
        # change instead of a pass over every row).
        self._boxes: dict[int, _BoxStats] | None = None
        self.derived: dict[Any, Any] = {}  # caches valid until the next change

    def put(self, row: EmailRow) -> None:
        old = self.rows.get(row.id)
        self.rows[row.id] = row
        if self._boxes is not None:
            if old is not None:
                self._unplace(old)
            self._place(row)
        self._invalidate()

    def remove(self, eid: int) -> None:
        old = self.rows.pop(eid, None)
        self.content.pop(eid, None)
        if old is not None and self._boxes is not None:
            self._unplace(old)
        self._invalidate()

    def remember(self, key: Any, value: Any) -> None:
        """Keep ``value`` in :attr:`derived` until the next change, unless that cache is full
        (a client paging through many windows between two changes)."""
        if len(self.derived) < MAX_DERIVED:
            self.derived[key] = value

    def _invalidate(self) -> None:
        self._threads = None
        self.derived.clear()

    def _place(self, row: EmailRow) -> None:
        assert self._boxes is not None
        unread = _unread(row)
        for m in row.mailboxes:
            stats = self._boxes.get(m)
            if stats is None:
                stats = self._boxes[m] = _BoxStats()
            stats.members = stats.members | {row.id}
            stats.add(row, unread)

    def _unplace(self, row: EmailRow) -> None:
        assert self._boxes is not None
        unread = _unread(row)
        for m in row.mailboxes:
            stats = self._boxes.get(m)
            if stats is None or row.id not in stats.members:
                continue
            stats.members = stats.members - {row.id}
            stats.discard(row, unread)
            if not stats.members:
                del self._boxes[m]

    def _box_stats(self) -> dict[int, _BoxStats]:
        if self._boxes is None:
            boxes: dict[int, _BoxStats] = {}
            members: dict[int, set[int]] = {}
            for row in self.rows.values():
                unread = _unread(row)
                for m in row.mailboxes:
                    stats = boxes.get(m)
                    if stats is None:
                        stats = boxes[m] = _BoxStats()
                        members[m] = set()
                    members[m].add(row.id)
                    stats.add(row, unread)
            for m, ids in members.items():
                boxes[m].members = frozenset(ids)
            self._boxes = boxes
        return self._boxes

    def threads(self) -> dict[int, list[int]]:
        """Thread id → email ids in receivedAt order (RFC 8621 §3)."""
        if self._threads is None:
            threads: dict[int, list[int]] = {}
            for row in sorted(self.rows.values(), key=lambda r: (r.received_at, r.id)):
                threads.setdefault(row.thread_id, []).append(row.id)
            self._threads = threads
        return self._threads

    def mailbox_members(self) -> dict[int, frozenset[int]]:
        """Mailbox id → email ids (read-only: a snapshot that later changes do not touch)."""
        return {m: stats.members for m, stats in self._box_stats().items()}

    def mailbox_counts(self) -> dict[int, tuple[int, int, int, int]]:
        """Mailbox id → (emails, unread emails, threads, threads with an unread email): the
        RFC 8621 §2 counts, where a thread counts for a mailbox when one of its emails is in it
        ("the simplest solution" §2 describes)."""
        return {
            m: (len(s.members), s.unread, len(s.threads), len(s.unread_threads))
            for m, s in self._box_stats().items()
        }


_INDEXES: weakref.WeakKeyDictionary[Store, OrderedDict[int, AccountIndex]] = (
    weakref.WeakKeyDictionary()
)


def account_index(store: Store, acct: int) -> AccountIndex:
    """The account's index, brought up to date with the store's change log."""
    per_store = _INDEXES.get(store)
    if per_store is None:
        per_store = _INDEXES[store] = OrderedDict()
    state = store.account(acct)
    if state is None:
        per_store.pop(acct, None)
        return AccountIndex(0)
    index = per_store.get(acct)
    if index is None or index.modseq < state.changes_floor or index.modseq > state.modseq:
        # Read the modseq first: a write landing during the scan is re-read next time.
        index = AccountIndex(state.modseq)
        for em in store.emails(acct):
            index.rows[em.id] = EmailRow.of(em)
        per_store[acct] = index
    elif index.modseq < state.modseq:
        changed: dict[int, None] = {}
        last = index.modseq
        for modseq, entries in store.changes_since(acct, index.modseq):
            last = max(last, modseq)
            for e in entries:
                if e.type == "Email":
                    changed[e.id] = None
        for eid in changed:
            record = store.email(acct, eid)
            if record is None:
                index.remove(eid)
            else:
                index.put(EmailRow.of(record))
        index.modseq = last
    per_store.move_to_end(acct)
    while len(per_store) > MAX_CACHED_ACCOUNTS:
        per_store.popitem(last=False)
    return index


# -- parsed messages -----------------------------------------------------------------------------
_PARSED: OrderedDict[bytes, ParsedMessage] = OrderedDict()
MAX_CACHED_PARSED: Final = 1024


def parsed_message(store: Store, acct: int, eid: int) -> ParsedMessage | None:
    """The stored parse of an email (a pure function of its metadata: cached by it)."""
    meta = store.metadata(acct, eid)
    if meta is None:
        return None
    parsed = _PARSED.get(meta)
    if parsed is None:
        parsed = decode_metadata(meta)
        _PARSED[meta] = parsed
        if len(_PARSED) > MAX_CACHED_PARSED:
            _PARSED.popitem(last=False)
    else:
        _PARSED.move_to_end(meta)
    return parsed


def _first_address_key(items: list[Any]) -> str:
    if not items:
        return ""
    name, email = items[0][0], items[0][1]
    return str(name or email or "").casefold()


def content_info(store: Store, acct: int, index: AccountIndex, eid: int) -> ContentInfo:
    info = index.content.get(eid)
    if info is not None:
        return info
    meta = store.metadata(acct, eid)
    wire: Any = decode_metadata_wire(meta) if meta is not None else None
    if wire and wire[0] == WIRE_VERSION:
        # The ParsedMessage wire list (protocols/mime/model.py): read the few top-level fields
        # directly instead of rebuilding the whole MIME tree.
        sent_at, from_, to, has_att, subject = wire[7], wire[9], wire[12], wire[18], wire[20]
        info = ContentInfo(
            sent_at if isinstance(sent_at, int) else 0,
            _first_address_key(from_),
            _first_address_key(to),
            str(subject or "").casefold(),
            bool(has_att),
        )
    else:
        info = ContentInfo(0, "", "", "", False)
    index.content[eid] = info
    return info
