"""The store's read cache never shows a value older than the last acknowledged write."""

from __future__ import annotations

import threading
from pathlib import Path

from store import Batch, Store
from store.batch import CreateDomain, CreatePrincipal, UpdatePrincipal
from store.readcache import ReadCache

from .workload import INBOX, TRASH, import_batch


def test_fill_after_an_invalidation_is_dropped() -> None:
    cache = ReadCache()
    ticket = cache.ticket()  # a reader reads the database here (old value) ...
    cache.invalidate([b"k"])  # ... a commit lands ...
    cache.fill(ticket, b"k", "old")  # ... and the reader tries to remember what it read
    assert cache.get(b"k") is None
    fresh = cache.ticket()
    cache.fill(fresh, b"k", "new")
    assert cache.get(b"k") == "new"
    cache.invalidate([b"other"])
    assert cache.get(b"k") == "new", "only the written keys are forgotten"
    cache.invalidate([b"k"])
    assert cache.get(b"k") is None


def test_cache_is_bounded() -> None:
    cache = ReadCache(max_entries=4)
    for i in range(10):
        cache.fill(cache.ticket(), b"%d" % i, i)
    assert sum(cache.get(b"%d" % i) is not None for i in range(10)) <= 4


def _setup(store: Store) -> None:
    store.write(
        Batch(
            (
                CreateDomain("example.org"),
                CreatePrincipal(
                    "individual", "a", ("a@example.org",), "", mailboxes=(INBOX, TRASH)
                ),
            ),
            now=1,
        )
    )


def test_reads_follow_acknowledged_writes(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    try:
        _setup(store)
        before = store.account(1)
        assert before is not None and before.email_count == 0
        assert store.account(1) is before, "a second read is served from the cache"
        store.write(import_batch(1, 1, (1,), 2))
        after = store.account(1)
        assert after is not None and after.email_count == 1 and after.modseq > before.modseq

        p = store.principal_by_name("A")
        assert p is not None and p.quota == 0
        store.write(Batch((UpdatePrincipal(p.id, quota=1234),), now=3))
        assert store.principal_by_name("a").quota == 1234  # type: ignore[union-attr]
        assert store.principal_by_address("a@example.org").quota == 1234  # type: ignore[union-attr]
    finally:
        store.close()


def test_concurrent_readers_never_go_back(tmp_path: Path) -> None:
    """A writer thread imports messages one by one; reader threads hammer ``account()``.  After
    each acknowledged write, every read that starts later sees at least that write's modseq, and
    no reader ever sees the counter go backwards."""
    store = Store(tmp_path / "db")
    try:
        _setup(store)
        acknowledged = [0]
        stop = threading.Event()
        failures: list[str] = []

        def reader() -> None:
            last = 0
            while not stop.is_set():
                floor = acknowledged[0]
                state = store.account(1)
                assert state is not None
                if state.modseq < floor:
                    failures.append(f"read modseq {state.modseq} after {floor} was acknowledged")
                if state.modseq < last:
                    failures.append(f"modseq went back from {last} to {state.modseq}")
                last = state.modseq

        readers = [threading.Thread(target=reader) for _ in range(2)]
        for t in readers:
            t.start()
        try:
            for n in range(1, 61):
                result = store.write(import_batch(1, n, (1,), 2))
                acknowledged[0] = max(m for _, m in result.modseqs)
        finally:
            stop.set()
            for t in readers:
                t.join()
        assert not failures, failures[:5]
        final = store.account(1)
        assert final is not None and final.email_count == 60
    finally:
        store.close()
