"""End-to-end LMTP delivery: real sockets against the real server and its LevelDB store.

Clients are Python's blocking ``smtplib.LMTP`` (the server runs in its own thread) and, where
byte-level control matters (BDAT, PIPELINING), a raw socket.  Every test checks the replies
(basic and enhanced codes) *and* what the store holds afterwards.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from stalwart_py.accounts import Directory
from stalwart_py.server import passwords_for
from store.models import LIST
from tests.support import ServerThread, check_stored_form, make_config, require_corpus

SENDER = "sender@remote.test"
CLIENT_NAME = "client.test"

# -- helpers -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    code: int
    enhanced: str
    text: str


_ENHANCED = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


def answer(code: int, raw: bytes | str) -> Answer:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    first, _, rest = text.partition(" ")
    if _ENHANCED.fullmatch(first):
        return Answer(code, first, rest)
    return Answer(code, "", text)


@dataclass(frozen=True, slots=True)
class Transaction:
    mail: Answer
    rcpt: list[tuple[str, Answer]]  # every RCPT, in order
    data: list[tuple[str, Answer]]  # one per accepted recipient, in order (RFC 2033 §4.2)

    def rcpt_of(self, address: str) -> Answer:
        return next(a for r, a in self.rcpt if r == address)

    def data_of(self, address: str) -> Answer:
        return next(a for r, a in self.data if r == address)


def transact(
    client: smtplib.LMTP,
    recipients: Sequence[str],
    message: bytes,
    *,
    sender: str = SENDER,
    mail_options: Sequence[str] = (),
) -> Transaction:
    """One LMTP transaction, reading every per-recipient reply after DATA.

    ``smtplib.LMTP.sendmail`` reads only one reply after DATA, so with several recipients the
    remaining ones are read here with ``getreply()``.
    """
    client.ehlo_or_helo_if_needed()
    mail = answer(*client.mail(sender, list(mail_options)))
    rcpts = [(r, answer(*client.rcpt(r))) for r in recipients]
    accepted = [r for r, a in rcpts if a.code == 250]
    data: list[tuple[str, Answer]] = []
    if accepted:
        data.append((accepted[0], answer(*client.data(message))))
        data.extend((r, answer(*client.getreply())) for r in accepted[1:])
    else:
        client.rset()
    return Transaction(mail, rcpts, data)


def connect(server: ServerThread) -> smtplib.LMTP:
    client = smtplib.LMTP("127.0.0.1", server.lmtp_port, local_hostname=CLIENT_NAME, timeout=10)
    return client


def send_one(server: ServerThread, rcpt: str, message: bytes, **kw: object) -> Transaction:
    with connect(server) as client:
        return transact(client, [rcpt], message, **kw)  # type: ignore[arg-type]


def msg(
    subject: str = "hello",
    body: str = "hello world\r\n",
    *,
    message_id: str | None = None,
    extra: str = "",
) -> bytes:
    head = f"From: Sender <{SENDER}>\r\nTo: someone@example.org\r\nSubject: {subject}\r\n"
    if message_id:
        head += f"Message-ID: <{message_id}>\r\n"
    return (head + extra + "\r\n" + body).encode("utf-8")


def account_id(server: ServerThread, address: str) -> int:
    p = server.store.principal_by_address(address)
    assert p is not None, address
    return int(p.id)


def inbox(server: ServerThread, address: str):  # type: ignore[no-untyped-def]
    mb = server.store.mailbox_by_role(account_id(server, address), "inbox")
    assert mb is not None
    return mb


def stored(server: ServerThread, address: str) -> list[bytes]:
    """The raw stored messages of an account's inbox, in UID order."""
    store = server.store
    acct = account_id(server, address)
    out = []
    for _uid, eid in store.mailbox_uids(acct, inbox(server, address).id):
        email = store.email(acct, eid)
        assert email is not None
        raw = store.blob(email.blob)
        assert raw is not None
        assert len(raw) == email.size
        out.append(raw)
    return out


_TRACE = re.compile(
    rb"Return-Path: <(?P<return_path>[^>\r\n]*)>\r\n"
    rb"Delivered-To: (?P<delivered_to>[^\r\n]*)\r\n"
    rb"Received: (?P<received>[^\r\n]*(?:\r\n[ \t][^\r\n]*)*)\r\n"
)


@dataclass(frozen=True, slots=True)
class Trace:
    return_path: str
    delivered_to: str
    received: str  # unfolded
    body: bytes  # everything after the trace fields: the message as sent


