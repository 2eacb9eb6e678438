"""Many trio tasks and threads writing to one account never lose an update nor reuse a UID."""

from __future__ import annotations

import threading
from pathlib import Path

import trio

from stalwart_py.storage import write
from store import Batch, Store
from store.batch import CreateDomain, CreatePrincipal, UpdateEmail

from .workload import INBOX, TRASH, import_batch

TASKS = 16
THREADS = 8
PER_WRITER = 25
# Emails 1..TARGETS take the keyword adds (spread so none passes 128 keywords); every writer
# hits every one of them, so concurrent updates of one record still race.
TARGETS = 6


def target(k: int, i: int) -> int:
    return 1 + (k * PER_WRITER + i) % TARGETS


async def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    try:
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
        for n in range(TARGETS):  # emails 1..TARGETS, targets of keyword adds
            store.write(import_batch(1, n, (1,), 1))
        uids: list[tuple[int, int]] = []

        async def task_writer(k: int) -> None:
            for i in range(PER_WRITER):
                n = 1000 * (k + 1) + i
                res = await write(store, import_batch(1, n, (1, 2), 2))
                assert res[1].ok, res[1]
                uids.extend(res[1].value.uids)
                res = await write(
                    store, Batch((UpdateEmail(1, target(k, i), keywords_add=(f"t{k}-{i}",)),), 2)
                )
                assert res[0].ok

        def thread_writer(k: int) -> None:
            for i in range(PER_WRITER):
                n = 500_000 + 1000 * k + i
                res = store.write(import_batch(1, n, (1,), 3))
                assert res[1].ok, res[1]
                uids.extend(res[1].value.uids)
                store.write(
                    Batch((UpdateEmail(1, target(k, i), keywords_add=(f"h{k}-{i}",)),), now=3)
                )

        threads = [threading.Thread(target=thread_writer, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        async with trio.open_nursery() as nursery:
            for k in range(TASKS):
                nursery.start_soon(task_writer, k)
        for t in threads:
            await trio.to_thread.run_sync(t.join)

        created = TASKS * PER_WRITER + THREADS * PER_WRITER
        assert len(uids) == TASKS * PER_WRITER * 2 + THREADS * PER_WRITER
        assert len(set(uids)) == len(uids), "a (mailbox, UID) pair was assigned twice"
        inbox, trash = store.mailbox(1, 1), store.mailbox(1, 2)
        assert inbox is not None and trash is not None
        assert inbox.total == created + TARGETS == len(store.mailbox_uids(1, 1))
        assert trash.total == TASKS * PER_WRITER == len(store.mailbox_uids(1, 2))
        assert inbox.uidnext == created + TARGETS + 1
        expected: dict[int, set[str]] = {n: set() for n in range(1, TARGETS + 1)}
        for k in range(TASKS):
            for i in range(PER_WRITER):
                expected[target(k, i)].add(f"t{k}-{i}")
        for k in range(THREADS):
            for i in range(PER_WRITER):
                expected[target(k, i)].add(f"h{k}-{i}")
        for eid, words in expected.items():
            email = store.email(1, eid)
            assert email is not None
            assert set(email.keywords) == words, f"a keyword update of email {eid} was lost"
        state = store.account(1)
        assert state is not None and state.email_count == created + TARGETS
        # Every write bumped the account's change counter exactly once.
        assert state.modseq == 1 + TARGETS + 2 * created
        assert store.groups_written < store.batches_written, "writes were never grouped"
    finally:
        store.close()
