"""Rights refused by the mail service surface as IMAP NO with a response code (RFC 5530
NOPERM / NONEXISTENT, RFC 4314 §4), never a traceback, and nothing is written.

A real session and context on a real store; after LOGIN the session's token is swapped for one
with fewer rights in the account (what the sharing issue's ACL grants will produce).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from protocols.imap.session import ImapSession
from protocols.mail import Right, Rights
from store import Store

from .imap_sessions import context, new_account, run

USER = "u@example.org"
MESSAGE = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
READ_ONLY: Rights = frozenset({Right.LOOKUP, Right.READ})


@dataclass
class World:
    store: Store
    acct: int
    s: ImapSession

    def restrict(self, rights: Rights) -> None:
        token = self.s.token
        assert token is not None
        self.s.token = dataclasses.replace(token, accounts=((self.acct, rights),))

    def modseq(self) -> int:
        state = self.store.account(self.acct)
        assert state is not None
        return state.modseq

    def inbox_keywords(self) -> list[tuple[str, ...]]:
        inbox = self.store.mailbox_by_role(self.acct, "inbox")
        assert inbox is not None
        out = []
        for _, eid in self.store.mailbox_uids(self.acct, inbox.id):
            email = self.store.email(self.acct, eid)
            assert email is not None
            out.append(email.keywords)
        return out


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = Store(tmp_path / "db")
    acct = new_account(store, USER)
    s = ImapSession(context(store))
    assert b"a OK" in await run(s, b"a LOGIN " + USER.encode() + b" x")
    append = b"p APPEND INBOX (\\Deleted) {%d+}\r\n" % len(MESSAGE) + MESSAGE
    assert b"p OK" in await run(s, append)
    assert b"s OK" in await run(s, b"s SELECT INBOX")
    yield World(store, acct, s)
    store.close()


def refused(reply: bytes, tag: bytes, code: bytes) -> bool:
    last = reply.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1]
    return last.startswith(tag + b" NO [" + code + b"]") and b"SERVERBUG" not in reply


@pytest.mark.parametrize(
    ("line", "missing"),
    [
        (b"t STORE 1 +FLAGS (\\Flagged)", Right.WRITE),
        (b"t STORE 1 -FLAGS (\\Deleted)", Right.DELETE_MESSAGES),
        (b"t UID STORE 1:* +FLAGS.SILENT ($Work)", Right.WRITE),
        (b"t EXPUNGE", Right.EXPUNGE),
        (b"t UID EXPUNGE 1", Right.EXPUNGE),
        (b"t COPY 1 INBOX", Right.INSERT),
        (b"t MOVE 1 INBOX", Right.INSERT),
        (b"t CREATE Projects", Right.CREATE),
        (b"t APPEND INBOX {%d+}\r\n" % len(MESSAGE) + MESSAGE, Right.INSERT),
    ],
)
async def test_a_missing_right_is_answered_noperm_and_nothing_changes(
    world: World, line: bytes, missing: Right
) -> None:
    world.restrict(frozenset(Right) - {missing})
    before, keywords = world.modseq(), world.inbox_keywords()
    reply = await run(world.s, line)
    assert refused(reply, b"t", b"NOPERM"), reply
    assert world.modseq() == before
    assert world.inbox_keywords() == keywords
    assert world.store.mailbox_by_role(world.acct, "inbox") is not None
    assert [mb.name for mb in world.store.mailboxes(world.acct) if mb.name == "Projects"] == []
    # The session goes on: the next command is answered normally.
    assert b"n OK" in await run(world.s, b"n NOOP")


async def test_mailbox_changes_need_their_rights(world: World) -> None:
    assert b"c OK" in await run(world.s, b"c CREATE Old")
    world.restrict(READ_ONLY)
    before = world.modseq()
    for line in (b"t1 RENAME Old New", b"t2 DELETE Old", b"t3 RENAME INBOX Saved"):
        reply = await run(world.s, line)
        assert refused(reply, line.split()[0], b"NOPERM"), reply
    assert world.modseq() == before
    assert {mb.name for mb in world.store.mailboxes(world.acct)} >= {"Old"}
    # SUBSCRIBE needs only the mailbox to be visible (RFC 4314 §4: no right of its own).
    assert b"t4 OK" in await run(world.s, b"t4 SUBSCRIBE Old")


async def test_fetch_without_the_seen_right_answers_and_leaves_seen_alone(world: World) -> None:
    world.restrict(READ_ONLY)
    before = world.modseq()
    reply = await run(world.s, b"f FETCH 1 (BODY[])")
    assert b"f OK" in reply and b"body" in reply, reply
    assert world.modseq() == before
    assert "$seen" not in world.inbox_keywords()[0]


async def test_close_without_the_expunge_right_closes_and_keeps_the_message(world: World) -> None:
    world.restrict(frozenset(Right) - {Right.EXPUNGE})
    reply = await run(world.s, b"c CLOSE")
    assert reply.endswith(b"c OK CLOSE completed\r\n"), reply
    assert world.inbox_keywords() == [("$deleted",)]
    assert world.s.selected is None


async def test_an_account_the_token_may_not_see_is_nonexistent(world: World) -> None:
    token = world.s.token
    assert token is not None
    world.s.token = dataclasses.replace(token, accounts=())
    before = world.modseq()
    for tag, line in ((b"t", b"CREATE Projects"), (b"u", b"STATUS INBOX (MESSAGES)")):
        reply = await run(world.s, tag + b" " + line)
        assert refused(reply, tag, b"NONEXISTENT"), reply
    # The selected mailbox's messages are out of the token's sight: gone, as if expunged.
    reply = await run(world.s, b"v STORE 1 +FLAGS (\\Flagged)")
    assert refused(reply, b"v", b"EXPUNGEISSUED"), reply
    assert world.modseq() == before
