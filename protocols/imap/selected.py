"""One session's view of its selected mailbox: sequence numbers, and the changes not yet told.

The store's change log has per-mailbox UID events (``imap`` entries: appended, flags changed,
expunged).  A session polls it from the modseq it last saw and keeps three kinds of news:
new UIDs (reported as EXISTS), flag changes (FETCH FLAGS) and expunges.  Expunges renumber
sequence numbers, so they are only reported when RFC 9051 §7.5.1 allows it: never during FETCH,
STORE or SEARCH (nor UID forms — RFC 2180 §4.1.4 lets us defer them for every command but NOOP,
CHECK, IDLE, EXPUNGE, CLOSE and selection changes, which is what Dovecot does too).  A message
expunged before it was announced is never announced at all.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from store import Store
from store.models import AccountState, Email

from .flags import KEYWORD_TO_SYSTEM, FlagNames
from .records import Listing, RecordCache

_UNKNOWN = 1 << 63  # a modseq above every real one
_MAX_CHECKED_SETS = 4096


@dataclass
class Untagged:
    """News to report, in the order the server should write it."""

    expunged_seqs: list[int] = field(default_factory=list)  # EXPUNGE n, already in write order
    vanished_uids: list[int] = field(default_factory=list)  # VANISHED (QRESYNC clients)
    exists: int | None = None
    recent: int | None = None
    flag_updates: list[tuple[int, int, Email]] = field(default_factory=list)  # (seq, uid, email)
    arrived: list[tuple[str, ...]] = field(default_factory=list)  # keywords of the new messages

    def __bool__(self) -> bool:
        return bool(
            self.expunged_seqs
            or self.vanished_uids
            or self.exists is not None
            or self.recent is not None
            or self.flag_updates
        )


class RecentTracker:
    """\\Recent (IMAP4rev1): a new message is recent in exactly one read-write session — the
    first that sees it with the mailbox selected read-write (RFC 3501 §2.3.2).  Read-only
    sessions (EXAMINE) also see the messages no read-write session has claimed as recent,
    without claiming them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claimed: dict[tuple[int, int], int] = {}

    def count(self, acct: int, mbox: int, uids: list[int]) -> int:
        """How many of ``uids`` no session has claimed yet (STATUS RECENT, RFC 3501 §6.3.10)."""
        return len(self.unclaimed(acct, mbox, uids))

    def unclaimed(self, acct: int, mbox: int, uids: list[int]) -> set[int]:
        """The ``uids`` no session has claimed yet, claiming none: what a read-only session
        (EXAMINE) shows as \\Recent without clearing it for the next SELECT."""
        with self._lock:
            top = self._claimed.get((acct, mbox), 0)
        return {u for u in uids if u > top}

    def claim(self, acct: int, mbox: int, uids: list[int]) -> set[int]:
        with self._lock:
            top = self._claimed.get((acct, mbox), 0)
            mine = {u for u in uids if u > top}
            if mine:
                self._claimed[(acct, mbox)] = max(mine)
            return mine


