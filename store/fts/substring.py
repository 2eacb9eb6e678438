"""Substring search over stored decoded text (IMAP ``SEARCH TEXT`` / ``BODY``, RFC 9051
§6.4.4), beside the word index.

A word index cannot answer an infix needle (``sdfghjk`` in ``asdfghjkl``), so each email's
case-folded searchable pieces (header, one per text part: :mod:`protocols.mime.searchtext`)
are kept in an SQLite table beside the index directory, and a search scans them: one pass over
the account's rows (or only the given emails' rows) with a C substring search per row, no
message is parsed or decoded at search time, and memory stays at SQLite's page cache plus one
chunk of rows whatever the mailbox size.  The pieces are stored as UTF-8 BLOBs: a byte-wise
substring of UTF-8 is exactly a character substring, and a needle never spans two pieces (they
are NUL-separated, and no needle holds NUL).

Like the word index it is derived data, written by the indexer thread (one thread at a time)
and committed *before* the word index commits its cursors, so a crash between the two re-adds
rows (which replace) rather than losing them.  A file that is missing, of another version, or
unreadable (corrupt) is dropped and created empty, and the accounts the word index already
holds are marked *unfilled* in the same transaction: the indexer refills their rows from the
store (:meth:`unfilled`, :meth:`filled`) without touching the word index.

Searches never wait for the writer: each scan runs on a read-only connection of its own (a
small pool), and SQLite's WAL mode lets readers read the last commit beside a writer.  A scan
checks a cancel event between chunks of rows, so a search given up (client gone, time limit)
stops within one chunk.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "substring.sqlite"  # the indexer names it <index dir>-substring.sqlite
VERSION = 2  # PRAGMA user_version: a file of another version is dropped and rebuilt
SEPARATOR = b"\x00"  # between pieces: no IMAP string holds NUL (RFC 9051 §4.3 CHAR8)
SCAN_CHUNK = 256  # rows fetched between two looks at the cancel event (≈1 MB of 4 KB rows)

# One row per email: the header piece, then the body pieces, NUL-separated (NUL inside a piece
# is stored as U+FFFD); ``body_at`` is where the body pieces start.  16 KiB pages hold several
# 4 KB rows (with 4 KiB pages every row took a page of its own).
_SCHEMA = """
PRAGMA page_size = 16384;
CREATE TABLE IF NOT EXISTS email_text (
    account INTEGER NOT NULL,
    email INTEGER NOT NULL,
    body_at INTEGER NOT NULL,
    text BLOB NOT NULL,
    PRIMARY KEY (account, email)
);
"""
# Accounts whose rows are still to be refilled from the store (the file was created after the
# word index had them).  Created on open too: a version-2 file from before it simply gets it.
_UNFILLED = "CREATE TABLE IF NOT EXISTS unfilled (account INTEGER PRIMARY KEY)"


class ScanCancelled(Exception):
    """A scan stopped because its cancel event was set."""


def _piece(text: str) -> bytes:
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA synchronous=NORMAL")  # derived data: rebuilt if lost
    return db


def _drop(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class SubstringIndex:
    """Case-folded text pieces per (account, email), searched by substring.

    ``unfilled`` is called only when the file is (re)created: the accounts to mark unfilled
    (those another index already holds, so that nothing else would add their rows again)."""

    def __init__(self, path: Path, unfilled: Callable[[], Iterable[int]] = tuple) -> None:
        self.path = path
        self._lock = threading.Lock()  # the writer connection
        self._pool_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []  # read-only connections between scans
        self._closed = False
        self._in_txn = False
        self.scan_chunk = SCAN_CHUNK
        # Test hook: called with (account, cancel event) before each chunk a scan reads.
        self.on_chunk: Callable[[int, threading.Event], None] | None = None
        try:
            self._db, self.created = self._open(path, unfilled)
        except sqlite3.DatabaseError as err:  # "file is not a database", unreadable, ...
            log.warning(
                "substring index %s is unreadable (%s): dropping it, it is refilled from the store",
                path,
                err,
            )
            _drop(path)
            self._db, self.created = self._open(path, unfilled)

    @staticmethod
    def _open(path: Path, unfilled: Callable[[], Iterable[int]]) -> tuple[sqlite3.Connection, bool]:
        """The writer connection, and whether the file was (re)created."""
        db = _connect(path)
        try:
            created = db.execute("PRAGMA user_version").fetchone()[0] != VERSION
            if created:  # new, or another version: start empty
                db.close()
                _drop(path)
                db = _connect(path)
                db.executescript(_SCHEMA)
                # The marks and the version in one transaction: a crash before it commits
                # leaves version 0, so the next start creates the file again.
                db.execute("BEGIN")
                db.execute(_UNFILLED)
                db.executemany("INSERT INTO unfilled VALUES (?)", [(a,) for a in unfilled()])
                db.execute(f"PRAGMA user_version = {VERSION}")
                db.execute("COMMIT")
            db.execute(_UNFILLED)
            db.execute("SELECT 1 FROM email_text LIMIT 1").fetchall()  # reads the table's root
            db.execute("PRAGMA journal_mode=WAL")  # after page_size: that needs a new file
        except BaseException:
            db.close()
            raise
        return db, created

    def _begin(self) -> None:
        if not self._in_txn:
            self._db.execute("BEGIN")
            self._in_txn = True

    def add(self, account: int, email: int, header: str, body: Sequence[str]) -> None:
        """Replaces the pieces of one email (``header``, then one per body text)."""
        head = _piece(header) + SEPARATOR
        text = head + SEPARATOR.join(_piece(t) for t in body)
        with self._lock:
            self._begin()
            self._db.execute(
                "INSERT OR REPLACE INTO email_text VALUES (?, ?, ?, ?)",
                (account, email, len(head), text),
            )

    def remove(self, account: int, emails: Iterable[int]) -> None:
        with self._lock:
            self._begin()
            self._db.executemany(
                "DELETE FROM email_text WHERE account = ? AND email = ?",
                [(account, e) for e in emails],
            )

    def remove_account(self, account: int) -> None:
        """Drops the account's rows (its unfilled mark stays until :meth:`filled`)."""
        with self._lock:
            self._begin()
            self._db.execute("DELETE FROM email_text WHERE account = ?", (account,))

    def unfilled(self) -> set[int]:
        """Accounts whose rows are still to be refilled from the store."""
        with self._lock:
            return {a for (a,) in self._db.execute("SELECT account FROM unfilled")}

    def filled(self, account: int) -> None:
        """The account's rows are complete (committed with them)."""
        with self._lock:
            self._begin()
            self._db.execute("DELETE FROM unfilled WHERE account = ?", (account,))

    def clear(self) -> None:
        with self._lock:
            self._begin()
            self._db.execute("DELETE FROM email_text")
            self._db.execute("DELETE FROM unfilled")
            self._commit_locked()

    def commit(self) -> None:
        with self._lock:
            self._commit_locked()

    def _commit_locked(self) -> None:
        if self._in_txn:
            self._db.execute("COMMIT")
            self._in_txn = False

    def search(
        self,
        account: int,
        needle: str,
        *,
        body_only: bool,
        emails: Collection[int] | None = None,
        cancel: threading.Event | None = None,
    ) -> set[int]:
        """Emails of ``account`` (among ``emails`` if given) with a piece (a body piece when
        ``body_only``) containing ``needle`` case-insensitively.  Reads the last commit, on a
        connection of its own; raises :class:`ScanCancelled` once ``cancel`` is set."""
        folded = needle.casefold().encode("utf-8", "replace")
        if SEPARATOR in folded or (emails is not None and not emails):
            return set()  # no piece holds NUL (and IMAP cannot send one)
        if emails is None:
            sql = "SELECT email, body_at, text FROM email_text WHERE account = ?"
            args: tuple[int | str, ...] = (account,)
        else:
            # Index lookups of just these emails (0.1 ms for 10 of 100,000 rows, where the
            # whole account takes ≈600 ms; the caller scans instead when they are most rows).
            sql = (
                "SELECT email, body_at, text FROM email_text WHERE account = ?"
                " AND email IN (SELECT value FROM json_each(?))"
            )
            args = (account, json.dumps(sorted(emails)))
        cancel = cancel or threading.Event()
        start = 1 if body_only else 0
        found: set[int] = set()
        db = self._reader()
        try:
            rows = db.execute(sql, args)  # one statement: one snapshot for the whole scan
            try:
                while True:
                    if self.on_chunk is not None:
                        self.on_chunk(account, cancel)
                    if cancel.is_set():
                        raise ScanCancelled
                    chunk = rows.fetchmany(self.scan_chunk)
                    if not chunk:
                        return found
                    # ``bytes.find`` is a fast substring search (SQLite's instr() compares at
                    # every octet, ~4x slower here).
                    found.update(
                        e for e, body_at, text in chunk if text.find(folded, body_at * start) >= 0
                    )
            finally:
                rows.close()  # ends the read transaction
        finally:
            self._release(db)

    def _reader(self) -> sqlite3.Connection:
        with self._pool_lock:
            if self._idle:
                return self._idle.pop()
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)

    def _release(self, db: sqlite3.Connection) -> None:
        with self._pool_lock:
            if not self._closed:
                self._idle.append(db)
                return
        db.close()

    def close(self) -> None:
        with self._pool_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()
        with self._lock:
            self._commit_locked()
            self._db.close()
