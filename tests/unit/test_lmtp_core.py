"""Sans-IO tests of the LMTP core (protocols.lmtp.core), fed whole and byte at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.lmtp import (
    NEED_DATA,
    ConnectionClosed,
    Event,
    Lhlo,
    LmtpConnection,
    LmtpLimits,
    LocalProtocolError,
    MailFrom,
    MailParams,
    MessageComplete,
    Quit,
    RcptTo,
    Reply,
    Reset,
    StartTls,
    State,
    Vrfy,
    reply_for_error,
    reply_for_kind,
)
from protocols.lmtp.paths import PathSyntaxError, parse_path
from protocols.lmtp.replies import parse_replies
from protocols.lmtp.state import TRANSITIONS, Trigger, next_state
from store.errors import ErrorKind, MailError
from tests.support import require_corpus

Results = Callable[[tuple[str, ...], bytes], Sequence[Reply]]


def delivered(recipients: tuple[str, ...], data: bytes) -> list[Reply]:
    return [Reply(250, "2.0.0", f"<{r}> delivered") for r in recipients]


@dataclass
class Run:
    conn: LmtpConnection
    events: list[Event] = field(default_factory=list)
    out: bytes = b""

    @property
    def replies(self) -> list[Reply]:
        return parse_replies(self.out)

    @property
    def codes(self) -> list[str]:
        return [f"{r.code} {r.enhanced}".strip() for r in self.replies]

    @property
    def messages(self) -> list[bytes]:
        return [e.data for e in self.events if isinstance(e, MessageComplete)]


def drain(run: Run, reject: frozenset[str], results: Results) -> None:
    conn = run.conn
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return
        run.events.append(event)
        if isinstance(event, RcptTo):
            if event.forward_path in reject:
                conn.reject_rcpt(Reply(550, "5.1.1", "no such user"))
            else:
                conn.accept_rcpt()
        elif isinstance(event, MessageComplete):
            conn.send_delivery_results(results(conn.recipients, event.data))
        elif isinstance(event, Vrfy):
            conn.answer_vrfy(Reply(252, "2.1.5", f"would try {event.arg}"))
        elif isinstance(event, StartTls):
            conn.start_tls_done()
        elif isinstance(event, ConnectionClosed):
            return


def drive(
    data: bytes,
    *,
    bytewise: bool = False,
    piece: int | None = None,
    conn: LmtpConnection | None = None,
    limits: LmtpLimits | None = None,
    reject: frozenset[str] = frozenset(),
    results: Results = delivered,
    eof: bool = False,
    tls_available: bool = False,
) -> Run:
    """Feed ``data`` into a core (whole or one byte per call), answering every event."""
    if conn is None:
        conn = LmtpConnection("mx.test", limits, tls_available=tls_available)
        greeting = parse_replies(conn.data_to_send())
        assert greeting == [Reply(220, "", "mx.test LMTP service ready")]
    run = Run(conn)
    step = 1 if bytewise else (piece or len(data) or 1)
    pieces = [data[i : i + step] for i in range(0, len(data), step)]
    drain(run, reject, results)
    for chunk in pieces:
        conn.receive_data(chunk)
        drain(run, reject, results)
    if eof:
        conn.receive_data(b"")
        drain(run, reject, results)
    run.out = conn.data_to_send()
    return run


@pytest.fixture(params=[False, True], ids=["whole", "bytewise"])
def bytewise(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


LHLO = b"LHLO client.test\r\n"
ENVELOPE = LHLO + b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@example.com>\r\n"


# ------------------------------------------------------------------ greeting and LHLO


def test_lhlo_lists_capabilities(bytewise: bool) -> None:
    run = drive(LHLO, bytewise=bytewise)
    (reply,) = run.replies
    assert reply.code == 250 and reply.enhanced == ""  # RFC 2034 §3: no code on LHLO reply
    assert reply.lines() == [
        "mx.test",
        "PIPELINING",
        "ENHANCEDSTATUSCODES",
        "8BITMIME",
        "SMTPUTF8",
        "SIZE 52428800",
        "CHUNKING",
        "BINARYMIME",
    ]
    assert run.events == [Lhlo("client.test")]
    assert run.conn.state is State.READY
    assert run.conn.lhlo_host == "client.test"


def test_starttls_advertised_only_when_available() -> None:
    run = drive(LHLO, tls_available=True)
    assert run.replies[0].lines()[-1] == "STARTTLS"
    conn = LmtpConnection("mx.test", tls_available=True, tls_active=True)
    run = drive(LHLO, conn=conn)
    assert "STARTTLS" not in run.replies[-1].lines()


@pytest.mark.parametrize("verb", [b"HELO", b"EHLO", b"helo"])
def test_helo_and_ehlo_are_refused(verb: bytes) -> None:
    run = drive(verb + b" client.test\r\n")
    assert run.codes == ["500 5.5.1"]
    assert run.conn.state is State.CONNECTED


def test_lhlo_requires_a_domain() -> None:
    run = drive(b"LHLO\r\nLHLO   \r\nLHLO a b\r\n")
    assert run.codes == ["501 5.5.4"] * 3


def test_lhlo_is_case_insensitive_and_accepts_lf_only(bytewise: bool) -> None:
    run = drive(b"lhlo client.test\n", bytewise=bytewise)
    assert run.replies[0].code == 250


# ------------------------------------------------------------------ sequence errors


@pytest.mark.parametrize(
    "commands, expected",
    [
        (b"MAIL FROM:<a@b.c>\r\n", "503 5.5.1"),
        (b"RCPT TO:<a@b.c>\r\n", "503 5.5.1"),
        (b"DATA\r\n", "503 5.5.1"),
        (b"BDAT 0 LAST\r\n", "503 5.5.1"),
        (LHLO + b"RCPT TO:<a@b.c>\r\n", "503 5.5.1"),
        (LHLO + b"DATA\r\n", "503 5.5.1"),
        (LHLO + b"MAIL FROM:<a@b.c>\r\nMAIL FROM:<a@b.c>\r\n", "503 5.5.1"),
    ],
)
def test_bad_sequence(commands: bytes, expected: str, bytewise: bool) -> None:
    run = drive(commands, bytewise=bytewise)
    assert run.codes[-1] == expected
    assert run.conn.bad_commands == 1


def test_data_without_accepted_recipient_is_503(bytewise: bool) -> None:
    data = LHLO + b"MAIL FROM:<a@b.c>\r\nRCPT TO:<nobody@b.c>\r\nDATA\r\n"
    run = drive(data, bytewise=bytewise, reject=frozenset({"nobody@b.c"}))
    assert run.codes[-2:] == ["550 5.1.1", "503 5.5.1"]
    assert run.replies[-1].text == "No valid recipients"
    assert run.conn.state is State.MAIL


def test_unknown_and_unimplemented_commands() -> None:
    run = drive(b"FOO bar\r\n\r\nEXPN list\r\nHELP\r\n")
    assert run.codes == ["500 5.5.2", "500 5.5.2", "502 5.5.1", "502 5.5.1"]


# ------------------------------------------------------------------ full transactions


def test_one_reply_per_accepted_recipient_in_order(bytewise: bool) -> None:
    data = (
        LHLO
        + b"MAIL FROM:<sender@example.org>\r\n"
        + b"RCPT TO:<alice@example.com>\r\n"
        + b"RCPT TO:<ghost@example.com>\r\n"
        + b"RCPT TO:<bob@example.com>\r\n"
        + b"DATA\r\n"
        + b"Subject: hi\r\n\r\nbody\r\n.\r\n"
    )

    def mixed(recipients: tuple[str, ...], _data: bytes) -> list[Reply]:
        assert recipients == ("alice@example.com", "bob@example.com")
        return [Reply(250, "2.0.0", "ok"), Reply(452, "4.2.2", "Mailbox full")]

    run = drive(data, bytewise=bytewise, reject=frozenset({"ghost@example.com"}), results=mixed)
    assert run.codes == [
        "250",
        "250 2.1.0",
        "250 2.1.5",
        "550 5.1.1",
        "250 2.1.5",
        "354",
        "250 2.0.0",
        "452 4.2.2",
    ]
    assert run.messages == [b"Subject: hi\r\n\r\nbody\r\n"]
    assert run.conn.state is State.READY
    assert run.conn.recipients == ()  # the transaction is over
    assert [type(e) for e in run.events] == [
        Lhlo,
        MailFrom,
        RcptTo,
        RcptTo,
        RcptTo,
        MessageComplete,
    ]


def test_pipelined_batch_answers_in_order_and_in_one_flush() -> None:
    batch = (
        LHLO
        + b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@b.c>\r\nRCPT TO:<y@b.c>\r\nDATA\r\n"
        + b"one\r\n.\r\n"
        + b"MAIL FROM:<> BODY=8BITMIME\r\nRCPT TO:<z@b.c>\r\nDATA\r\ntwo\r\n.\r\n"
        + b"NOOP\r\nRSET\r\nQUIT\r\n"
    )
    run = drive(batch)
    assert run.codes == [
        "250",
        "250 2.1.0",
        "250 2.1.5",
        "250 2.1.5",
        "354",
        "250 2.0.0",
        "250 2.0.0",
        "250 2.1.0",
        "250 2.1.5",
        "354",
        "250 2.0.0",
        "250 2.0.0",
        "250 2.0.0",
        "221 2.0.0",
    ]
    assert run.messages == [b"one\r\n", b"two\r\n"]
    mails = [e for e in run.events if isinstance(e, MailFrom)]
    assert mails[1] == MailFrom("", MailParams(body="8BITMIME"))
    assert [type(e) for e in run.events[-3:]] == [Reset, Quit, ConnectionClosed]
    assert run.conn.state is State.CLOSED


def test_next_event_refuses_to_run_while_an_answer_is_pending() -> None:
    conn = LmtpConnection("mx.test")
    conn.receive_data(ENVELOPE + b"NOOP\r\n")
    assert isinstance(conn.next_event(), Lhlo)
    assert isinstance(conn.next_event(), MailFrom)
    assert isinstance(conn.next_event(), RcptTo)
    with pytest.raises(LocalProtocolError):
        conn.next_event()
    conn.accept_rcpt()
    assert conn.next_event() is NEED_DATA
    assert parse_replies(conn.data_to_send())[-1] == Reply(250, "2.0.0", "OK")


def test_application_misuse_raises_local_protocol_error() -> None:
    conn = LmtpConnection("mx.test")
    with pytest.raises(LocalProtocolError):
        conn.accept_rcpt()
    with pytest.raises(LocalProtocolError):
        conn.send_delivery_results([])
    with pytest.raises(LocalProtocolError):
        conn.start_tls_done()
    conn.receive_data(ENVELOPE)
    while not isinstance(conn.next_event(), RcptTo):
        pass
    with pytest.raises(LocalProtocolError):
        conn.accept_rcpt(Reply(550, "5.1.1", "no"))
    with pytest.raises(LocalProtocolError):
        conn.reject_rcpt(Reply(250, "2.1.5", "yes"))
    conn.accept_rcpt()
    conn.receive_data(b"DATA\r\nx\r\n.\r\n")
    while not isinstance(event := conn.next_event(), MessageComplete):
        assert event is not NEED_DATA
    with pytest.raises(LocalProtocolError):
        conn.send_delivery_results([])  # one recipient, zero results
    conn.send_delivery_results([Reply(250, "2.0.0", "ok")])
    conn.receive_data(b"")
    assert isinstance(conn.next_event(), ConnectionClosed)


# ------------------------------------------------------------------ DATA transparency


@pytest.mark.parametrize(
    "wire, message",
    [
        (b"..\r\n.\r\n", b".\r\n"),  # a line that is just ".." is a single dot
        (b"...\r\n.\r\n", b"..\r\n"),
        (b".hidden\r\n.\r\n", b"hidden\r\n"),
        (b".\r\n", b""),  # empty message
        (b"no newline before the dot\r\n.\r\n", b"no newline before the dot\r\n"),
        (b"a.\r\n.b\r\n.\r\n", b"a.\r\nb\r\n"),
        (b"x\r\n .\r\n.\r\n", b"x\r\n .\r\n"),
        (b"bare\n.\r\nstill data\r\n.\r\n", b"bare\n.\r\nstill data\r\n"),  # <LF>.<CRLF>
        (b"cr\r.\r\n.\r\n", b"cr\r.\r\n"),
        (b"tail.\r\n.\r\n", b"tail.\r\n"),
        (b"bin\x00\xff\x80\r\n.\r\n", b"bin\x00\xff\x80\r\n"),
    ],
)
def test_data_dot_unstuffing(wire: bytes, message: bytes, bytewise: bool) -> None:
    run = drive(ENVELOPE + b"DATA\r\n" + wire + b"NOOP\r\n", bytewise=bytewise)
    assert run.messages == [message]
    assert run.codes[-2:] == ["250 2.0.0", "250 2.0.0"]  # delivery, then NOOP: still in sync


def test_data_long_line_is_kept_intact() -> None:
    line = b"." + b"x" * 200_000 + b"\r\n"
    run = drive(ENVELOPE + b"DATA\r\n" + line + b"..\r\n.\r\n", piece=10_000)
    assert run.messages == [b"x" * 200_000 + b"\r\n.\r\n"]


def test_data_in_odd_pieces_matches_whole() -> None:
    body = b"".join(b"line %d\r\n..%d\r\n" % (i, i) for i in range(300)) + b".\r\n"
    conn = LmtpConnection("mx.test")
    conn.data_to_send()
    run = Run(conn)
    wire = ENVELOPE + b"DATA\r\n" + body
    for i in range(0, len(wire), 7):
        conn.receive_data(wire[i : i + 7])
        drain(run, frozenset(), delivered)
    expected = b"".join(b"line %d\r\n.%d\r\n" % (i, i) for i in range(300))
    assert run.messages == [expected]


def test_eof_during_data_delivers_nothing(bytewise: bool) -> None:
    run = drive(ENVELOPE + b"DATA\r\npartial\r\n", bytewise=bytewise, eof=True)
    assert run.messages == []
    assert isinstance(run.events[-1], ConnectionClosed)
    assert run.conn.state is State.CLOSED


def test_binarymime_requires_bdat() -> None:
    data = LHLO + b"MAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<x@b.c>\r\nDATA\r\n"
    run = drive(data)
    assert run.codes[-1] == "503 5.5.1"


# ------------------------------------------------------------------ BDAT (RFC 3030)


def test_bdat_binary_chunks(bytewise: bool) -> None:
    part1 = b"\x00\r\n.\r\n\xff\xfe"
    part2 = b"BDAT 5 LAST\r\n\r\n.."
    data = (
        LHLO
        + b"MAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<x@b.c>\r\nRCPT TO:<y@b.c>\r\n"
        + b"BDAT %d\r\n" % len(part1)
        + part1
        + b"BDAT %d LAST\r\n" % len(part2)
        + part2
        + b"NOOP\r\n"
    )
    run = drive(data, bytewise=bytewise)
    assert run.messages == [part1 + part2]
    assert run.codes[-5:] == ["250 2.1.5", "250 2.0.0", "250 2.0.0", "250 2.0.0", "250 2.0.0"]
    assert run.replies[-4].text == f"{len(part1)} octets received"
    assert run.conn.state is State.READY


def test_bdat_zero_last_ends_the_message() -> None:
    run = drive(ENVELOPE + b"BDAT 3\r\nabcBDAT 0 LAST\r\n")
    assert run.messages == [b"abc"]


def test_bdat_refused_chunk_is_consumed_to_stay_in_sync(bytewise: bool) -> None:
    data = LHLO + b"BDAT 6\r\nNOOP\r\nBDAT 4 LAST\r\nQUITNOOP\r\n"
    run = drive(data, bytewise=bytewise)
    assert run.codes[1:] == ["503 5.5.1", "503 5.5.1", "250 2.0.0"]
    assert run.messages == []


def test_bdat_syntax_errors() -> None:
    run = drive(ENVELOPE + b"BDAT\r\nBDAT x\r\nBDAT 5 FIRST\r\nBDAT -1\r\nBDAT 1 LAST extra\r\n")
    assert run.codes[-5:] == ["501 5.5.4"] * 5


def test_data_after_bdat_is_bad_sequence() -> None:
    run = drive(ENVELOPE + b"BDAT 2\r\nabDATA\r\nRSET\r\n")
    assert run.codes[-3:] == ["250 2.0.0", "503 5.5.1", "250 2.0.0"]
    assert run.conn.state is State.READY


# ------------------------------------------------------------------ limits


def test_mail_size_parameter_over_limit() -> None:
    limits = LmtpLimits(max_message_size=1000)
    run = drive(
        LHLO + b"MAIL FROM:<a@b.c> SIZE=1001\r\nMAIL FROM:<a@b.c> SIZE=1000\r\n", limits=limits
    )
    assert run.codes[1:] == ["552 5.3.4", "250 2.1.0"]
    assert run.replies[0].lines()[5] == "SIZE 1000"


def test_oversized_data_is_read_to_the_end_then_refused(bytewise: bool) -> None:
    limits = LmtpLimits(max_message_size=100)
    data = (
        LHLO
        + b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@b.c>\r\nRCPT TO:<y@b.c>\r\nDATA\r\n"
        + b"0123456789\r\n" * 20
        + b".\r\nNOOP\r\n"
    )
    run = drive(data, bytewise=bytewise, limits=limits)
    assert run.codes[-3:] == ["552 5.3.4", "552 5.3.4", "250 2.0.0"]  # one per recipient
    assert run.messages == []
    assert run.conn.state is State.READY


def test_oversized_bdat_chunk() -> None:
    limits = LmtpLimits(max_message_size=10)
    run = drive(ENVELOPE + b"BDAT 6\r\n123456BDAT 6\r\n123456RSET\r\n", limits=limits)
    assert run.codes[-3:] == ["250 2.0.0", "552 5.3.4", "250 2.0.0"]
    run = drive(ENVELOPE + b"BDAT 11 LAST\r\n12345678901NOOP\r\n", limits=limits)
    assert run.codes[-2:] == ["552 5.3.4", "250 2.0.0"]
    assert run.messages == []


def test_line_too_long(bytewise: bool) -> None:
    limits = LmtpLimits(max_line_length=64)
    data = b"NOOP " + b"x" * 100 + b"\r\n" + b"NOOP " + b"y" * 57 + b"\r\n" + b"NOOP\r\n"
    run = drive(data, bytewise=bytewise, limits=limits)
    assert run.codes == ["500 5.5.2", "250 2.0.0", "250 2.0.0"]
    assert run.replies[0].text == "Line too long"


def test_line_too_long_never_buffers_without_bound() -> None:
    conn = LmtpConnection("mx.test", LmtpLimits(max_line_length=64))
    for _ in range(1000):
        conn.receive_data(b"z" * 1000)
        assert conn.next_event() is NEED_DATA
        assert len(conn._buf) <= 1000
    conn.receive_data(b"\r\nNOOP\r\n")
    assert conn.next_event() is NEED_DATA
    replies = parse_replies(conn.data_to_send())
    assert [r.code for r in replies] == [220, 500, 250]


def test_too_many_recipients() -> None:
    limits = LmtpLimits(max_recipients=2)
    rcpts = b"".join(b"RCPT TO:<u%d@b.c>\r\n" % i for i in range(4))
    run = drive(LHLO + b"MAIL FROM:<a@b.c>\r\n" + rcpts + b"DATA\r\nm\r\n.\r\n", limits=limits)
    assert run.codes[2:] == [
        "250 2.1.5",
        "250 2.1.5",
        "452 4.5.3",
        "452 4.5.3",
        "354",
        "250 2.0.0",
        "250 2.0.0",
    ]


def test_too_many_bad_commands_closes_with_421(bytewise: bool) -> None:
    limits = LmtpLimits(max_bad_commands=3)
    run = drive(b"BAD\r\n" * 5 + b"NOOP\r\n", bytewise=bytewise, limits=limits)
    assert run.codes == ["500 5.5.2"] * 3 + ["421 4.7.0"]
    assert isinstance(run.events[-1], ConnectionClosed)
    assert run.conn.state is State.CLOSED
    run.conn.receive_data(b"NOOP\r\n")  # ignored after close
    assert isinstance(run.conn.next_event(), ConnectionClosed)
    assert run.conn.data_to_send() == b""


def test_invalid_characters_in_commands() -> None:
    run = drive(b"NOOP \xff\xfe\r\nNO\x00OP\r\nNOOP\rNOOP\r\n")
    assert run.codes == ["500 5.5.2"] * 3


# ------------------------------------------------------------------ paths and parameters


@pytest.mark.parametrize(
    "command, code, sender",
    [
        (b"MAIL FROM:<>", "250 2.1.0", ""),
        (b"mail from:<A.B+tag@Example.COM>", "250 2.1.0", "A.B+tag@Example.COM"),
        (b"MAIL FROM: <spaced@b.c>", "250 2.1.0", "spaced@b.c"),
        (b'MAIL FROM:<"john doe"@b.c>', "250 2.1.0", '"john doe"@b.c'),
        (b'MAIL FROM:<"plain"@b.c>', "250 2.1.0", "plain@b.c"),
        (b'MAIL FROM:<"a\\"q"@b.c>', "250 2.1.0", '"a\\"q"@b.c'),
        (b"MAIL FROM:<@relay.one,@relay.two:user@b.c>", "250 2.1.0", "user@b.c"),
        (b"MAIL FROM:<u@[192.0.2.1]>", "250 2.1.0", "u@[192.0.2.1]"),
        (b"MAIL FROM:<u@[IPv6:2001:db8::1]>", "250 2.1.0", "u@[IPv6:2001:db8::1]"),
        (b"MAIL FROM:a@b.c", "501 5.1.7", None),
        (b"MAIL FROM:<a@b.c", "501 5.1.7", None),
        (b"MAIL FROM:<a b@c.d>", "501 5.1.7", None),
        (b"MAIL FROM:<a@-bad.c>", "501 5.1.7", None),
        (b"MAIL FROM:<a@[999.1.1.1]>", "501 5.1.7", None),
        (b"MAIL FROM:<a..b@c.d>", "501 5.1.7", None),
        (b"MAIL FROM:<noat>", "501 5.1.7", None),
        (b"MAIL FROM:<a@b.c>x", "501 5.1.7", None),
        (b"MAIL <a@b.c>", "501 5.5.4", None),
        (b"MAIL FROM:<a@b.c> FOO=bar", "555 5.5.4", None),
        (b"MAIL FROM:<a@b.c> SIZE=10 SIZE=10", "501 5.5.4", None),
        (b"MAIL FROM:<a@b.c> SIZE=abc", "501 5.5.4", None),
        (b"MAIL FROM:<a@b.c> BODY=9BIT", "501 5.5.4", None),
        (b"MAIL FROM:<a@b.c> SMTPUTF8=yes", "501 5.5.4", None),
        (b"MAIL FROM:<a@b.c> =x", "501 5.5.4", None),
        ("MAIL FROM:<jörg@b.c>".encode(), "553 5.6.7", None),
        ("MAIL FROM:<jörg@bücher.de> SMTPUTF8".encode(), "250 2.1.0", "jörg@bücher.de"),
    ],
)
def test_mail_from_paths_and_parameters(command: bytes, code: str, sender: str | None) -> None:
    run = drive(LHLO + command + b"\r\n")
    assert run.codes[-1] == code
    mails = [e for e in run.events if isinstance(e, MailFrom)]
    assert [m.reverse_path for m in mails] == ([] if sender is None else [sender])


def test_mail_parameters_are_parsed() -> None:
    run = drive(LHLO + b"MAIL FROM:<a@b.c> size=42 body=7bit SMTPUTF8\r\n")
    assert run.events[-1] == MailFrom("a@b.c", MailParams(body="7BIT", smtputf8=True, size=42))


@pytest.mark.parametrize(
    "command, code, rcpt",
    [
        (b"RCPT TO:<Postmaster>", "250 2.1.5", "postmaster"),
        (b"RCPT TO:<x@b.c>", "250 2.1.5", "x@b.c"),
        (b"rcpt to: <x@b.c>", "250 2.1.5", "x@b.c"),
        (b"RCPT TO:<>", "501 5.1.3", None),
        (b"RCPT TO:<bare>", "501 5.1.3", None),
        (b"RCPT TO:x@b.c", "501 5.1.3", None),
        (b"RCPT <x@b.c>", "501 5.5.4", None),
        (b"RCPT TO:<x@b.c> NOTIFY=NEVER", "555 5.5.4", None),
        ("RCPT TO:<ünicode@b.c>".encode(), "553 5.6.7", None),
    ],
)
def test_rcpt_to_paths(command: bytes, code: str, rcpt: str | None) -> None:
    run = drive(LHLO + b"MAIL FROM:<a@b.c>\r\n" + command + b"\r\n")
    assert run.codes[-1] == code
    rcpts = [e.forward_path for e in run.events if isinstance(e, RcptTo)]
    assert rcpts == ([] if rcpt is None else [rcpt])


def test_utf8_recipient_with_smtputf8() -> None:
    data = LHLO + "MAIL FROM:<a@b.c> SMTPUTF8\r\nRCPT TO:<用户@例子.广告>\r\n".encode()
    run = drive(data, bytewise=True)
    assert run.events[-1] == RcptTo("用户@例子.广告")


def test_path_parser_limits() -> None:
    assert parse_path("<>", allow_null=True) is None
    with pytest.raises(PathSyntaxError):
        parse_path("<" + "a" * 300 + "@b.c>", allow_null=False)
    with pytest.raises(PathSyntaxError):
        parse_path("<@:a@b.c>", allow_null=False)
    with pytest.raises(PathSyntaxError):
        parse_path('<"unterminated@b.c>', allow_null=False)


# ------------------------------------------------------------------ RSET, NOOP, QUIT, VRFY


def test_rset_clears_the_transaction(bytewise: bool) -> None:
    run = drive(ENVELOPE + b"RSET\r\nDATA\r\n", bytewise=bytewise)
    assert run.codes[-2:] == ["250 2.0.0", "503 5.5.1"]
    assert isinstance(run.events[-1], Reset)
    assert run.conn.mail_from is None and run.conn.recipients == ()


def test_rset_before_lhlo_and_with_argument() -> None:
    run = drive(b"RSET\r\nRSET now\r\nNOOP anything goes\r\n")
    assert run.codes == ["250 2.0.0", "501 5.5.4", "250 2.0.0"]
    assert run.conn.state is State.CONNECTED


def test_quit(bytewise: bool) -> None:
    run = drive(ENVELOPE + b"QUIT\r\nNOOP\r\n", bytewise=bytewise)
    assert run.codes[-1] == "221 2.0.0"
    quit_at = [type(e) for e in run.events].index(Quit)
    after = run.events[quit_at + 1 :]
    assert after and all(isinstance(e, ConnectionClosed) for e in after)
    assert run.conn.state is State.CLOSED


def test_vrfy() -> None:
    run = drive(b"VRFY alice\r\nVRFY\r\n")
    assert run.events == [Vrfy("alice")]
    assert run.replies[0] == Reply(252, "2.1.5", "would try alice")
    assert run.codes[1] == "501 5.5.4"
    conn = LmtpConnection("mx.test", vrfy_enabled=False)
    conn.data_to_send()
    run = drive(b"VRFY alice\r\n", conn=conn)
    assert run.events == [] and run.codes == ["252 2.0.0"]


# ------------------------------------------------------------------ STARTTLS (RFC 3207)


def test_starttls_resets_the_session() -> None:
    conn = LmtpConnection("mx.test", tls_available=True)
    conn.data_to_send()
    conn.receive_data(LHLO + b"STARTTLS\r\nMAIL FROM:<injected@evil>\r\n")
    assert isinstance(conn.next_event(), Lhlo)
    assert isinstance(conn.next_event(), StartTls)
    assert conn.state is State.CONNECTED and conn.lhlo_host is None
    replies = parse_replies(conn.data_to_send())
    assert replies[-1] == Reply(220, "2.0.0", "Ready to start TLS")
    conn.start_tls_done()
    assert conn.tls_active
    # the pipelined plaintext MAIL was discarded; after TLS, LHLO is needed again
    run = drive(b"MAIL FROM:<a@b.c>\r\n" + LHLO + b"STARTTLS\r\n", conn=conn)
    assert run.codes == ["503 5.5.1", "250", "503 5.5.1"]
    assert "STARTTLS" not in run.replies[1].lines()
    assert [e for e in run.events if isinstance(e, MailFrom)] == []


def test_starttls_unavailable_or_misplaced() -> None:
    assert drive(LHLO + b"STARTTLS\r\n").codes[-1] == "454 4.7.0"
    run = drive(ENVELOPE + b"STARTTLS\r\n", tls_available=True)
    assert run.codes[-1] == "503 5.5.1"
    assert drive(b"STARTTLS\r\n", tls_available=True).codes[-1] == "503 5.5.1"
    assert drive(LHLO + b"STARTTLS now\r\n", tls_available=True).codes[-1] == "501 5.5.4"


def test_abort_sends_last_reply_and_closes() -> None:
    conn = LmtpConnection("mx.test")
    conn.data_to_send()
    conn.abort(Reply(421, "4.4.2", "idle timeout"))
    assert parse_replies(conn.data_to_send()) == [Reply(421, "4.4.2", "idle timeout")]
    assert isinstance(conn.next_event(), ConnectionClosed)
    conn.abort(Reply(421, "4.4.2", "again"))
    assert conn.data_to_send() == b""


# ------------------------------------------------------------------ replies, errors, table


def test_reply_formatting_and_sanitising() -> None:
    reply = Reply(250, "2.0.0", "first\nsecond")
    assert reply.to_bytes() == b"250-2.0.0 first\r\n250 2.0.0 second\r\n"
    evil = Reply(550, "5.1.1", "bad\r\n250 2.0.0 injected\x00 é")
    assert evil.to_bytes() == b"550-5.1.1 bad?\r\n550 5.1.1 250 2.0.0 injected? ?\r\n"
    assert parse_replies(evil.to_bytes())[0].code == 550
    for bad in [(199, "", "x"), (250, "5.0.0", "x"), (550, "5.0", "x"), (450, "4.1000.1", "x")]:
        with pytest.raises(ValueError):
            Reply(*bad)
    with pytest.raises(ValueError):
        parse_replies(b"250-2.0.0 a\r\n251 2.0.0 b\r\n")
    with pytest.raises(ValueError):
        parse_replies(b"550 no enhanced code\r\n")


def test_every_error_kind_maps_to_a_failure_reply() -> None:
    for kind in ErrorKind:
        reply = reply_for_kind(kind)
        assert reply.code >= 400 and reply.enhanced[0] == str(reply.code)[0]
    expected = {
        ErrorKind.NOT_FOUND: (550, "5.1.1"),
        ErrorKind.OVER_QUOTA: (452, "4.2.2"),
        ErrorKind.TOO_LARGE: (552, "5.3.4"),
        ErrorKind.NO_PERMISSION: (550, "5.7.1"),
        ErrorKind.TEMPORARY: (451, "4.3.0"),
        ErrorKind.INTERNAL: (451, "4.3.0"),
        ErrorKind.LIMIT: (452, "4.5.3"),
        ErrorKind.INVALID: (501, "5.1.3"),
    }
    for kind, (code, enhanced) in expected.items():
        reply = reply_for_error(MailError(kind, "secret detail"))
        assert (reply.code, reply.enhanced) == (code, enhanced)
        assert "secret" not in reply.text


def test_state_table_shape() -> None:
    command_states = [State.CONNECTED, State.READY, State.MAIL, State.RCPT, State.BDAT]
    for state in command_states:
        assert next_state(state, Trigger.QUIT) is State.CLOSED
        assert next_state(state, Trigger.RSET) in (State.CONNECTED, State.READY)
        assert next_state(state, Trigger.NOOP) is state
    assert {t for (s, t) in TRANSITIONS if s is State.CLOSED} == {Trigger.CLOSE}
    assert {t for (s, t) in TRANSITIONS if s is State.DATA} == {Trigger.DATA_DONE, Trigger.CLOSE}
    assert next_state(State.MAIL, Trigger.DATA) is None  # RFC 2033 §4.2: no recipients yet


# ------------------------------------------------------------------ real messages


def _corpus_files() -> list[Path]:
    corpus = require_corpus()
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix != ".md")


def test_corpus_round_trips_through_data_and_bdat() -> None:
    files = _corpus_files()
    assert len(files) >= 100
    for path in files:
        raw = path.read_bytes()
        # DATA needs CRLF lines: normalise, then dot-stuff like a client (RFC 5321 §4.5.2).
        crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if not crlf.endswith(b"\r\n"):
            crlf += b"\r\n"
        stuffed = b"\r\n".join(
            b"." + line if line.startswith(b".") else line for line in crlf.split(b"\r\n")
        )
        wire = ENVELOPE + b"DATA\r\n" + stuffed + b".\r\n"
        wire += b"MAIL FROM:<a@b.c>\r\nRCPT TO:<x@b.c>\r\nBDAT %d LAST\r\n" % len(raw) + raw
        run = drive(wire)
        assert run.messages == [crlf, raw], path.name


# ------------------------------------------------------------------ property test


def _answer_everything(conn: LmtpConnection, toggle: list[int]) -> None:
    """Drive the core like an application would, alternating accept/reject."""
    for _ in range(10_000):
        event = conn.next_event()
        if event is NEED_DATA or isinstance(event, ConnectionClosed):
            return
        if isinstance(event, RcptTo):
            toggle[0] += 1
            if toggle[0] % 3:
                conn.accept_rcpt()
            else:
                conn.reject_rcpt(Reply(550, "5.1.1", "no"))
        elif isinstance(event, MessageComplete):
            conn.send_delivery_results([Reply(250, "2.0.0", "ok")] * len(conn.recipients))
        elif isinstance(event, Vrfy):
            conn.answer_vrfy(Reply(252, "2.0.0", "maybe"))
        elif isinstance(event, StartTls):
            conn.start_tls_done()
    raise AssertionError("next_event did not make progress")


_commands = st.sampled_from(
    [
        b"LHLO x.test\r\n",
        b"MAIL FROM:<a@b.c>\r\n",
        b"MAIL FROM:<> BODY=BINARYMIME SIZE=5\r\n",
        b"RCPT TO:<u@b.c>\r\n",
        b"DATA\r\n",
        b"..\r\n",
        b".\r\n",
        b"BDAT 3\r\n",
        b"BDAT 2 LAST\r\n",
        b"RSET\r\n",
        b"STARTTLS\r\n",
        b"VRFY u\r\n",
        b"QUIT\r\n",
        b"\r\n",
        b"\n",
        b"\x00\xff",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(st.one_of(_commands, st.binary(max_size=40)), max_size=30),
    cuts=st.lists(st.integers(min_value=1, max_value=16), max_size=40),
)
def test_arbitrary_input_never_breaks_the_core(pieces: list[bytes], cuts: list[int]) -> None:
    data = b"".join(pieces)
    limits = LmtpLimits(max_line_length=64, max_message_size=200, max_recipients=3)
    outputs: list[bytes] = []
    for split in (False, True):
        conn = LmtpConnection("mx.test", limits, tls_available=True)
        toggle = [0]
        out = conn.data_to_send()
        # the application behaves, so the core must not raise whatever the peer sends
        if split:
            pos = 0
            for cut in cuts:
                conn.receive_data(data[pos : pos + cut])
                pos += cut
                _answer_everything(conn, toggle)
                out += conn.data_to_send()
            conn.receive_data(data[pos:])
        else:
            conn.receive_data(data)
        _answer_everything(conn, toggle)
        conn.receive_data(b"")
        _answer_everything(conn, toggle)
        out += conn.data_to_send()
        parse_replies(out)  # raises ValueError on any malformed line
        assert conn.state is State.CLOSED
        outputs.append(out)
    # feeding the same bytes in pieces gives the same conversation as feeding them whole,
    # except after STARTTLS, which discards whatever was pipelined behind it (RFC 3207)
    if b"STARTTLS" not in data.upper():
        assert outputs[0] == outputs[1]