def split_trace(raw: bytes) -> Trace:
    m = _TRACE.match(raw)
    assert m is not None, f"no trace headers at the start of {raw[:200]!r}"
    received = re.sub(r"\r\n[ \t]+", " ", m["received"].decode("utf-8"))
    return Trace(
        m["return_path"].decode("utf-8"),
        m["delivered_to"].decode("utf-8"),
        received,
        raw[m.end() :],
    )


def canonical(raw: bytes) -> bytes:
    """The CRLF form an MTA sends with DATA (every line ending CRLF, a final CRLF)."""
    text = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return text if text.endswith(b"\r\n") else text + b"\r\n"


class RawLmtp:
    """A byte-level LMTP client for what smtplib cannot do (BDAT, pipelining in one write)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; buffered {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def reply(self) -> Answer:
        lines = []
        while True:
            line = self._line()
            lines.append(line)
            assert re.fullmatch(rb"[2-5]\d\d[ -].*", line), line
            if line[3:4] == b" ":
                break
        return answer(int(lines[0][:3]), lines[-1][4:])

    def cmd(self, line: str) -> Answer:
        self.send(line.encode("utf-8") + b"\r\n")
        return self.reply()

    def close(self) -> None:
        try:
            self.cmd("QUIT")
        finally:
            self.sock.close()


@pytest.fixture
def raw_client(server: ServerThread) -> Iterator[RawLmtp]:
    client = RawLmtp(server.lmtp_port)
    try:
        yield client
    finally:
        client.sock.close()


# -- valid / unknown / over quota ------------------------------------------------------------


def test_valid_unknown_and_full_recipient_at_rcpt(
    server: ServerThread, directory: Directory
) -> None:
    directory.create_account("alice@example.org", "pw")
    directory.create_account("full@example.org", "pw")
    send_one(server, "full@example.org", msg("filler"))
    directory.set_quota("full@example.org", 1)  # already over: refused at RCPT
    full_before = inbox(server, "full@example.org")
    message = msg("three recipients", message_id="three@remote.test")

    with connect(server) as client:
        t = transact(
            client, ["alice@example.org", "nobody@example.org", "full@example.org"], message
        )

    assert t.mail == Answer(250, "2.1.0", "Sender OK")
    assert (t.rcpt_of("alice@example.org").code, t.rcpt_of("alice@example.org").enhanced) == (
        250,
        "2.1.5",
    )
    unknown = t.rcpt_of("nobody@example.org")
    assert (unknown.code, unknown.enhanced) == (550, "5.1.1")
    full = t.rcpt_of("full@example.org")
    assert (full.code, full.enhanced) == (452, "4.2.2")
    assert [(r, a.code, a.enhanced) for r, a in t.data] == [("alice@example.org", 250, "2.0.0")]

    box = inbox(server, "alice@example.org")
    assert (box.total, box.unseen) == (1, 1)
    acct = account_id(server, "alice@example.org")
    uids = server.store.mailbox_uids(acct, box.id)
    assert [uid for uid, _ in uids] == [1]
    email = server.store.email(acct, uids[0][1])
    assert email is not None and email.message_id == "three@remote.test"
    assert box.size == email.size
    state = server.store.account(acct)
    assert (state.email_count, state.used_bytes) == (1, email.size)
    assert split_trace(server.store.blob(email.blob)).body == message
    # The full account got nothing more.
    assert inbox(server, "full@example.org") == full_before


def test_over_quota_found_after_data_is_per_recipient(
    server: ServerThread, directory: Directory
) -> None:
    directory.create_account("alice@example.org", "pw")
    directory.create_account("small@example.org", "pw", quota=2000)
    big = msg("big", "x" * 70 + "\r\n" * 1 + ("y" * 78 + "\r\n") * 60)
    assert len(big) > 2000

    with connect(server) as client:
        t = transact(client, ["small@example.org", "nobody@example.org", "alice@example.org"], big)
        # The session is still usable: a small message fits the quota.
        small = transact(client, ["small@example.org"], msg("small"))

    # Under quota at RCPT time: accepted; this message does not fit: 452 4.2.2 after DATA.
    assert t.rcpt_of("small@example.org").code == 250
    assert (t.rcpt_of("nobody@example.org").code, t.rcpt_of("nobody@example.org").enhanced) == (
        550,
        "5.1.1",
    )
    assert [(r, a.code, a.enhanced) for r, a in t.data] == [
        ("small@example.org", 452, "4.2.2"),
        ("alice@example.org", 250, "2.0.0"),
    ]
    assert [(a.code, a.enhanced) for _, a in small.data] == [(250, "2.0.0")]

    assert [split_trace(raw).body for raw in stored(server, "alice@example.org")] == [big]
    small_box = inbox(server, "small@example.org")
    assert small_box.total == 1
    (only,) = stored(server, "small@example.org")
    assert split_trace(only).body == msg("small")
    assert server.store.account(account_id(server, "small@example.org")).used_bytes == len(only)


def test_all_recipients_refused_at_rcpt(server: ServerThread, directory: Directory) -> None:
    with connect(server) as client:
        client.ehlo()
        client.mail(SENDER)
        assert answer(*client.rcpt("ghost@example.org")).enhanced == "5.1.1"
        # RFC 2033 §4.2: DATA without an accepted recipient fails with 503.
        client.putcmd("data")
        code, text = client.getreply()
        assert (code, answer(code, text).enhanced) == (503, "5.5.1")
        assert client.noop()[0] == 250


# -- stored bytes ------------------------------------------------------------------------------


def test_stored_bytes_are_trace_headers_then_the_message(
    server: ServerThread, directory: Directory
) -> None:
    directory.create_account("alice@example.org", "pw")
    body = (
        "line one\r\n"
        ".a line starting with a dot\r\n"
        "..two dots\r\n"
        ".\r\n"  # a lone dot inside the message, not the end
        "last line\r\n"
    )
    message = msg("dots", body, message_id="dots@remote.test")
    t = send_one(server, "alice@example.org", message)
    assert t.data[0][1].code == 250

    (raw,) = stored(server, "alice@example.org")
    trace = split_trace(raw)
    assert trace.body == message  # dot-unstuffed, byte for byte
    assert trace.return_path == SENDER
    assert trace.delivered_to == "alice@example.org"
    received = trace.received
    assert received.startswith(f"from {CLIENT_NAME} (127.0.0.1:")
    assert "by mx.test (stalwart-py)" in received
    assert " with LMTP " in received
    assert "for <alice@example.org>;" in received
    # RFC 5322 date after the semicolon.
    assert re.search(r"; \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$", received)


def test_null_reverse_path(server: ServerThread, directory: Directory) -> None:
    directory.create_account("alice@example.org", "pw")
    t = send_one(server, "alice@example.org", msg("bounce"), sender="")
    assert t.data[0][1].code == 250
    (raw,) = stored(server, "alice@example.org")
    assert raw.startswith(b"Return-Path: <>\r\n")


# -- recipient resolution ------------------------------------------------------------------


def test_exact_case_insensitive_alias_and_plus_addressing(
    server: ServerThread, directory: Directory
) -> None:
    directory.create_account("alice@example.org", "pw")
    directory.add_alias("al@example.org", "alice@example.org")
    addresses = [
        "alice@example.org",
        "ALICE@Example.ORG",
        "al@example.org",
        "alice+news@example.org",
        "Al+Lists@EXAMPLE.org",
    ]
    for n, rcpt in enumerate(addresses):
        t = send_one(server, rcpt, msg(f"to {rcpt}", message_id=f"r{n}@remote.test"))
        assert (t.rcpt[0][1].code, t.data[0][1].code) == (250, 250), rcpt

    raws = stored(server, "alice@example.org")
    assert len(raws) == len(addresses)
    for rcpt, raw in zip(addresses, raws, strict=True):
        trace = split_trace(raw)
        # Delivered-To and Received name the address the MTA gave, not the canonical one.
        assert trace.delivered_to == rcpt
        assert f"for <{rcpt}>" in trace.received
        assert trace.body.startswith(b"From: ")

    # Removing the alias makes it unknown again.
    directory.remove_alias("al@example.org")
    t = send_one(server, "al@example.org", msg("gone"))
    assert (t.rcpt[0][1].code, t.rcpt[0][1].enhanced) == (550, "5.1.1")


def test_plus_addressing_of_an_unknown_user_is_unknown(
    server: ServerThread, directory: Directory
) -> None:
    directory.create_account("alice@example.org", "pw")
    t = send_one(server, "bob+tag@example.org", msg())
    assert (t.rcpt[0][1].code, t.rcpt[0][1].enhanced) == (550, "5.1.1")


def test_catch_all_is_per_domain(server: ServerThread, directory: Directory) -> None:
    directory.create_domain("catch.test")
    directory.create_account("bucket@catch.test", "pw")
    directory.create_account("real@catch.test", "pw")
    directory.set_catch_all("catch.test", "bucket@catch.test")
    with connect(server) as client:
        t = transact(
            client,
            ["whoever@catch.test", "real@catch.test", "whoever@example.org"],
            msg("catch"),
        )
    assert [(r, a.code) for r, a in t.rcpt] == [
        ("whoever@catch.test", 250),
        ("real@catch.test", 250),
        ("whoever@example.org", 550),  # example.org has no catch-all
    ]
    assert [a.code for _, a in t.data] == [250, 250]
    (caught,) = stored(server, "bucket@catch.test")
    assert split_trace(caught).delivered_to == "whoever@catch.test"
    assert len(stored(server, "real@catch.test")) == 1  # an existing address beats the catch-all

    directory.set_catch_all("catch.test", None)
    t = send_one(server, "whoever@catch.test", msg("no more"))
    assert (t.rcpt[0][1].code, t.rcpt[0][1].enhanced) == (550, "5.1.1")


def test_groups_and_lists_expand_to_members(server: ServerThread, directory: Directory) -> None:
    for name in ("alice", "bob", "carol", "dave"):
        directory.create_account(f"{name}@example.org", "pw")
    directory.create_group("inner@example.org", ["alice@example.org", "bob@example.org"])
    directory.create_group("outer@example.org", ["inner@example.org", "carol@example.org"])
    # A loop: inner also contains outer.  Expansion must terminate, one copy each.
    directory.set_members(
        "inner@example.org", ["alice@example.org", "bob@example.org", "outer@example.org"]
    )
    directory.create_group("news@example.org", ["dave@example.org", "alice@example.org"], kind=LIST)

    t = send_one(server, "outer@example.org", msg("to the group", message_id="g1@remote.test"))
    assert t.data[0][1].code == 250
    t = send_one(server, "news@example.org", msg("to the list", message_id="g2@remote.test"))
    assert t.data[0][1].code == 250

    counts = {n: len(stored(server, f"{n}@example.org")) for n in ("alice", "bob", "carol", "dave")}
    assert counts == {"alice": 2, "bob": 1, "carol": 1, "dave": 1}
    carol = split_trace(stored(server, "carol@example.org")[0])
    assert carol.delivered_to == "outer@example.org"
    assert carol.body == msg("to the group", message_id="g1@remote.test")


def test_group_without_members_is_unknown(server: ServerThread, directory: Directory) -> None:
    directory.create_group("empty@example.org", [])
    t = send_one(server, "empty@example.org", msg())
    assert (t.rcpt[0][1].code, t.rcpt[0][1].enhanced) == (550, "5.1.1")


def test_unknown_domain(server: ServerThread, directory: Directory) -> None:
    directory.create_account("alice@example.org", "pw")
    with connect(server) as client:
        t = transact(client, ["alice@nowhere.test", "alice@example.org"], msg())
    bad = t.rcpt_of("alice@nowhere.test")
    assert (bad.code, bad.enhanced) == (550, "5.1.1")
    assert [(r, a.code) for r, a in t.data] == [("alice@example.org", 250)]


def test_two_addresses_of_one_account_get_one_copy(
    server: ServerThread, directory: Directory
) -> None:
    directory.create_account("alice@example.org", "pw")
    directory.create_account("bob@example.org", "pw")
    directory.add_alias("al@example.org", "alice@example.org")
    directory.create_group("team@example.org", ["alice@example.org", "bob@example.org"])
    rcpts = ["alice@example.org", "al@example.org", "team@example.org", "alice+x@example.org"]
    with connect(server) as client:
        t = transact(client, rcpts, msg("once", message_id="once@remote.test"))
    # Every address is acknowledged, in RCPT order.
    assert [(r, a.code, a.enhanced) for r, a in t.data] == [(r, 250, "2.0.0") for r in rcpts]
    (alice,) = stored(server, "alice@example.org")
    assert split_trace(alice).delivered_to == "alice@example.org"  # the first address reaching it
    assert len(stored(server, "bob@example.org")) == 1
    assert server.store.account(account_id(server, "alice@example.org")).email_count == 1


# -- threading -------------------------------------------------------------------------------


def _email_of(server: ServerThread, address: str, message_id: str):  # type: ignore[no-untyped-def]
    acct = account_id(server, address)
    found = [e for e in server.store.emails(acct) if e.message_id == message_id]
    assert len(found) == 1, message_id
    return found[0]


def _reply(subject: str, mid: str, refs: Sequence[str]) -> bytes:
    extra = f"In-Reply-To: <{refs[-1]}>\r\nReferences: {' '.join(f'<{r}>' for r in refs)}\r\n"
    return msg(subject, message_id=mid, extra=extra)


def test_replies_thread_with_their_parent(server: ServerThread, directory: Directory) -> None:
    a = "alice@example.org"
    directory.create_account(a, "pw")
    acct = account_id(server, a)
    for m in (
        msg("Plans", message_id="p1@remote.test"),
        _reply("Re: Plans", "p2@remote.test", ["p1@remote.test"]),
        _reply("RE: Re: Plans", "p3@remote.test", ["p1@remote.test", "p2@remote.test"]),
        msg("Plans", message_id="other@remote.test"),  # same subject, no link: own thread
    ):
        assert send_one(server, a, m).data[0][1].code == 250

    p1, p2, p3 = (_email_of(server, a, f"p{i}@remote.test") for i in (1, 2, 3))
    other = _email_of(server, a, "other@remote.test")
    assert p1.thread_id == p2.thread_id == p3.thread_id
    assert other.thread_id != p1.thread_id
    assert server.store.thread_emails(acct, p1.thread_id) == [p1.id, p2.id, p3.id]
    assert server.store.thread_emails(acct, other.thread_id) == [other.id]


def test_out_of_order_arrival_and_thread_merge(server: ServerThread, directory: Directory) -> None:
    a = "alice@example.org"
    directory.create_account(a, "pw")
    acct = account_id(server, a)
    # The reply arrives before its parent.
    send_one(server, a, _reply("Re: Budget", "b2@remote.test", ["b1@remote.test"]))
    send_one(server, a, msg("Budget", message_id="b1@remote.test"))
    b2, b1 = _email_of(server, a, "b2@remote.test"), _email_of(server, a, "b1@remote.test")
    assert b1.thread_id == b2.thread_id
    assert server.store.thread_emails(acct, b1.thread_id) == sorted([b1.id, b2.id])

    # Another conversation on the same subject, not linked yet: a second thread.
    send_one(server, a, msg("Budget", message_id="c1@remote.test"))
    c1 = _email_of(server, a, "c1@remote.test")
    assert c1.thread_id != b1.thread_id
    first, second = sorted([b1.thread_id, c1.thread_id])

    # A message referencing both links them: the threads merge into the oldest.
    send_one(server, a, _reply("Re: Budget", "m@remote.test", ["b1@remote.test", "c1@remote.test"]))
    ids = {mid: _email_of(server, a, f"{mid}@remote.test") for mid in ("b1", "b2", "c1", "m")}
    assert {e.thread_id for e in ids.values()} == {first}
    assert server.store.thread_emails(acct, first) == sorted(e.id for e in ids.values())
    assert server.store.thread_emails(acct, second) == []


# -- duplicate suppression -------------------------------------------------------------------


def test_duplicate_message_id_within_window_gives_one_copy(
    server: ServerThread, directory: Directory
) -> None:
    directory.create_account("alice@example.org", "pw")
    directory.create_account("bob@example.org", "pw")
    message = msg("dup", message_id="dup@remote.test")
    with connect(server) as client:
        first = transact(client, ["alice@example.org"], message)
        # The MTA retries (say the first reply was lost), this time with bob as well.
        second = transact(client, ["alice@example.org", "bob@example.org"], message)
    assert [a.code for _, a in first.data] == [250]
    assert [(r, a.code) for r, a in second.data] == [
        ("alice@example.org", 250),
        ("bob@example.org", 250),
    ]
    assert inbox(server, "alice@example.org").total == 1
    assert len(stored(server, "alice@example.org")) == 1
    assert len(stored(server, "bob@example.org")) == 1  # per mailbox: bob's first copy

    # A different Message-ID is not a duplicate.
    send_one(server, "alice@example.org", msg("dup", message_id="dup2@remote.test"))
    assert inbox(server, "alice@example.org").total == 2


def test_duplicate_window_zero_keeps_both_copies(tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "data", {"STALWART_DELIVERY_DUPLICATE_WINDOW": "0"})
    srv = ServerThread(cfg).start()
    try:
        Directory(srv.store, passwords_for(cfg)).create_account("alice@example.org", "pw")
        message = msg("dup", message_id="dup@remote.test")
        for _ in range(2):
            assert send_one(srv, "alice@example.org", message).data[0][1].code == 250
        raws = stored(srv, "alice@example.org")
        assert [split_trace(r).body for r in raws] == [message, message]
        assert inbox(srv, "alice@example.org").total == 2
    finally:
        srv.stop()


# -- the MIME corpus -------------------------------------------------------------------------


def _corpus() -> list[Path]:
    corpus = require_corpus()
    files = sorted(corpus.rglob("*.eml"))
    if not files:
        pytest.skip(f"no .eml files under {corpus}")
    return files


def test_every_corpus_message_is_stored_byte_for_byte(tmp_path: Path) -> None:
    files = _corpus()
    # Window 0: corpus messages share Message-IDs, and each must be stored.
    cfg = make_config(tmp_path / "data", {"STALWART_DELIVERY_DUPLICATE_WINDOW": "0"})
    srv = ServerThread(cfg).start()
    try:
        d = Directory(srv.store, passwords_for(cfg))
        d.create_account("bdat@example.org", "pw")
        d.create_account("data@example.org", "pw")
        sent_bdat: list[bytes] = []
        sent_data: list[bytes] = []
        # BDAT carries the exact octets, whatever their line endings (RFC 3030); they are
        # stored with CRLF line ends (RFC 5322 §2.3), content kept octet for octet.
        raw = RawLmtp(srv.lmtp_port)
        try:
            assert raw.cmd("LHLO client.test").code == 250
            for path in files:
                data = path.read_bytes()
                assert raw.cmd(f"MAIL FROM:<{SENDER}> BODY=BINARYMIME").code == 250
                assert raw.cmd("RCPT TO:<bdat@example.org>").code == 250
                raw.send(f"BDAT {len(data)} LAST\r\n".encode() + data)
                reply = raw.reply()
                assert (reply.code, reply.enhanced) == (250, "2.0.0"), path
                sent_bdat.append(data)
        finally:
            raw.close()
        # DATA carries the CRLF form, dot-stuffed by smtplib (lone CRs become line ends too).
        with connect(srv) as client:
            for path in files:
                data = canonical(path.read_bytes())
                t = transact(client, ["data@example.org"], data)
                assert [a.code for _, a in t.data] == [250], path
                sent_data.append(data)
        for rcpt, sent in (("bdat@example.org", sent_bdat), ("data@example.org", sent_data)):
            got = [split_trace(r) for r in stored(srv, rcpt)]
            assert len(got) == len(files)
            for path, s, g in zip(files, sent, got, strict=True):
                check_stored_form(s, g.body, f"{path.name} via {rcpt}")
                assert g.delivered_to == rcpt
    finally:
        srv.stop()


# -- transport features ----------------------------------------------------------------------


def test_bdat_chunks(server: ServerThread, directory: Directory, raw_client: RawLmtp) -> None:
    directory.create_account("alice@example.org", "pw")
    directory.create_account("bob@example.org", "pw")
    head = b"From: <s@remote.test>\r\nSubject: chunked\r\nMessage-ID: <bdat@remote.test>\r\n\r\n"
    # Binary-ish content: a NUL, 8-bit octets, a lone dot line: all kept as is; a bare LF and
    # a bare CR are line ends, stored as CRLF (RFC 5322 §2.3; no part declares the binary
    # transfer encoding, RFC 2045 §6.2).
    body = b"part one\n.\r\n\x00 bytes\r stay\r\n" + bytes(range(128, 256)) + b"\r\n"
    message = head + body
    stored_body = b"part one\r\n.\r\n\x00 bytes\r\n stay\r\n" + bytes(range(128, 256)) + b"\r\n"
    lhlo = raw_client.cmd("LHLO client.test")
    assert lhlo.code == 250
    assert raw_client.cmd(f"MAIL FROM:<{SENDER}> BODY=BINARYMIME").code == 250
    assert raw_client.cmd("RCPT TO:<alice@example.org>").enhanced == "2.1.5"
    assert raw_client.cmd("RCPT TO:<nobody@example.org>").enhanced == "5.1.1"
    assert raw_client.cmd("RCPT TO:<bob@example.org>").enhanced == "2.1.5"
    cut = [0, 10, len(head) + 3, len(message)]
    for i in range(len(cut) - 2):
        chunk = message[cut[i] : cut[i + 1]]
        raw_client.send(f"BDAT {len(chunk)}\r\n".encode() + chunk)
        r = raw_client.reply()
        assert (r.code, r.enhanced) == (250, "2.0.0")
        assert r.text == f"{len(chunk)} octets received"
    last = message[cut[-2] :]
    raw_client.send(f"BDAT {len(last)} LAST\r\n".encode() + last)
    # One reply per accepted recipient (RFC 2033 §4.2 applies to BDAT LAST as to DATA).
    assert [(r.code, r.enhanced) for r in (raw_client.reply(), raw_client.reply())] == [
        (250, "2.0.0"),
        (250, "2.0.0"),
    ]
    for rcpt in ("alice@example.org", "bob@example.org"):
        (raw,) = stored(server, rcpt)
        assert split_trace(raw).body == head + stored_body
    # An empty BDAT LAST after chunks also completes a message.
    assert raw_client.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    assert raw_client.cmd("RCPT TO:<alice@example.org>").code == 250
    raw_client.send(b"BDAT 5\r\nSubje")
    assert raw_client.reply().code == 250
    raw_client.send(b"BDAT 0 LAST\r\n")
    assert raw_client.reply().code == 250
    assert split_trace(stored(server, "alice@example.org")[1]).body == b"Subje"


def test_pipelining_in_one_write(
    server: ServerThread, directory: Directory, raw_client: RawLmtp
) -> None:
    directory.create_account("alice@example.org", "pw")
    directory.create_account("bob@example.org", "pw")
    lhlo = raw_client.cmd("LHLO client.test")
    assert lhlo.code == 250
    message = msg("pipelined", message_id="pipe@remote.test")
    raw_client.send(
        f"MAIL FROM:<{SENDER}>\r\n"
        "RCPT TO:<alice@example.org>\r\n"
        "RCPT TO:<nobody@example.org>\r\n"
        "RCPT TO:<bob@example.org>\r\n"
        "DATA\r\n".encode()
    )
    replies = [raw_client.reply() for _ in range(5)]
    assert [(r.code, r.enhanced) for r in replies] == [
        (250, "2.1.0"),
        (250, "2.1.5"),
        (550, "5.1.1"),
        (250, "2.1.5"),
        (354, ""),
    ]
    # The message, its end and the next transaction in one more write.
    raw_client.send(message + b".\r\nRSET\r\nNOOP\r\n")
    replies = [raw_client.reply() for _ in range(4)]
    assert [(r.code, r.enhanced) for r in replies] == [
        (250, "2.0.0"),
        (250, "2.0.0"),
        (250, "2.0.0"),  # RSET
        (250, "2.0.0"),  # NOOP
    ]
    for rcpt in ("alice@example.org", "bob@example.org"):
        assert [split_trace(r).body for r in stored(server, rcpt)] == [message]


def test_capabilities(server: ServerThread) -> None:
    with connect(server) as client:
        code, _ = client.ehlo()
        assert code == 250
        for ext in ("pipelining", "enhancedstatuscodes", "8bitmime", "smtputf8", "chunking"):
            assert client.has_extn(ext), ext
        assert client.has_extn("starttls")
        assert int(client.esmtp_features["size"]) == server.cfg.lmtp.max_message_size


def test_8bit_message(server: ServerThread, directory: Directory) -> None:
    directory.create_account("alice@example.org", "pw")
    message = (
        "From: Jürgen <j@remote.test>\r\nSubject: Grüße aus Köln\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Schöne Grüße — ça va? 日本語\r\n"
    ).encode()
    t = send_one(server, "alice@example.org", message, mail_options=["BODY=8BITMIME"])
    assert (t.mail.code, t.data[0][1].code) == (250, 250)
    (raw,) = stored(server, "alice@example.org")
    assert split_trace(raw).body == message


def test_smtputf8_addresses(server: ServerThread, directory: Directory) -> None:
    directory.create_account("jörg@example.org", "pw")
    message = "From: <sénder@rémote.test>\r\nSubject: utf8\r\n\r\nbody\r\n".encode()
    with connect(server) as client:
        client.ehlo()
        # Without SMTPUTF8 a non-ASCII address is refused (RFC 6531 §3.4).
        client.command_encoding = "utf-8"
        code, text = client.mail("sénder@rémote.test")
        assert (code, answer(code, text).enhanced) == (553, "5.6.7")
        refused = client.sendmail(
            "sénder@rémote.test", ["jörg@example.org"], message, mail_options=["SMTPUTF8"]
        )
        assert refused == {}
    (raw,) = stored(server, "jörg@example.org")
    trace = split_trace(raw)
    assert trace.return_path == "sénder@rémote.test"
    assert trace.delivered_to == "jörg@example.org"
    assert "for <jörg@example.org>" in trace.received
    assert trace.body == message


def test_message_over_the_size_limit(tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "data", {"STALWART_LMTP_MAX_MESSAGE_SIZE": "10k"})
    srv = ServerThread(cfg).start()
    try:
        Directory(srv.store, passwords_for(cfg)).create_account("alice@example.org", "pw")
        Directory(srv.store, passwords_for(cfg)).create_account("bob@example.org", "pw")
        big = msg("big", ("z" * 98 + "\r\n") * 120)
        assert len(big) > 10 * 1024
        with connect(srv) as client:
            t = transact(client, ["alice@example.org", "bob@example.org"], big)
            # One 552 5.3.4 per accepted recipient (RFC 2033 §4.2).
            assert [(r, a.code, a.enhanced) for r, a in t.data] == [
                ("alice@example.org", 552, "5.3.4"),
                ("bob@example.org", 552, "5.3.4"),
            ]
            # A declared SIZE over the limit is refused at MAIL (RFC 1870 §6.1).
            code, text = client.mail(SENDER, [f"SIZE={len(big)}"])
            assert (code, answer(code, text).enhanced) == (552, "5.3.4")
            # The session is still usable.
            ok = transact(client, ["alice@example.org"], msg("small"))
            assert [a.code for _, a in ok.data] == [250]
        assert [split_trace(r).body for r in stored(srv, "alice@example.org")] == [msg("small")]
        assert stored(srv, "bob@example.org") == []
    finally:
        srv.stop()


def test_starttls(server: ServerThread, directory: Directory) -> None:
    directory.create_account("alice@example.org", "pw")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    message = msg("secret", message_id="tls@remote.test")
    with connect(server) as client:
        client.ehlo()
        code, _ = client.starttls(context=ctx)
        assert code == 220
        assert isinstance(client.sock, ssl.SSLSocket)
        client.ehlo()
        assert not client.has_extn("starttls")  # not offered twice (RFC 3207 §4.2)
        t = transact(client, ["alice@example.org", "nobody@example.org"], message)
    assert t.rcpt_of("nobody@example.org").enhanced == "5.1.1"
    assert [(a.code, a.enhanced) for _, a in t.data] == [(250, "2.0.0")]
    (raw,) = stored(server, "alice@example.org")
    trace = split_trace(raw)
    assert trace.body == message
    assert " with LMTPS " in trace.received  # RFC 3848


# -- persistence -------------------------------------------------------------------------------


def test_messages_survive_a_restart(tmp_path: Path) -> None:
    cfg = make_config(tmp_path / "data")
    srv = ServerThread(cfg).start()
    try:
        assert srv.server is not None
        assert {c.email for c in srv.server.credentials} == {
            "admin@example.org",
            "demo@example.org",
        }
        Directory(srv.store, passwords_for(cfg)).create_account("alice@example.org", "pw")
        sent = [msg(f"m{i}", message_id=f"keep{i}@remote.test") for i in range(5)]
        for m in sent:
            assert send_one(srv, "alice@example.org", m).data[0][1].code == 250
        assert send_one(srv, "demo@example.org", sent[0]).data[0][1].code == 250
        before = stored(srv, "alice@example.org")
        before_box = inbox(srv, "alice@example.org")
    finally:
        srv.stop()

    srv = ServerThread(cfg).start()
    try:
        assert srv.server is not None
        assert srv.server.credentials == []  # not a first start
        after = stored(srv, "alice@example.org")
        assert after == before
        assert [split_trace(r).body for r in after] == sent
        assert inbox(srv, "alice@example.org") == before_box
        assert len(stored(srv, "demo@example.org")) == 1
        # Delivery continues where it left off: the next UID, and duplicates still known.
        assert send_one(srv, "alice@example.org", sent[0]).data[0][1].code == 250
        assert send_one(srv, "alice@example.org", msg("new")).data[0][1].code == 250
        acct = account_id(srv, "alice@example.org")
        uids = srv.store.mailbox_uids(acct, before_box.id)
        assert [u for u, _ in uids] == [1, 2, 3, 4, 5, 6]
    finally:
        srv.stop()
