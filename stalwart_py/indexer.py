"""Feeds the full-text index from the store's change feed, in a background thread.

The index is derived data: each account's cursor (the change-log modseq indexed up to) is stored
with the index and committed with it, so after a crash indexing resumes from the last commit and
re-adds what it may have lost (adds replace).  A cursor older than the account's change-log floor
means history was compacted: that account is re-indexed from its emails.  ``rebuild`` starts over
from the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from protocols.mime import ParsedMessage
from protocols.mime.searchtext import LeafText, LeafTexts, SearchText, leaf_text, search_text
from store import ChangeEvent, Store
from store.codec import unpack
from store.fts import FtsDocument, FtsIndex, Query
from store.fts.substring import FILE_NAME as SUBSTRING_FILE
from store.fts.substring import SubstringIndex
from store.models import Email

log = logging.getLogger(__name__)

MAX_BODY_CHARS = 1_000_000
MAX_ATTACHMENT_TEXT = 200_000
# Seconds changes are gathered before being indexed together (capped by the commit interval).
DEFAULT_INDEX_DELAY = 0.2
# A substring search restricted to given emails looks each one up; when they are at least this
# share of the account, one pass over all its rows is cheaper (measured on 100,000 4 KB rows:
# 10 lookups 0.1 ms, 50,000 lookups 335 ms, all 100,000 715 ms, the whole account 575 ms).
SCAN_ALL_SHARE = 0.75


def _addresses(addrs: Iterable[object]) -> str:
    out = []
    for a in addrs:
        name = getattr(a, "name", None)
        out.append(f"{name} <{getattr(a, 'email', '')}>" if name else str(getattr(a, "email", "")))
    return ", ".join(out)


@dataclass(frozen=True, slots=True)
class Indexed:
    """What is indexed of one email: its word-index document and its substring pieces."""

    document: FtsDocument
    text: SearchText


def _load(store: Store, account_id: int, email: Email) -> tuple[bytes, ParsedMessage] | None:
    meta = store.metadata(account_id, email.id)
    raw = store.blob(email.blob)
    if meta is None or raw is None:
        return None
    return raw, ParsedMessage.from_wire(unpack(meta))


def indexed_for(store: Store, account_id: int, email: Email) -> Indexed | None:
    """The word-index document and substring pieces of one stored email (None if it vanished
    meanwhile); each text part is decoded once for both."""
    loaded = _load(store, account_id, email)
    if loaded is None:
        return None
    raw, parsed = loaded
    text_of = LeafTexts()
    return Indexed(
        _document(account_id, email, raw, parsed, text_of), search_text(raw, parsed, text_of)
    )


def text_for(store: Store, account_id: int, email: Email) -> SearchText | None:
    """The substring pieces of one stored email alone (refilling the substring index)."""
    loaded = _load(store, account_id, email)
    return None if loaded is None else search_text(*loaded)


def _document(
    account_id: int,
    email: Email,
    raw: bytes,
    parsed: ParsedMessage,
    text_of: LeafText = leaf_text,
) -> FtsDocument:
    parts = {p.part_id: p for p in parsed.root.walk()}
    body: list[str] = []
    size = 0
    for pid in parsed.text_body or parsed.html_body:
        part = parts.get(pid)
        if part is None or part.type != "text":
            continue
        text = text_of(raw, part)
        body.append(text)
        size += len(text)
        if size > MAX_BODY_CHARS:
            break
    attachments: list[str] = []
    for pid in parsed.attachments:
        part = parts.get(pid)
        if part is None:
            continue
        if part.name:
            attachments.append(part.name)
        if part.type == "text" and part.decoded_size <= MAX_ATTACHMENT_TEXT:
            attachments.append(text_of(raw, part))
    headers = raw[: parsed.root.header_end].decode("utf-8", "replace")
    return FtsDocument(
        account_id=account_id,
        email_id=email.id,
        from_=_addresses(parsed.from_),
        to=_addresses(parsed.to),
        cc=_addresses(parsed.cc),
        bcc=_addresses(parsed.bcc),
        subject=parsed.subject or "",
        body="\n".join(body)[:MAX_BODY_CHARS],
        attachments="\n".join(attachments),
        headers=headers,
    )


class Indexer:
    def __init__(
        self,
        store: Store,
        index: FtsIndex,
        *,
        commit_interval: float = 1.0,
        batch_size: int = 500,
        index_delay: float | None = None,
    ) -> None:
        self.store = store
        self.index = index
        # IMAP SEARCH TEXT/BODY substrings, in a file beside the word index's directory (a
        # backend may wipe that directory).  A new (or dropped) file marks the accounts the
        # word index holds as unfilled: their rows are refilled from the store, and the word
        # index is left as it is.
        self.texts = SubstringIndex(
            index.path.parent / f"{index.path.name}-{SUBSTRING_FILE}",
            unfilled=lambda: [a for a, c in index.all_cursors().items() if c > 0],
        )
        self._unfilled = self.texts.unfilled()
        # Per account, the modseq the committed substring rows cover: a search of an account
        # already there needs neither a catch-up nor the indexer's lock.
        self._searchable = {a: c for a, c in index.all_cursors().items() if a not in self._unfilled}
        self.commit_interval = commit_interval
        self.batch_size = max(1, batch_size)
        # Changes are gathered for up to ``index_delay`` seconds and indexed together: nothing
        # indexed is searchable before the next commit anyway, and waking for every delivery
        # cost a thread switch, a change-log scan and a store read per message (searches
        # still catch up at once, see ``catch_up``).
        self.index_delay = (
            min(DEFAULT_INDEX_DELAY, commit_interval) if index_delay is None else index_delay
        )
        self._pending: set[int] = set()
        self._pending_events = 0  # change events since the pending set was last taken
        self._first_pending = 0.0  # when the first of them arrived (monotonic)
        self._cv = threading.Condition()
        self._work = threading.Lock()  # one thread at a time touches the index writer
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._unsubscribe = store.feed.subscribe(self._on_change)
        self._uncommitted = 0
        self._dirty_docs = 0  # documents added or removed since the last commit
        self._cursors: dict[int, int] = {}
        self._last_commit = time.monotonic()
        self.indexed = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        with self._cv:
            for p in self.store.principals():
                state = self.store.account(p.id)
                if state is not None and self.index.get_cursor(p.id) < state.modseq:
                    self._pending.add(p.id)
            self._pending.update(self._unfilled)
        self._thread = threading.Thread(target=self._run, name="fts-indexer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._unsubscribe()
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join()
        with self._cv:
            pending = sorted(self._pending)
            self._pending.clear()
        with self._work:
            # What was still gathering (index_delay) goes into this last commit; anything
            # missed would be found again at the next start from the cursors anyway.
            for acct in pending:
                while self._index_account(acct):
                    pass
            self._commit()
            self.texts.close()

    def catch_up(self, acct: int, *, texts_only: bool = False) -> None:
        """Indexes the account's outstanding changes now, so that a search right after a
        delivery or APPEND finds it (read-your-writes for search).  ``texts_only``: what a
        substring search needs, the substring rows committed (not the word index)."""
        state = self.store.account(acct)
        if state is None:
            return
        if texts_only and self._searchable.get(acct, -1) >= state.modseq:
            return  # committed already: no lock taken
        with self._work:
            behind = acct in self._unfilled or self._position(acct) < state.modseq
        # One slice per turn of the lock: the indexer thread and other accounts' searches
        # get their turns in between.
        while behind:
            with self._work:
                behind = self._index_account(acct)
        with self._work:
            if texts_only:
                self._commit_texts()
            # Only documents matter to a search; cursors alone wait for the regular commit
            # (a flag change does not cost a tantivy commit per SEARCH).
            elif self._dirty_docs:
                self._commit()

    def search_substring(
        self,
        acct: int,
        needle: str,
        *,
        body_only: bool,
        emails: Collection[int] | None = None,
        cancel: threading.Event | None = None,
    ) -> set[int]:
        """Emails (of ``emails`` if given) whose header or body text (body only with
        ``body_only``) contains ``needle``, case-insensitively (IMAP SEARCH TEXT / BODY).
        Blocking, like :meth:`search`; sees what was just delivered.  The scan holds no lock
        (indexing and other searches go on beside it) and stops with
        :class:`~store.fts.substring.ScanCancelled` once ``cancel`` is set."""
        self.catch_up(acct, texts_only=True)
        state = self.store.account(acct)
        if emails is not None and state is not None:
            if len(emails) >= SCAN_ALL_SHARE * state.email_count:
                emails = None  # the caller keeps only its emails anyway
        return self.texts.search(acct, needle, body_only=body_only, emails=emails, cancel=cancel)

    def search(self, acct: int, query: Query) -> set[int]:
        """Blocking: call from a worker thread.  The index is used by one thread at a time
        (its backends are not thread-safe), so searches wait for a running commit."""
        self.catch_up(acct)
        with self._work:
            return self.index.search(acct, query)

    def _on_change(self, event: ChangeEvent) -> None:
        # Every event advances the cursor (so lag reaches 0); only Email entries cost work.
        # Runs on the store's writer thread: wake the indexer only to start its delay timer
        # or when a full batch is waiting, not for every event.
        with self._cv:
            self._pending.add(event.account_id)
            self._pending_events += 1
            if self._pending_events == 1:
                self._first_pending = time.monotonic()
                self._cv.notify()
            elif self._pending_events == self.batch_size:
                self._cv.notify()

    def _wait_for_work(self) -> None:
        """Waits (holding ``_cv``) until the pending changes are due, a commit is due, or the
        indexer is stopping."""
        while not self._stopping:
            now = time.monotonic()
            if self._pending:
                due = self._first_pending + self.index_delay
                if now >= due or self._pending_events >= self.batch_size:
                    return
            elif self._uncommitted:
                due = self._last_commit + self.commit_interval
                if now >= due:
                    return
            else:
                self._cv.wait()
                continue
            self._cv.wait(timeout=due - now)

    # -- work --------------------------------------------------------------------------------
    def _run(self) -> None:
        """Index what changed; commit every ``commit_interval`` or ``batch_size`` documents, not
        after every message (a tantivy commit costs milliseconds and syncs files)."""
        while True:
            with self._cv:
                self._wait_for_work()
                if self._stopping:
                    return
                accounts = sorted(self._pending)
                self._pending.clear()
                self._pending_events = 0
            try:
                for acct in accounts:  # the lock per account: searches get turns in between
                    with self._work:
                        more = self._index_account(acct)
                    if more:
                        with self._cv:  # more left: come back after the others, at once
                            self._pending.add(acct)
                            self._pending_events = max(self._pending_events, self.batch_size)
                with self._work:
                    if self._uncommitted and (
                        time.monotonic() - self._last_commit >= self.commit_interval
                        or self._uncommitted >= self.batch_size
                    ):
                        self._commit()
            except Exception:
                log.exception("indexing failed; retrying shortly")
                with self._cv:
                    if not self._pending_events:
                        self._first_pending = time.monotonic()
                    self._pending.update(accounts)
                    self._pending_events += len(accounts)
                time.sleep(1.0)

    def _position(self, acct: int) -> int:
        """The modseq the account is indexed up to (committed or not)."""
        return self._cursors.get(acct, self.index.get_cursor(acct))

    def _commit_texts(self) -> None:
        """Commits the substring rows alone; every account indexed so far is searchable."""
        self.texts.commit()
        for acct in self._cursors:
            self._searchable[acct] = self._cursors[acct]

    def _commit(self) -> None:
        self._commit_texts()  # first: a crash before the cursors commit only re-adds rows
        if self._cursors:
            self.index.set_cursors(dict(self._cursors))
        self.index.commit()
        self._cursors.clear()
        self._uncommitted = 0
        self._dirty_docs = 0
        self._last_commit = time.monotonic()

    def _index_account(self, acct: int) -> bool:
        """Indexes one slice of an account's changes; True if more remain."""
        state = self.store.account(acct)
        if state is None:
            self.index.remove_account(acct)
            self.texts.remove_account(acct)
            self.texts.filled(acct)
            self._unfilled.discard(acct)
            self._cursors[acct] = 0
            self._uncommitted += 1
            return False
        cursor = self._position(acct)
        if acct in self._unfilled:
            self._fill_texts(acct)
            self._cursors[acct] = cursor  # so that the next commit records it searchable
        if cursor < state.changes_floor:
            self._reindex_account(acct, state.modseq)
            return False
        changes = self.store.changes_since(acct, cursor, limit=self.batch_size)
        created: dict[int, None] = {}
        destroyed: list[int] = []
        for _, entries in changes:
            for e in entries:
                if e.type != "Email":
                    continue
                if e.op == "c":
                    created[e.id] = None
                elif e.op == "d":
                    created.pop(e.id, None)
                    destroyed.append(e.id)
        if destroyed:
            self.index.remove(acct, destroyed)
            self.texts.remove(acct, destroyed)
        found = []
        for eid in created:
            email = self.store.email(acct, eid)
            indexed = indexed_for(self.store, acct, email) if email is not None else None
            if indexed is not None:
                found.append(indexed)
        docs = self._add(found)
        self.indexed += len(docs)
        self._dirty_docs += len(docs) + len(destroyed)
        if changes:
            self._cursors[acct] = changes[-1][0]
            self._uncommitted += len(docs) + len(destroyed) + 1
        return len(changes) >= self.batch_size

    def _add(self, found: Sequence[Indexed]) -> list[FtsDocument]:
        """Adds emails to both indexes; their word-index documents."""
        for x in found:
            d = x.document
            self.texts.add(d.account_id, d.email_id, x.text.header, x.text.body)
        docs = [x.document for x in found]
        if docs:
            self.index.add(docs)
        return docs

    def _fill_texts(self, acct: int) -> None:
        """Refills one account's substring rows from the store, the word index untouched
        (the substring file was new: an upgrade, or a lost or unreadable file).  Changes
        after the word index's cursor are indexed next, as usual: adds replace, removes of
        missing rows do nothing."""
        self.texts.remove_account(acct)
        for email in self.store.emails(acct):
            text = text_for(self.store, acct, email)
            if text is not None:
                self.texts.add(acct, email.id, text.header, text.body)
        self.texts.filled(acct)
        self._unfilled.discard(acct)
        self._uncommitted += 1

    def _reindex_account(self, acct: int, modseq: int) -> None:
        self.index.remove_account(acct)
        self.texts.remove_account(acct)
        self.texts.filled(acct)
        self._unfilled.discard(acct)
        found: list[Indexed] = []
        self._dirty_docs += 1
        for email in self.store.emails(acct):
            indexed = indexed_for(self.store, acct, email)
            if indexed is not None:
                found.append(indexed)
            if len(found) >= self.batch_size:
                self.indexed += len(self._add(found))
                found = []
        if found:
            self.indexed += len(self._add(found))
        self._cursors[acct] = modseq
        self._uncommitted += 1

    def rebuild(self) -> int:
        """Clears the index and indexes every account from the store (run with the indexer
        thread stopped, e.g. from ``stalwart-py index rebuild``).  Returns documents indexed."""
        self.index.clear()
        self.texts.clear()
        self._unfilled.clear()
        self._searchable.clear()
        before = self.indexed
        for p in self.store.principals():
            state = self.store.account(p.id)
            if state is not None:
                self._reindex_account(p.id, state.modseq)
                self._commit()
        return self.indexed - before

    def snippet(self, acct: int, email_id: int, query: Query) -> tuple[str | None, str | None]:
        """SearchSnippet for one email (blocking: call from a worker thread)."""
        self.catch_up(acct)
        with self._work:
            return self.index.snippet(acct, email_id, query)

    def lag(self) -> int:
        """Accounts with changes not yet committed to the index, or substring rows still to
        refill (0 when caught up)."""
        with self._work:
            committed = self.index.all_cursors()
            behind = set(self._unfilled)
        for p in self.store.principals():
            state = self.store.account(p.id)
            if state is not None and committed.get(p.id, 0) < state.modseq:
                behind.add(p.id)
        return len(behind)
