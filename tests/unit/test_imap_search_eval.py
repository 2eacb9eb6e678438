"""SEARCH evaluation (protocols/imap/handlers/search.py): the list-filter evaluation of a key
must select exactly the messages the per-message predicate does, for leaves and AND/OR/NOT
combinations alike, on a real store and session (no sockets)."""

from __future__ import annotations

import itertools
from pathlib import Path

from protocols.imap import commands as C
from protocols.imap.context import ImapContext
from protocols.imap.framing import Frame, ImapFramer
from protocols.imap.handlers.search import Evaluator
from protocols.imap.parser import parse_command
from protocols.imap.session import ImapSession
from stalwart_py.accounts import Directory
from stalwart_py.storage import write
from store import ApplyResult, Batch, Store
from store.models import Principal

USER = "u@example.org"

MESSAGES = [
    # (flags, internal date, From, Subject, size padding)
    ("(\\Seen)", "01-Jan-2024 10:00:00 +0000", "Ann Smith <ann@a.test>", "Quarterly report", 10),
    ("(\\Flagged)", "02-Jan-2024 23:59:59 +0000", "bob@b.test", "Re: report", 3000),
    ("(\\Seen \\Flagged)", "03-Jan-2024 00:00:00 +0000", "Carol <c@c.test>", "lunch", 10),
    ("()", "04-Jan-2024 12:00:00 +0000", "Smithers <s@d.test>", "Lunch plans", 500),
    ("($Work \\Deleted)", "05-Jan-2024 08:00:00 +0000", "dan@e.test", "misc", 2000),
    ("(\\Answered)", "05-Jan-2024 09:00:00 +0000", "Eve <eve@smith.test>", "REPORT due", 10),
]

CRITERIA = [
    "ALL",
    "SEEN",
    "UNSEEN",
    "FLAGGED",
    "UNFLAGGED",
    "DELETED",
    "KEYWORD $Work",
    "UNKEYWORD $work",
    "ANSWERED",
    "RECENT",
    "NEW",
    "SINCE 2-Jan-2024",
    "BEFORE 3-Jan-2024",
    "ON 5-Jan-2024",
    "SENTBEFORE 1-Jan-2030",
    "SUBJECT report",
    'SUBJECT ""',
    "FROM smith",
    "TO nobody",
    "LARGER 1000",
    "SMALLER 600",
    "2:4",
    "UID 3:*",
    "HEADER Subject lunch",
]


def criteria(text: str) -> C.SearchKey:
    cmd = parse_command(frame(b"t SEARCH " + text.encode()))
    assert isinstance(cmd, C.Search)
    return cmd.criteria


def frame(line: bytes) -> Frame:
    framer = ImapFramer()
    framer.receive_data(line + b"\r\n")
    out = framer.next_frame()
    assert isinstance(out, Frame)
    return out


async def session(tmp_path: Path) -> tuple[ImapSession, Store]:
    store = Store(tmp_path / "db")
    directory = Directory(store, None)  # type: ignore[arg-type]  # no password: no hashing
    directory.create_domain("example.org")
    directory.create_account(USER, "")

    async def store_write(batch: Batch) -> ApplyResult:
        return await write(store, batch)

    async def authenticate(user: str, password: str) -> Principal | None:
        return store.principal_by_name(user)

    async def search_substring(acct: int, needle: str, body_only: bool) -> set[int]:
        return set()

    ctx = ImapContext(
        store=store,
        write=store_write,
        authenticate=authenticate,
        search_substring=search_substring,
        now=lambda: 1_800_000_000,
        allow_plaintext_auth=True,
    )
    s = ImapSession(ctx)
    assert (
        b"a OK" in (await s.execute(parse_command(frame(b"a LOGIN " + USER.encode() + b" x")))).data
    )
    for i, (flags, date, sender, subject, pad) in enumerate(MESSAGES):
        data = (
            f"From: {sender}\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
            f"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n{'x' * pad}\r\n"
        ).encode()
        line = f'p{i} APPEND INBOX {flags} "{date}" {{{len(data)}+}}\r\n'.encode() + data
        reply = (await s.execute(parse_command(frame(line)))).data
        assert b"OK" in reply, reply
    assert b"OK" in (await s.execute(parse_command(frame(b"s SELECT INBOX")))).data
    return s, store


async def test_filters_select_what_the_predicates_select(tmp_path: Path) -> None:
    s, store = await session(tmp_path)
    sel = s.selected
    assert sel is not None
    rows = sel.rows()
    assert [seq for seq, _, _ in rows] == [1, 2, 3, 4, 5, 6]
    keys = list(CRITERIA)
    keys += [f"NOT {a}" for a in CRITERIA]
    keys += [f"OR {a} {b}" for a, b in itertools.combinations(CRITERIA, 2)]
    keys += [f"{a} {b}" for a, b in itertools.combinations(CRITERIA, 2)]
    keys += [f"OR (NOT {a}) ({b} {c})" for a, b, c in itertools.combinations(CRITERIA[:12], 3)]
    seen_sizes = set()
    for text in keys:
        key = criteria(text)
        want = [r[1] for r in rows if Evaluator(s).predicate(key)(*r)]
        got = [r[1] for r in Evaluator(s).compile(key)(list(rows))]
        assert got == want, text
        seen_sizes.add(len(got))
    assert len(seen_sizes) > 4  # the keys select different subsets, not all or nothing
    store.close()


async def test_a_few_answers(tmp_path: Path) -> None:
    s, store = await session(tmp_path)
    sel = s.selected
    assert sel is not None

    def seqs(text: str) -> list[int]:
        return [r[0] for r in Evaluator(s).compile(criteria(text))(sel.rows())]

    assert seqs("SUBJECT report") == [1, 2, 6]  # substring, any case
    assert seqs("FROM smith") == [1, 4, 6]  # display name, local part or domain
    assert seqs("SINCE 3-Jan-2024 BEFORE 5-Jan-2024") == [3, 4]  # whole UTC days
    assert seqs("ON 2-Jan-2024") == [2]
    assert seqs("OR FLAGGED KEYWORD $work NOT SEEN") == [2, 5]
    assert seqs("NOT OR SEEN FLAGGED") == [4, 5, 6]
    store.close()
