"""Acknowledged writes survive SIGKILL, no batch is ever half-applied (DESIGN.md §2), and no
blob reference dangles whenever the kill falls between a blob's file and its batch, or between
a batch that drops a blob and the deletion of its file (issue 10 §2)."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from store import Store, keys
from store.codec import read_u32

from .crash_writer import destroyed_by, message

REPO = Path(__file__).resolve().parents[2]


def _run_and_kill(path: Path, start: int, delay: float) -> list[int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_writer", str(path), str(start)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    acked: list[int] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b"ACK "):
                acked.append(int(line.split()[1]))

    thread = threading.Thread(target=reader)
    thread.start()
    # Wait for the first acknowledgement so every round really writes, then kill at random.
    deadline = time.monotonic() + 20
    while not acked and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert acked, f"writer never acknowledged: {proc.stderr.read() if proc.stderr else ''}"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    thread.join()
    return acked


def _check_consistency(store: Store) -> None:
    for acct in (1, 2):
        emails = {e.id: e for e in store.emails(acct)}
        state = store.account(acct)
        assert state is not None
        assert state.email_count == len(emails)
        assert state.used_bytes == sum(e.size for e in emails.values())
        inbox = store.mailbox(acct, 1)
        uids = store.mailbox_uids(acct, 1)
        assert inbox is not None and inbox.total == len(uids) == len(emails)
        assert len({u for u, _ in uids}) == len(uids), "a UID was reused"
        assert inbox.uidnext > max((u for u, _ in uids), default=0)
        assert {eid for _, eid in uids} == set(emails)
    refs: Counter[bytes] = Counter(e.blob for a in (1, 2) for e in store.emails(a))
    for sha, count in refs.items():
        info = store.blob_info(sha)
        assert info is not None and info.refs == count
        data = store.blob(sha)
        assert data is not None and hashlib.sha256(data).digest() == sha
    for key, value in store.scan(keys.UID):
        assert store.email(read_u32(key, 1), read_u32(value)) is not None


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "db"
    rnd = random.Random(20261122)
    acked: list[int] = []
    for round_ in range(6):
        acked += _run_and_kill(path, 1 + round_ * 100_000, rnd.uniform(0.05, 0.6))
    assert len(acked) > 50
    store = Store(path)
    try:
        _check_consistency(store)
        stored = {a: {e.message_id: e for e in store.emails(a)} for a in (1, 2)}
        destroyed = {
            old for m in stored[1] if (old := destroyed_by(int(m[1:].split("@")[0]))) is not None
        }
        assert destroyed, "no batch destroyed an email: the test did not delete blob files"
        for n in acked:
            for account in (1, 2):
                email = stored[account].get(f"c{n}@crash")
                if email is None and n in destroyed:
                    continue  # a later batch, applied, destroyed it
                assert email is not None, f"acknowledged message {n} lost for account {account}"
                assert store.blob(email.blob) == message(n, account)
        # Atomicity: a batch wrote both accounts' copies or neither.
        assert set(stored[1]) == set(stored[2])
        # What a kill left behind is only ever an orphan file, which the sweep removes; every
        # recorded blob keeps its file (checked again by _check_consistency).
        store.sweep_blobs(min_age=0)
        files = set(store.blobs.digests())
        recorded = {e.blob for a in (1, 2) for e in store.emails(a)}
        assert files == recorded
        _check_consistency(store)
    finally:
        store.close()
