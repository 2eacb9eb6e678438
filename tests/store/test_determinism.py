"""DESIGN.md §2: the same sequence of batches applied to two empty stores gives identical databases,
whether applied one by one, through the wire encoding, or group-committed concurrently."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from store import Batch, Store
from store.apply import AppliedBatch
from store.group import apply_group

from .workload import workload


def _apply_serially(path: Path, batches: list[Batch], *, encode: bool) -> dict[bytes, bytes]:
    store = Store(path)
    try:
        for batch in batches:
            store.write(Batch.decode(batch.encode()) if encode else batch)
        return store.dump()
    finally:
        store.close()


def _apply_grouped(path: Path, batches: list[Batch]) -> dict[bytes, bytes]:
    """Queue everything at once so that the writer commits many batches per group."""
    store = Store(path, group_commit_max=64)
    try:
        done = threading.Semaphore(0)
        for batch in batches:
            store.submit(batch, lambda result, error: done.release())
        for _ in batches:
            assert done.acquire(timeout=30)
        assert store.groups_written < len(batches), "nothing was group-committed"
        return store.dump()
    finally:
        store.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_replay_gives_identical_stores(tmp_path: Path, seed: int) -> None:
    batches = workload(seed)
    first = _apply_serially(tmp_path / "a", batches, encode=False)
    second = _apply_serially(tmp_path / "b", batches, encode=True)
    grouped = _apply_grouped(tmp_path / "c", batches)
    assert len(first) > 200
    assert first == second
    assert first == grouped


def test_batches_round_trip_through_the_wire_encoding() -> None:
    for batch in workload(7):
        assert Batch.decode(batch.encode()) == batch


def test_replay_is_sensitive_to_order(tmp_path: Path) -> None:
    """A control: the comparison above would notice a different history."""
    batches = workload(4)
    swapped = batches[:1] + batches[2:3] + batches[1:2] + batches[3:]
    assert _apply_serially(tmp_path / "a", batches, encode=False) != _apply_serially(
        tmp_path / "b", swapped, encode=False
    )


def test_apply_group_is_pure_and_is_what_the_store_writes(tmp_path: Path) -> None:
    """Issue 10 §1a: apply_group reads only the view and returns writes and results: run twice
    on the same state it gives the same outcome and changes nothing; the store then writes
    exactly those writes."""
    batches = workload(7)
    store = Store(tmp_path / "db")
    try:
        for batch in batches[:60]:
            store.write(batch)
        before = store.dump()
        rest = batches[60:]
        first = apply_group(store.view(), rest)
        second = apply_group(store.view(), rest)
        assert first == second
        assert store.dump() == before
        assert all(isinstance(a, AppliedBatch) for a in first.applied)
        for batch in rest:
            store.write(batch)
        expected = dict(before)
        for key, value in first.writes.items():
            if value is None:
                expected.pop(key, None)
            else:
                expected[key] = value
        assert store.dump() == expected
    finally:
        store.close()
