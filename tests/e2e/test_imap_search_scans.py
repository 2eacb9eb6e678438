"""IMAP SEARCH TEXT/BODY scans (RFC 3501 §6.4.4 substrings) share the server fairly: a long
scan of one account holds no lock that indexing, JMAP text queries or other accounts' searches
need; a search given up (the client hung up, ``search.scan_timeout``) stops its scan and frees
its slot (``search.max_concurrent_scans``); a small mailbox reads only its own rows.

A scan is held in place, deterministically, by the substring index's ``on_chunk`` hook, which
the scan calls in its worker thread before each chunk of rows it reads."""

from __future__ import annotations

import smtplib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stalwart_py.accounts import Directory
from stalwart_py.server import passwords_for
from store.fts.substring import SubstringIndex
from tests.e2e.test_jmap_http import JMAP_CORE, JMAP_MAIL, Jmap, start_server
from tests.protocol.imap_support import PASSWORD, ImapWire
from tests.support import ServerThread

BIG = "big@example.org"
HOLD_SECONDS = 10.0


class Hold:
    """An ``on_chunk`` hook: the first scan of ``account`` stops at its first chunk until
    :attr:`release` is set (``until="release"``) or its cancel event is (``until="cancel"``);
    every chunk of that account's scans is counted."""

    def __init__(self, account: int, until: str) -> None:
        self.account = account
        self.until = until
        self.entered = threading.Event()
        self.release = threading.Event()
        self.left = threading.Event()  # the held call returned
        self.calls = 0
        self.cancelled_while_held: bool | None = None

    def __call__(self, account: int, cancel: threading.Event) -> None:
        if account != self.account:
            return
        self.calls += 1
        if self.entered.is_set():
            return
        self.entered.set()
        if self.until == "cancel":
            self.cancelled_while_held = cancel.wait(HOLD_SECONDS)
        else:
            self.release.wait(HOLD_SECONDS)
        self.left.set()


def _texts(srv: ServerThread) -> SubstringIndex:
    assert srv.server is not None and srv.server.indexer is not None
    return srv.server.indexer.texts


def _deliver(srv: ServerThread, rcpt: str, subject: str, body: str) -> None:
    msg = f"From: s@remote.test\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\n{body}\r\n"
    with smtplib.LMTP("127.0.0.1", srv.lmtp_port) as lmtp:
        lmtp.sendmail("s@remote.test", [rcpt], msg.encode())


def _imap(j: Jmap, user: str, password: str) -> ImapWire:
    w = ImapWire.connect(j.ports["imap"])
    w.login(user, password)
    return w


@contextmanager
def big_account(
    tmp_path: Path, overrides: dict[str, str], mails: int
) -> Iterator[tuple[Jmap, int]]:
    """A server (with ``overrides``) where ``BIG`` holds ``mails`` messages, 2 rows per scan
    chunk; the demo user's JMAP helper and BIG's account id."""
    srv = start_server(tmp_path / "data", overrides)
    try:
        big = Directory(srv.store, passwords_for(srv.cfg)).create_account(BIG, PASSWORD)
        for i in range(mails):
            _deliver(srv, BIG, f"big {i}", f"row {i} of the big-infix-needle mailbox")
        _texts(srv).scan_chunk = 2
        yield Jmap(srv), big
    finally:
        srv.stop()


@pytest.fixture
def two_accounts(tmp_path: Path) -> Iterator[tuple[Jmap, int]]:
    """At most 2 scans at once: the demo user (JMAP and IMAP, one message) and ``BIG`` with 6
    messages."""
    with big_account(tmp_path, {"STALWART_SEARCH_MAX_CONCURRENT_SCANS": "2"}, 6) as (j, big):
        j.deliver("small", "the demo-infix-needle message\r\n")
        yield j, big


def _held_search(j: Jmap, hold: Hold) -> ImapWire:
    """BIG's session with ``t1 UID SEARCH TEXT`` sent and its scan held by ``hold``."""
    _texts(j.srv).on_chunk = hold
    w = _imap(j, BIG, PASSWORD)
    w.cmd("s1 SELECT INBOX")
    w.send("t1 UID SEARCH TEXT g-infix-need\r\n")
    assert hold.entered.wait(HOLD_SECONDS), "the scan never started"
    return w


def _jmap_text_query(j: Jmap, text: str) -> list[str]:
    [(name, result, _)] = j.call(
        ["Email/query", {"accountId": j.account_id, "filter": {"text": text}}, "q"],
        using=(JMAP_CORE, JMAP_MAIL),
    )
    assert name == "Email/query", result
    return list(result["ids"])


