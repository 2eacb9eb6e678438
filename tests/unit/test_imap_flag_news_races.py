"""Flag news against concurrent writers, with the interleaving chosen by the test.

A session that reports flags itself (its own STORE, a FETCH that sets \\Seen) used to read the
log afterwards and drop *every* flag change it found for those messages as "the echo of our own
change".  Another writer's commit can land between the record read that response showed and
that log scan (the store's writer thread commits whenever it likes): the session consumed the
change and never reported it, so its client kept flags the store no longer had — what
``tests/stress/test_imap_concurrency.py`` caught once in a full-suite run.  RFC 3501 §5.2 /
RFC 9051 §5.2: the server SHOULD send flag updates made by other agents without being asked;
the client's picture is only right if none is dropped.

The sessions here are real :class:`ImapSession` objects on a real store; the test decides when
the "other" write commits (:class:`InterleavingStore`), so each race happens every run.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from protocols.imap.context import ImapContext
from protocols.imap.session import ImapSession
from stalwart_py.accounts import Directory
from stalwart_py.storage import write
from store import ApplyResult, Batch, Store
from store.batch import UpdateEmail
from store.models import ChangeEntry

from .imap_sessions import NOW, context, run

USER = "u@example.org"
MESSAGE = b"From: a@example.org\r\nSubject: one\r\n\r\nbody\r\n"


class InterleavingStore(Store):
    """A real store whose test picks the instant another writer's batch commits: batches in
    ``before_next_scan`` are written (through the writer thread, like any write) just before
    the next change-log scan starts — i.e. after everything the session read before it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.before_next_scan: list[Batch] = []

    def changes_since(
        self, acct: int, modseq: int, limit: int | None = None
    ) -> list[tuple[int, tuple[ChangeEntry, ...]]]:
        while self.before_next_scan:
            self.write(self.before_next_scan.pop(0))
        return super().changes_since(acct, modseq, limit)


@dataclass
class World:
    store: InterleavingStore
    ctx: ImapContext
    acct: int
    # Batches to commit right after this session's next own write completes (armed then, so
    # that they land before the session's next log scan — after the records it re-read).
    after_own_write: list[Batch] = field(default_factory=list)

    async def session(self) -> ImapSession:
        s = ImapSession(self.ctx)
        assert b"a OK" in await run(s, b"a LOGIN " + USER.encode() + b" x")
        assert b"s OK" in await run(s, b"s SELECT INBOX")
        return s

    def eid(self) -> int:
        inbox = self.store.mailbox_by_role(self.acct, "inbox")
        assert inbox is not None
        return self.store.mailbox_uids(self.acct, inbox.id)[0][1]

    def keywords(self) -> set[str]:
        email = self.store.email(self.acct, self.eid())
        assert email is not None
        return set(email.keywords)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = InterleavingStore(tmp_path / "db")
    directory = Directory(store, None)  # type: ignore[arg-type]  # no password: no hashing
    directory.create_domain("example.org")
    acct = directory.create_account(USER, "")
    armed: list[Batch] = []

    async def store_write(batch: Batch) -> ApplyResult:
        result = await write(store, batch)
        store.before_next_scan.extend(armed)
        armed.clear()
        return result

    w = World(store, context(store, store_write), acct, armed)
    s = ImapSession(w.ctx)
    await run(s, b"a LOGIN " + USER.encode() + b" x")
    line = b"p APPEND INBOX () {%d+}\r\n" % len(MESSAGE) + MESSAGE
    assert b"p OK" in await run(s, line)
    yield w
    store.close()


_FETCH_FLAGS = re.compile(rb"^\* (\d+) FETCH \(.*?FLAGS \(([^)]*)\)", re.M)
SYSTEM = {b"\\seen": "$seen", b"\\flagged": "$flagged", b"\\deleted": "$deleted"}


def _without_literals(data: bytes) -> bytes:
    out, i = [], 0
    for m in re.finditer(rb"\{(\d+)\}\r\n", data):
        if m.start() < i:
            continue
        out.append(data[i : m.start()])
        i = m.end() + int(m[1])
    return b"".join(out) + data[i:]


def last_flags(transcript: bytes, seq: int) -> set[str] | None:
    """The flags of message ``seq`` as a client reading ``transcript`` last heard them."""
    found = None
    for m in _FETCH_FLAGS.finditer(_without_literals(transcript)):
        if int(m[1]) == seq:
            flags = (f.lower() for f in m[2].split() if f.lower() != b"\\recent")
            found = {SYSTEM.get(f, f.decode()) for f in flags}
    return found


async def told(world: World, a: ImapSession, seen: bytes, flags: set[str]) -> None:
    """After a NOOP, the store holds ``flags`` and the client last heard exactly those."""
    seen += await run(a, b"t9 NOOP")
    assert world.keywords() == flags
    assert last_flags(seen, 1) == flags, seen


@pytest.mark.parametrize(
    "command",
    [b"STORE 1 +FLAGS (\\Seen)", b"FETCH 1 (BODY[])"],
    ids=["store", "fetch-sets-seen"],
)
async def test_a_change_landing_after_the_response_read_its_record_is_still_reported(
    world: World, command: bytes
) -> None:
    """RFC 3501 §5.2 / RFC 9051 §5.2 (flag updates by other agents are sent): a change that
    commits after this session's STORE (or \\Seen-setting FETCH, RFC 3501 §6.4.5) re-read the
    record it answers with, but before its log scan, is not that command's echo and must
    still reach the client."""
    a = await world.session()
    other = UpdateEmail(world.acct, world.eid(), keywords_add=("$flagged",))
    world.after_own_write.append(Batch((other,), now=NOW + 1))
    seen = await run(a, b"t1 " + command)
    assert b"t1 OK" in seen
    await told(world, a, seen, {"$seen", "$flagged"})


async def test_store_silent_does_not_swallow_another_sessions_change(world: World) -> None:
    """RFC 3501 §6.4.6: .SILENT only spares the client the value *it* just set; a change made
    by another session before it (not yet reported) is still due (RFC 3501 §5.2)."""
    a = await world.session()
    b = await world.session()
    assert b"t0 OK" in await run(b, b"t0 STORE 1 +FLAGS.SILENT (\\Flagged)")
    seen = await run(a, b"t1 STORE 1 +FLAGS.SILENT (\\Seen)")
    assert b"t1 OK" in seen
    await told(world, a, seen, {"$seen", "$flagged"})


async def test_store_silent_alone_sends_no_fetch(world: World) -> None:
    """RFC 3501 §6.4.6: with nothing else changed, STORE .SILENT answers with no FETCH, and the
    echo of its own change is not reported later either."""
    a = await world.session()
    seen = await run(a, b"t1 STORE 1 +FLAGS.SILENT (\\Seen)")
    seen += await run(a, b"t2 NOOP")
    assert b"FETCH" not in seen, seen
    assert world.keywords() == {"$seen"}


async def test_store_silent_that_changes_nothing_keeps_earlier_news(world: World) -> None:
    """RFC 3501 §6.4.6 / §5.2: a .SILENT STORE that leaves the flags as they were has no echo
    to drop; the other session's change that set them is still reported."""
    a = await world.session()
    b = await world.session()
    assert b"t0 OK" in await run(b, b"t0 STORE 1 +FLAGS.SILENT (\\Flagged)")
    seen = await run(a, b"t1 STORE 1 +FLAGS.SILENT (\\Flagged)")
    await told(world, a, seen, {"$flagged"})
