"""Substring search over stored decoded text (IMAP ``SEARCH TEXT`` / ``BODY``, RFC 9051
§6.4.4), beside the word index.

A word index cannot answer an infix needle (``sdfghjk`` in ``asdfghjkl``), so each email's
case-folded searchable pieces (header, one per text part: :mod:`protocols.mime.searchtext`)
are kept in an SQLite table beside the index directory, and a search scans them: one pass over
the account's rows with a C substring search per row, no message is parsed or decoded at search
time, and memory stays at SQLite's page cache plus one row whatever the mailbox size.  The
pieces are stored as UTF-8 BLOBs: a byte-wise substring of UTF-8 is exactly a character
substring, and a needle never spans two pieces (they are NUL-separated, and no needle holds
NUL).

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
VERSION = 2  # PRAGMA user_version: a file of another version is dropped and rebuilt
SEPARATOR = b"\x00"  # between pieces: no IMAP string holds NUL (RFC 9051 §4.3 CHAR8)

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


def _piece(text: str) -> bytes:
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace")


class SubstringIndex:
    """Case-folded text pieces per (account, email), searched by substring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = self._open(path)
        self.created = self._db.execute("PRAGMA user_version").fetchone()[0] != VERSION
        if self.created:  # new, or another version: start empty (the indexer refills it)
            self._db.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            self._db = self._open(path)
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {VERSION}")
        self._db.execute("PRAGMA journal_mode=WAL")  # after page_size: that needs a new file
        self._in_txn = False

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA synchronous=NORMAL")  # derived data: rebuilt if lost
        return db

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
        with self._lock:
            self._begin()
            self._db.execute("DELETE FROM email_text WHERE account = ?", (account,))

    def clear(self) -> None:
        with self._lock:
            self._begin()
            self._db.execute("DELETE FROM email_text")
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
        if SEPARATOR in folded:
            return set()  # no piece holds NUL (and IMAP cannot send one)
        with self._lock:
            # Each row is tested in Python: ``bytes.find`` is a fast substring search (SQLite's
            # instr() compares at every octet, ~4x slower here).
            rows = self._db.execute(
                "SELECT email, body_at, text FROM email_text WHERE account = ?", (account,)
            )
            start = 1 if body_only else 0
            return {
                email for email, body_at, text in rows if text.find(folded, body_at * start) >= 0
            }

    def close(self) -> None:
        with self._lock:
            self._commit_locked()
            self._db.close()