class SelectedMailbox:
    def __init__(
        self,
        store: Store,
        account_id: int,
        mailbox_id: int,
        *,
        read_only: bool,
        recent: RecentTracker | None = None,
        records: RecordCache | None = None,
    ) -> None:
        self.store = store
        self.records = records if records is not None else RecordCache(store)
        self.account_id = account_id
        self.mailbox_id = mailbox_id
        self.read_only = read_only
        self._recent_tracker = recent
        mb = store.mailbox(account_id, mailbox_id)
        state = store.account(account_id)
        if mb is None or state is None:
            raise LookupError("mailbox vanished")
        # Read the UID list and the modseq it corresponds to consistently: poll() from this
        # modseq re-reads any change that raced with the scan, and events are idempotent.
        self.modseq = state.modseq
        self.records.sync(account_id, state)
        self.uidvalidity = mb.uidvalidity
        listing = self.records.listing(account_id, mailbox_id, state.modseq)
        if listing is None:
            members = store.mailbox_uids(account_id, mailbox_id)
            listing = Listing(tuple(uid for uid, _ in members), dict(members))
            if self._unchanged():
                # Read while the account stood at self.modseq: exact for it, so other sessions
                # selecting at the same modseq may share it.
                self.records.keep_listing(account_id, mailbox_id, state.modseq, listing)
        self._listing = listing
        self.uids: list[int] = list(listing.uids)
        self.email_ids: dict[int, int] = dict(listing.email_ids)
        self._new: list[int] = []
        self._expunged: set[int] = set()
        # Flag news: UID -> (lowest, highest) modseq of the changes not yet reported.
        self._flags: dict[int, tuple[int, int]] = {}
        self.recent: set[int] = set()
        # Keywords (lower case) the client was told of in FLAGS; the SELECT handler fills it,
        # announce() extends it.  Keyword sets already checked against it: the fast path.
        self.announced: set[str] = set()
        self._announced_sets: set[tuple[str, ...]] = set()
        if recent is not None:
            self.recent = self._recent_of(self.uids)

    def _recent_of(self, uids: list[int]) -> set[int]:
        """The \\Recent ones among ``uids`` newly seen by this session.  A read-write session
        claims them (it is the first to be told, RFC 3501 §2.3.2); a read-only one (EXAMINE)
        sees them recent as SELECT would (§6.3.2: EXAMINE reports the same RECENT count) but
        claims nothing, so the next SELECT still gets them."""
        tracker = self._recent_tracker
        if tracker is None:
            return set()
        if self.read_only:
            return tracker.unclaimed(self.account_id, self.mailbox_id, uids)
        return tracker.claim(self.account_id, self.mailbox_id, uids)

    def _unchanged(self) -> bool:
        """Whether the account still stands at the modseq this session started from."""
        state = self.store.account(self.account_id)
        return state is not None and state.modseq == self.modseq

    def keywords_in_use(self) -> frozenset[str]:
        """Every keyword set on a message of the mailbox (SELECT's FLAGS response), computed
        once per listing while the account stays at the modseq it was read at."""
        listing = self._listing
        if listing.keywords is not None and self._unchanged():
            return listing.keywords
        found = frozenset(k for _, _, email in self.rows() for k in email.keywords)
        if self._unchanged():
            listing.keywords = found
        return found

    def iter_records(self, uids: Iterable[int]) -> Iterator[tuple[int, Email | None]]:
        """``(uid, record(uid))`` for each UID, lazily (for a scan that may stop early)."""
        for uid, _, email in self._scan(uids):
            yield uid, email

    # -- numbers -----------------------------------------------------------------------------
    @property
    def exists(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else None

    def uid_at(self, seq: int) -> int:
        return self.uids[seq - 1]

    def record(self, uid: int) -> Email | None:
        """The email at ``uid``, at least as new as the last poll (None once it left the
        mailbox).  Records come from the server-wide :class:`RecordCache`, which every poll
        syncs with the change log first, so it never serves a value older than the poll."""
        eid = self.email_ids.get(uid)
        if eid is None:
            return None
        email = self.records.email(self.account_id, eid)
        if email is None or email.uid_in(self.mailbox_id) != uid:
            return None
        return email

    def records_for(self, uids: Iterable[int]) -> list[tuple[int, Email | None]]:
        """``(uid, record(uid))`` for each UID: :meth:`record` in bulk, for the commands that
        read many messages (FETCH 1:*, EXPUNGE)."""
        out: list[tuple[int, Email | None]] = []
        append = out.append
        for uid, _, email in self._scan(uids):
            append((uid, email))
        return out

    def rows(self) -> list[tuple[int, int, Email]]:
        """``(seq, uid, email)`` of every message still in the mailbox, in order (SELECT,
        SEARCH); a message expunged but not yet reported keeps its number and is left out."""
        # The loop of _scan, inlined: this runs over the whole mailbox for every SEARCH.
        acct, mbox = self.account_id, self.mailbox_id
        email_ids = self.email_ids
        cached = self.records.cached(acct) or {}
        load = self.records.email
        out: list[tuple[int, int, Email]] = []
        append = out.append
        seq = 0
        for uid in self.uids:
            seq += 1
            eid = email_ids.get(uid)
            if eid is None:
                continue
            email = cached.get(eid) or load(acct, eid)
            if email is None:
                continue
            where = email.mailboxes
            if (where[0] == (mbox, uid)) if len(where) == 1 else email.uid_in(mbox) == uid:
                append((seq, uid, email))
        return out

    def _scan(self, uids: Iterable[int]) -> Iterator[tuple[int, int, Email | None]]:
        acct, mbox = self.account_id, self.mailbox_id
        email_ids = self.email_ids
        cached = self.records.cached(acct) or {}
        load = self.records.email
        for uid in uids:
            eid = email_ids.get(uid)
            if eid is None:
                yield uid, 0, None
                continue
            email = cached.get(eid)
            if email is None:
                email = load(acct, eid)
                if email is None:
                    yield uid, eid, None
                    continue
            where = email.mailboxes
            if len(where) == 1:  # the usual case: in this one mailbox
                yield uid, eid, (email if where[0] == (mbox, uid) else None)
            else:
                yield uid, eid, (email if email.uid_in(mbox) == uid else None)

    def is_expunged(self, uid: int) -> bool:
        """Expunged in the store but still visible to this session (not yet reported)."""
        return uid in self._expunged

    # -- news --------------------------------------------------------------------------------
    def poll(self) -> bool:
        """Reads the change log since the last poll; True if the mailbox has news."""
        state = self.store.account(self.account_id)
        news = self._poll(state)
        # Then the shared records, and in this order: a write may land between reading the
        # account state and scanning the log, and this view has consumed whatever its scan
        # saw, so the records must be at least that new.  The cache scans the log after us,
        # to its end, so it covers everything we consumed.
        self.records.sync(self.account_id, state, at_least=self.modseq)
        return news

    def _poll(self, state: AccountState | None) -> bool:
        if state is not None and state.modseq == self.modseq:
            # Nothing changed in the account (destroying a mailbox bumps its modseq too).
            return self.has_news()
        if state is None or self.store.mailbox(self.account_id, self.mailbox_id) is None:
            # Account or mailbox deleted: everything is expunged.
            self._expunged.update(self.uids)
            self._new.clear()
            return bool(self.uids)
        if state.changes_floor > self.modseq:
            self._resync()
            self.modseq = state.modseq
            return self.has_news()
        visible = set(self.uids)
        changes = self.store.changes_since(self.account_id, self.modseq)
        # The shared records, if they stand where this view stood, take the same entries
        # (no second scan of the log in RecordCache.sync).
        self.records.advance(self.account_id, self.modseq, changes)
        for modseq, entries in changes:
            for e in entries:
                if e.type != "imap" or e.id != self.mailbox_id:
                    continue
                if e.op == "a":
                    if e.uid not in visible and e.uid not in self._new:
                        self._new.append(e.uid)
                elif e.op == "x":
                    if e.uid in self._new:
                        self._new.remove(e.uid)
                    elif e.uid in visible:
                        self._expunged.add(e.uid)
                    self._flags.pop(e.uid, None)
                elif e.op == "f" and (e.uid in visible or e.uid in self._new):
                    span = self._flags.get(e.uid)
                    self._flags[e.uid] = (modseq if span is None else span[0], modseq)
            self.modseq = modseq
        for uid in self._new:
            found = self._lookup(uid)
            if found is not None:
                self.email_ids[uid] = found
        self._new = [u for u in self._new if u in self.email_ids]
        return self.has_news()

    def _lookup(self, uid: int) -> int | None:
        return self.store.uid_email(self.account_id, self.mailbox_id, uid)

    def _resync(self) -> None:
        """History was compacted past our modseq: compare UID lists instead."""
        current = dict(self.store.mailbox_uids(self.account_id, self.mailbox_id))
        visible = set(self.uids)
        self._expunged.update(visible - set(current))
        self._new = sorted(set(current) - visible)
        self.email_ids.update(current)
        # Which changes the compacted history held is unknown: each is news, never an echo.
        for uid in visible & set(current):
            self._flags[uid] = (0, _UNKNOWN)

    def has_news(self) -> bool:
        return bool(self._new or self._expunged or self._flags)

    def take_news(self, *, allow_expunge: bool, qresync: bool = False) -> Untagged:
        """The untagged responses due now, applied to this view's numbering."""
        news = Untagged()
        if allow_expunge and self._expunged:
            if qresync:
                news.vanished_uids = sorted(self._expunged)
            else:
                # Highest first, so that every number is still valid when the client reads it.
                news.expunged_seqs = sorted(
                    (s for s in (self.seq_of(u) for u in self._expunged) if s is not None),
                    reverse=True,
                )
            self.uids = [u for u in self.uids if u not in self._expunged]
            for uid in self._expunged:
                self.email_ids.pop(uid, None)
                self.recent.discard(uid)
            self._expunged.clear()
        if self._new:
            self.uids.extend(sorted(self._new))
            self.uids.sort()
            # Their keywords, for the FLAGS announcement that must precede any FETCH of them.
            for _, email in self.records_for(self._new):
                if email is not None and email.keywords:
                    news.arrived.append(email.keywords)
            self.recent |= self._recent_of(self._new)
            self._new.clear()
            news.exists = len(self.uids)
            news.recent = len(self.recent)
        if self._flags:
            for uid in sorted(self._flags):
                seq = self.seq_of(uid)
                if seq is None or uid in self._expunged:
                    continue
                email = self.record(uid)
                if email is not None:
                    news.flag_updates.append((seq, uid, email))
            self._flags.clear()
        return news

    def forget_flag_news(self, shown: dict[int, tuple[int, int]]) -> None:
        """After this session's own STORE (or FETCH setting \\Seen): read the log up to now,
        then drop the echo of our own change — for ``uid: (low, high)`` in ``shown``, the
        UID's flag news if every change it holds lies within ``low..high`` modseqs.

        A response that showed a record passes ``(0, record.modseq)``: the record reflects
        every change up to its modseq.  A change that committed after that record was read
        (the writer thread commits whenever it likes) is newer and stays news, or the client
        would keep flags the store no longer has (RFC 3501 §5.2: flag updates by other
        agents are sent).  ``STORE .SILENT``, which shows nothing, passes its own write's
        modseq as both bounds: only its own change is the client's knowledge."""
        self.poll()
        flags = self._flags
        for uid, (low, high) in shown.items():
            span = flags.get(uid)
            if span is not None and low <= span[0] and span[1] <= high:
                del flags[uid]

    def flags_of(self, uid: int, email: Email, names: FlagNames) -> list[str]:
        flags = list(names.flags(email.keywords))
        if uid in self.recent:
            flags.append("\\Recent")
        return flags

    # -- the FLAGS the client was told ---------------------------------------------------------
    def announce(self, keyword_sets: Iterable[tuple[str, ...]]) -> bool:
        """Adds the keywords of these records' keyword sets that the client has not been told
        of in FLAGS to those it has; True if there were any.  The caller then sends FLAGS (and
        PERMANENTFLAGS) again *before* the FETCH that shows them: the FLAGS response lists the
        flags applicable in the mailbox (RFC 3501 §7.2.6, RFC 9051 §7.3.5), and clients and
        imaptest reject a keyword they were never told of."""
        checked = self._announced_sets
        announced = self.announced
        grew = False
        for keywords in keyword_sets:
            if not keywords or keywords in checked:
                continue
            if len(checked) >= _MAX_CHECKED_SETS:
                checked.clear()
            checked.add(keywords)
            for k in keywords:
                if k not in announced and k not in KEYWORD_TO_SYSTEM:
                    announced.add(k)
                    grew = True
        return grew
