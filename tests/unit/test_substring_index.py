"""The substring index's file and scan rules (store/fts/substring.py): searches read the last
commit on connections of their own, a scan stops once cancelled, a file that is new or
unreadable is created with its unfilled accounts marked in the same transaction."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from store.fts.substring import ScanCancelled, SubstringIndex


def _filled(path: Path, rows: int) -> SubstringIndex:
    index = SubstringIndex(path)
    for n in range(rows):
        index.add(1, n, f"subject: row {n}", [f"body of row {n} with needle"])
    index.commit()
    return index


def test_a_search_reads_the_last_commit_beside_an_open_write(tmp_path: Path) -> None:
    """A search does not wait for the writer's open transaction and sees what was committed
    before it (the indexer commits the rows a search needs first)."""
    index = _filled(tmp_path / "t.sqlite", 3)
    index.add(1, 7, "subject: late", ["needle late"])  # a transaction left open
    assert index.search(1, "NEEDLE", body_only=True) == {0, 1, 2}
    index.commit()
    assert index.search(1, "needle", body_only=True) == {0, 1, 2, 7}
    assert index.search(1, "needle", body_only=True, emails={1, 7, 99}) == {1, 7}
    assert index.search(1, "row 2", body_only=False, emails=set()) == set()
    index.close()


def test_a_cancelled_scan_stops_at_its_next_chunk(tmp_path: Path) -> None:
    """Once its cancel event is set (the IMAP command was given up), a scan raises
    ScanCancelled before it reads another chunk."""
    index = _filled(tmp_path / "t.sqlite", 10)
    index.scan_chunk = 2
    cancel = threading.Event()
    chunks: list[int] = []

    def on_chunk(account: int, event: threading.Event) -> None:
        chunks.append(account)
        if len(chunks) == 2:
            cancel.set()  # as the server does from its own thread

    index.on_chunk = on_chunk
    with pytest.raises(ScanCancelled):
        index.search(1, "needle", body_only=False, cancel=cancel)
    assert len(chunks) == 2
    index.on_chunk = None
    assert len(index.search(1, "needle", body_only=False)) == 10  # its connection is reusable
    index.close()


def test_a_new_file_marks_its_unfilled_accounts_once(tmp_path: Path) -> None:
    """Accounts marked when the file is created stay marked across restarts until filled;
    an existing file does not ask again."""
    path = tmp_path / "t.sqlite"
    index = SubstringIndex(path, unfilled=lambda: [3, 5])
    assert index.created and index.unfilled() == {3, 5}
    index.filled(3)
    index.commit()
    index.close()

    def never() -> list[int]:
        raise AssertionError("asked for unfilled accounts of an existing file")

    index = SubstringIndex(path, unfilled=never)
    assert not index.created and index.unfilled() == {5}
    index.close()


def test_an_unreadable_file_is_recreated(tmp_path: Path) -> None:
    """Garbage in place of the file: dropped and created again, its accounts unfilled."""
    path = tmp_path / "t.sqlite"
    path.write_bytes(b"not a database " * 500)
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(path).execute("PRAGMA user_version").fetchone()
    index = SubstringIndex(path, unfilled=lambda: [4])
    assert index.created and index.unfilled() == {4}
    index.add(4, 1, "h", ["b"])
    index.commit()
    assert index.search(4, "b", body_only=True) == {1}
    index.close()
