"""Substring search over stored decoded text (IMAP ``SEARCH TEXT`` / ``BODY``, RFC 9051
§6.4.4), beside the word index.

A word index cannot answer an infix needle (``sdfghjk`` in ``asdfghjkl``), so each email's
case-folded searchable pieces (header, one per text part: :mod:`protocols.mime.searchtext`)
are kept in an SQLite table beside the index directory, and a search scans them: one pass over
the account's rows with a C substring search per row, no message is parsed or decoded at search
time, and memory stays at SQLite's page cache plus one row whatever the mailbox size.  The
pieces are stored as UTF-8 BLOBs: a byte-wise substring of UTF-8 is exactly a character
substring, NUL included, and a needle never spans two pieces (rows).

Like the word index it is derived data, written by the indexer thread (one thread at a time)
and committed *before* the word index commits its cursors, so a crash between the two re-adds
rows (which replace) rather than losing them.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

FILE_NAME = "substring.sqlite"  # the indexer names it <index dir>-substring.sqlite
HEADER, BODY = 0, 1  # row kinds: TEXT searches both, BODY the body rows only

_SCHEMA = """
CREATE TABLE IF NOT EXISTS piece (
    account INTEGER NOT NULL,
    email INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    text BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS piece_email ON piece (account, email);
"""


class SubstringIndex:
    """Case-folded text pieces per (account, email), searched by substring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # derived data: rebuilt if lost
        existed = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'piece'"
        ).fetchone()
        self.created = existed is None  # a new file: the word index must be rebuilt with it
        self._db.executescript(_SCHEMA)
        self._in_txn = False

    def _begin(self) -> None:
        if not self._in_txn:
            self._db.execute("BEGIN")
            self._in_txn = True

    def add(self, account: int, email: int, header: str, body: Sequence[str]) -> None:
        """Replaces the pieces of one email (``header``, then one per body text)."""
        rows = [(account, email, HEADER, header.encode("utf-8", "replace"))]
        rows += [(account, email, BODY, t.encode("utf-8", "replace")) for t in body]
        with self._lock:
            self._begin()
            self._db.execute("DELETE FROM piece WHERE account = ? AND email = ?", (account, email))
            self._db.executemany("INSERT INTO piece VALUES (?, ?, ?, ?)", rows)

    def remove(self, account: int, emails: Iterable[int]) -> None:
        with self._lock:
            self._begin()
            self._db.executemany(
                "DELETE FROM piece WHERE account = ? AND email = ?",
                [(account, e) for e in emails],
            )

    def remove_account(self, account: int) -> None:
        with self._lock:
            self._begin()
            self._db.execute("DELETE FROM piece WHERE account = ?", (account,))

    def clear(self) -> None:
        with self._lock:
            self._begin()
            self._db.execute("DELETE FROM piece")
            self._commit_locked()

    def commit(self) -> None:
        with self._lock:
            self._commit_locked()

    def _commit_locked(self) -> None:
        if self._in_txn:
            self._db.execute("COMMIT")
            self._in_txn = False

    def search(self, account: int, needle: str, *, body_only: bool) -> set[int]:
        """Emails of ``account`` with a piece (a body piece when ``body_only``) containing
        ``needle`` case-insensitively; uncommitted rows are seen too (one connection)."""
        folded = needle.casefold().encode("utf-8", "replace")
        with self._lock:
            # The rows are read and tested in Python: ``bytes in`` is a fast substring search
            # (SQLite's instr() compares at every octet, ~4x slower here).
            rows = self._db.execute(
                "SELECT email, text FROM piece WHERE account = ? AND kind >= ?",
                (account, BODY if body_only else HEADER),
            )
            return {email for email, text in rows if folded in text}

    def close(self) -> None:
        with self._lock:
            self._commit_locked()
            self._db.close()