def test_a_long_scan_blocks_no_other_account_nor_indexing(two_accounts: tuple[Jmap, int]) -> None:
    """While BIG's SEARCH TEXT scan is held mid-way: a JMAP text query completes, another
    account's SEARCH TEXT completes, and that account sees a message delivered meanwhile
    (read-your-writes, RFC 3501 §6.4.4 over what was just delivered); then BIG's answer is
    complete."""
    j, big = two_accounts
    hold = Hold(big, until="release")
    held = _held_search(j, hold)
    try:
        assert len(_jmap_text_query(j, "message")) == 1  # the word index, through the indexer
        other = _imap(j, j.user, j.password)
        other.cmd("s1 SELECT INBOX")
        assert other.cmd("o1 UID SEARCH TEXT mo-infix-nee").untagged == ["* SEARCH 1"]
        j.deliver("later", "a later-infix-needle arrival\r\n")
        other.cmd("n1 NOOP")
        assert other.cmd("o2 UID SEARCH TEXT ter-infix-nee").untagged == ["* SEARCH 2"]
        assert len(_jmap_text_query(j, "arrival")) == 1
    finally:
        hold.release.set()
    r = held.read_until_tagged("t1")
    assert r.status == "OK", str(r)
    assert r.untagged == ["* SEARCH 1 2 3 4 5 6"]


def test_a_hung_up_client_stops_its_scan_and_frees_the_slot(tmp_path: Path) -> None:
    """A client that closes its connection during a SEARCH TEXT scan: the scan is told to
    stop, stops at its next chunk, and its scan slot (max_concurrent_scans = 1) is free for
    the next search, which answers."""
    with big_account(tmp_path, {"STALWART_SEARCH_MAX_CONCURRENT_SCANS": "1"}, 6) as (j, big):
        hold = Hold(big, until="cancel")
        gone = _held_search(j, hold)
        gone.sock.shutdown(socket.SHUT_RDWR)
        gone.close()
        after = _imap(j, BIG, PASSWORD)
        after.cmd("s1 SELECT INBOX")
        r = after.cmd('t2 UID SEARCH TEXT "row 3 of"')
        assert r.status == "OK", str(r)
        assert r.untagged == ["* SEARCH 4"]
        assert hold.left.is_set() and hold.cancelled_while_held is True
        # The held scan read no chunk after it was told to stop; the second scan read all
        # 6 rows, 2 per chunk: 3 chunks and the empty fetch that ends it.
        assert hold.calls == 1 + 4


def test_a_scan_over_the_time_limit_answers_no_limit(tmp_path: Path) -> None:
    """A SEARCH TEXT scan still running after search.scan_timeout is given up: the command
    fails with NO [LIMIT] (RFC 5530) and the scan stops; the session goes on."""
    with big_account(tmp_path, {"STALWART_SEARCH_SCAN_TIMEOUT": "2s"}, 1) as (j, big):
        w = _imap(j, BIG, PASSWORD)
        w.cmd("s1 SELECT INBOX")
        # Caught up first, so that the time limit runs out in the held scan.
        assert w.cmd("t0 UID SEARCH TEXT g-infix-need").untagged == ["* SEARCH 1"]
        hold = Hold(big, until="cancel")
        _texts(j.srv).on_chunk = hold
        w.send("t1 UID SEARCH TEXT g-infix-need\r\n")
        assert hold.entered.wait(HOLD_SECONDS), "the scan never started"
        r = w.read_until_tagged("t1")
        assert r.tagged.startswith("t1 NO [LIMIT] "), str(r)
        assert hold.left.wait(HOLD_SECONDS)
        assert hold.cancelled_while_held is True
        assert w.cmd("t2 UID SEARCH TEXT g-infix-need").untagged == ["* SEARCH 1"]


def test_a_small_mailbox_scans_only_its_own_rows(two_accounts: tuple[Jmap, int]) -> None:
    """SEARCH TEXT in a 2-message mailbox of an account with 8 messages reads those 2 rows
    (one chunk, then the empty fetch), not the account's; in INBOX (most of the account) it
    reads every row.  Both answers are the substring matches of that mailbox only."""
    j, big = two_accounts
    w = _imap(j, BIG, PASSWORD)
    assert w.cmd("c1 CREATE Small").status == "OK"
    for i in range(2):
        data = f"Subject: small {i}\r\n\r\nsmall {i} big-infix-needle\r\n"
        assert w.cmd_literals(f"a{i} APPEND Small ", data, "").status == "OK"
    hold = Hold(big, until="release")
    hold.entered.set()  # never holds: only counts
    _texts(j.srv).on_chunk = hold
    w.cmd("s1 SELECT Small")
    assert w.cmd("t1 UID SEARCH TEXT g-infix-need").untagged == ["* SEARCH 1 2"]
    assert hold.calls == 2
    hold.calls = 0
    w.cmd("s2 SELECT INBOX")
    assert w.cmd("t2 UID SEARCH TEXT g-infix-need").untagged == ["* SEARCH 1 2 3 4 5 6"]
    assert hold.calls == 5  # 8 rows, 2 per chunk, then the empty fetch
