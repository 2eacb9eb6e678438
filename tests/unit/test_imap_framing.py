"""The IMAP framer: lines, every literal form, limits with recovery, byte-at-a-time feeding."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols.imap import commands as C
from protocols.imap.framing import (
    CLOSED,
    NEED_DATA,
    Frame,
    FrameError,
    FrameLiteral,
    FramingLimits,
    ImapFramer,
    LineFrame,
)
from protocols.imap.parser import parse_command

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "mime"
CONT = b"+ Ready for literal data\r\n"

Event = Frame | LineFrame | FrameError


def drain(framer: ImapFramer) -> tuple[list[Event], bytes]:
    events: list[Event] = []
    out = b""
    while True:
        ev = framer.next_frame()
        out += framer.data_to_send()
        if ev is NEED_DATA or ev is CLOSED:
            return events, out
        assert not isinstance(ev, type(NEED_DATA))
        events.append(ev)


def run(
    data: bytes, limits: FramingLimits | None = None, *, chunk: int | None = None
) -> tuple[list[Event], bytes]:
    framer = ImapFramer(limits)
    if chunk is None:
        framer.receive_data(data)
        return drain(framer)
    events: list[Event] = []
    out = b""
    for i in range(0, len(data), chunk):
        framer.receive_data(data[i : i + chunk])
        evs, o = drain(framer)
        events += evs
        out += o
    return events, out


def run_all_ways(data: bytes, limits: FramingLimits | None = None) -> tuple[list[Event], bytes]:
    """Whole, byte-at-a-time and in 7-byte chunks must agree."""
    whole = run(data, limits)
    assert run(data, limits, chunk=1) == whole
    assert run(data, limits, chunk=7) == whole
    return whole


def test_simple_lines_crlf_and_bare_lf() -> None:
    events, out = run_all_ways(b"a1 NOOP\r\na2 CAPABILITY\nA3 logout\r\n")
    assert events == [Frame((b"a1 NOOP",)), Frame((b"a2 CAPABILITY",)), Frame((b"A3 logout",))]
    assert out == b""


def test_partial_line_needs_data_and_eof_closes() -> None:
    framer = ImapFramer()
    framer.receive_data(b"a1 NO")
    assert framer.next_frame() is NEED_DATA
    framer.receive_data(b"OP\r\na2 half")
    assert framer.next_frame() == Frame((b"a1 NOOP",))
    assert framer.next_frame() is NEED_DATA
    framer.receive_data(b"")
    assert framer.next_frame() is CLOSED


def test_synchronising_literal_sends_continuation() -> None:
    events, out = run_all_ways(b"a1 LOGIN {3}\r\nbob {4}\r\npass\r\n")
    assert events == [Frame((b"a1 LOGIN ", FrameLiteral(b"bob"), b" ", FrameLiteral(b"pass"), b""))]
    assert out == CONT * 2


def test_continuation_is_sent_before_the_literal_arrives() -> None:
    framer = ImapFramer()
    framer.receive_data(b"a1 LOGIN {3}\r\n")
    assert framer.next_frame() is NEED_DATA
    assert framer.data_to_send() == CONT
    framer.receive_data(b"bo")
    assert framer.next_frame() is NEED_DATA
    assert framer.data_to_send() == b""
    framer.receive_data(b"b x\r\n")
    frame = framer.next_frame()
    assert isinstance(frame, Frame)
    assert frame.literals == (FrameLiteral(b"bob"),)


def test_mid_command_covers_text_literals_and_the_line_after_them() -> None:
    """The server acknowledges at once while a command is incomplete (see server._ack_now):
    the framer says when that is, including right after a literal was consumed whole."""
    framer = ImapFramer()
    assert not framer.mid_command
    framer.receive_data(b"a1 APP")
    assert framer.next_frame() is NEED_DATA and framer.mid_command
    framer.receive_data(b"END INBOX {4}\r\n")
    assert framer.next_frame() is NEED_DATA and framer.mid_command  # waiting for the literal
    framer.receive_data(b"body")
    assert framer.next_frame() is NEED_DATA
    assert framer.buffered == 0 and framer.mid_command  # literal consumed, CRLF still due
    framer.receive_data(b"\r\n")
    assert isinstance(framer.next_frame(), Frame)
    assert not framer.mid_command
    assert framer.next_frame() is NEED_DATA and not framer.mid_command


def test_non_synchronising_literal_plus() -> None:
    events, out = run_all_ways(b"a1 LOGIN {3+}\r\nbob {0+}\r\n\r\n")
    assert events == [
        Frame(
            (
                b"a1 LOGIN ",
                FrameLiteral(b"bob", synchronizing=False),
                b" ",
                FrameLiteral(b"", synchronizing=False),
                b"",
            )
        )
    ]
    assert out == b""


def test_literal8_both_forms() -> None:
    data = b"a1 APPEND x ~{4}\r\n\x00\x01\r\n ~{2+}\r\n\xff\xfe\r\n"
    events, out = run_all_ways(data)
    assert events == [
        Frame(
            (
                b"a1 APPEND x ",
                FrameLiteral(b"\x00\x01\r\n", binary=True),
                b" ",
                FrameLiteral(b"\xff\xfe", binary=True, synchronizing=False),
                b"",
            )
        )
    ]
    assert out == CONT


def test_literal_data_may_hold_anything() -> None:
    payload = b"{5}\r\n\nline\r\n* BAD\r\n"
    data = b"a1 APPEND x {%d}\r\n" % len(payload) + payload + b"\r\na2 NOOP\r\n"
    events, _ = run_all_ways(data)
    assert events[0] == Frame((b"a1 APPEND x ", FrameLiteral(payload), b""))
    assert events[1] == Frame((b"a2 NOOP",))


def test_marker_only_counts_at_end_of_line() -> None:
    events, out = run_all_ways(b'a1 LOGIN "{3}" x\r\n')
    assert events == [Frame((b'a1 LOGIN "{3}" x',))]
    assert out == b""


def test_line_too_long_is_rejected_with_tag_and_framer_resyncs() -> None:
    limits = FramingLimits(max_line_length=30)
    data = b"t1 LOGIN " + b"x" * 100 + b"\r\nt2 NOOP\r\n"
    events, out = run_all_ways(data, limits)
    assert events == [
        FrameError("t1", "BAD", "TOOBIG", "Command line too long"),
        Frame((b"t2 NOOP",)),
    ]
    assert out == b""
    assert isinstance(events[0], FrameError)
    assert events[0].to_bytes() == b"t1 BAD [TOOBIG] Command line too long\r\n"


def test_line_length_limit_is_exact() -> None:
    limits = FramingLimits(max_line_length=10)
    ok, _ = run_all_ways(b"a1 NOOP xx\r\n", limits)  # 10 octets
    assert ok == [Frame((b"a1 NOOP xx",))]
    bad, _ = run_all_ways(b"a1 NOOP xxx\r\na2 NOOP\r\n", limits)
    assert isinstance(bad[0], FrameError) and bad[0].tag == "a1"
    assert bad[1] == Frame((b"a2 NOOP",))


def test_line_limit_counts_text_across_literals() -> None:
    limits = FramingLimits(max_line_length=24)
    data = b"a1 LOGIN {3}\r\nbob " + b"y" * 20 + b"\r\na2 NOOP\r\n"
    events, out = run_all_ways(data, limits)
    assert events[0] == FrameError("a1", "BAD", "TOOBIG", "Command line too long")
    assert events[1] == Frame((b"a2 NOOP",))
    assert out == CONT


def test_too_long_line_announcing_a_non_sync_literal_skips_it() -> None:
    limits = FramingLimits(max_line_length=20)
    data = b"a1 LOGIN " + b"z" * 40 + b" {5+}\r\nA2 NOOP\r\na3 NOOP\r\n"
    events, _ = run_all_ways(data, limits)
    # "A2 NO" is the literal's content and the rest of its line is the command's tail.
    assert events == [
        FrameError("a1", "BAD", "TOOBIG", "Command line too long"),
        Frame((b"a3 NOOP",)),
    ]


def test_too_long_line_ending_in_sync_literal_ends_the_command() -> None:
    limits = FramingLimits(max_line_length=20)
    data = b"a1 LOGIN " + b"z" * 40 + b" {5}\r\na2 NOOP\r\n"
    events, out = run_all_ways(data, limits)
    assert events == [
        FrameError("a1", "BAD", "TOOBIG", "Command line too long"),
        Frame((b"a2 NOOP",)),
    ]
    assert out == b""  # no "+" for a refused command


def test_sync_literal_too_big_gets_bad_instead_of_continuation() -> None:
    limits = FramingLimits(max_literal_size=10)
    events, out = run_all_ways(b"a1 LOGIN {11}\r\na2 NOOP\r\n", limits)
    assert events == [FrameError("a1", "BAD", "TOOBIG", "Literal too large"), Frame((b"a2 NOOP",))]
    assert out == b""


def test_append_literal_too_big_is_no_toobig() -> None:
    limits = FramingLimits(max_literal_size=10)
    events, out = run_all_ways(b"a1 append INBOX (\\Seen) {11}\r\na2 NOOP\r\n", limits)
    assert events[0] == FrameError("a1", "NO", "TOOBIG", "Literal too large")
    assert isinstance(events[0], FrameError)
    assert events[0].to_bytes() == b"a1 NO [TOOBIG] Literal too large\r\n"
    assert events[1] == Frame((b"a2 NOOP",))
    assert out == b""


def test_non_sync_literal_too_big_is_skipped() -> None:
    limits = FramingLimits(max_literal_size=10)
    payload = b"0123456789AB\r\n{3}\r\n"  # 19 octets that look like commands
    data = b"a1 APPEND x {19+}\r\n" + payload + b" more {2+}\r\nzz\r\na2 NOOP\r\n"
    events, out = run_all_ways(data, limits)
    assert events == [FrameError("a1", "NO", "TOOBIG", "Literal too large"), Frame((b"a2 NOOP",))]
    assert out == b""


def test_literal_minus_limit() -> None:
    minus = FramingLimits(literal_minus=True)
    big = b"x" * 4097
    data = b"a1 APPEND x {4097+}\r\n" + big + b"\r\na2 APPEND x {4096+}\r\n" + big[:4096] + b"\r\n"
    events, _ = run(data, minus)
    assert events[0] == FrameError("a1", "BAD", "TOOBIG", "Literal too large")
    assert isinstance(events[1], Frame)
    assert events[1].literals == (FrameLiteral(big[:4096], synchronizing=False),)
    # LITERAL+ (the default) takes the same 4097-octet literal.
    plus, _ = run(data)
    assert isinstance(plus[0], Frame) and plus[0].literals[0].data == big
    # A synchronising literal is not subject to the LITERAL- cap.
    sync, out = run(b"a1 APPEND x {4097}\r\n" + big + b"\r\n", minus)
    assert isinstance(sync[0], Frame) and out == CONT


def test_command_size_limit_counts_all_literals() -> None:
    limits = FramingLimits(max_literal_size=100, max_command_size=150)
    data = b"a1 APPEND x {80+}\r\n" + b"a" * 80 + b" {80+}\r\n" + b"b" * 80 + b"\r\na2 NOOP\r\n"
    events, _ = run_all_ways(data, limits)
    assert events == [FrameError("a1", "NO", "TOOBIG", "Literal too large"), Frame((b"a2 NOOP",))]


def test_absurd_literal_length_does_not_crash() -> None:
    events, out = run_all_ways(b"a1 LOGIN {" + b"9" * 5000 + b"}\r\na2 NOOP\r\n")
    assert events[0] == FrameError("a1", "BAD", "TOOBIG", "Literal too large")
    assert events[1] == Frame((b"a2 NOOP",))
    assert out == b""


def test_unknown_tag_in_error_is_star() -> None:
    limits = FramingLimits(max_line_length=10)
    events, _ = run_all_ways(b"+bad" + b"x" * 20 + b"\r\n", limits)
    assert events == [FrameError("*", "BAD", "TOOBIG", "Command line too long")]
    assert isinstance(events[0], FrameError)
    assert events[0].to_bytes().startswith(b"* BAD [TOOBIG]")


def test_expect_line_for_authenticate_and_idle() -> None:
    framer = ImapFramer()
    framer.receive_data(b"a1 IDLE\r\nDONE\r\na2 NOOP {3}\r\n")
    assert framer.next_frame() == Frame((b"a1 IDLE",))
    framer.expect_line()
    # In line mode, a literal marker is not interpreted and no continuation is sent.
    assert framer.next_frame() == LineFrame(b"DONE")
    framer.expect_line()
    assert framer.next_frame() == LineFrame(b"a2 NOOP {3}")
    assert framer.data_to_send() == b""
    assert framer.next_frame() is NEED_DATA


def test_expect_line_too_long_uses_given_tag() -> None:
    framer = ImapFramer(FramingLimits(max_line_length=8))
    framer.expect_line("A7")
    framer.receive_data(b"dGVzdHRlc3R0ZXN0\r\na8 NOOP\r\n")
    assert framer.next_frame() == FrameError("A7", "BAD", "TOOBIG", "Command line too long")
    assert framer.next_frame() == Frame((b"a8 NOOP",))


def test_expect_line_mid_command_is_refused() -> None:
    framer = ImapFramer()
    framer.receive_data(b"a1 LOGIN {3}\r\n")
    assert framer.next_frame() is NEED_DATA
    with pytest.raises(RuntimeError):
        framer.expect_line()


def test_pipelined_commands_split_everywhere() -> None:
    data = (
        b"a1 LOGIN {3+}\r\nbob {4}\r\npass\r\n"
        b"a2 SELECT INBOX\r\n"
        b"a3 APPEND INBOX ~{3}\r\n\x00\x01\x02 {1+}\r\nx\r\n"
        b"a4 LOGOUT\r\n"
    )
    whole, out = run(data)
    for cut in range(1, len(data)):
        framer = ImapFramer()
        framer.receive_data(data[:cut])
        first, o1 = drain(framer)
        framer.receive_data(data[cut:])
        second, o2 = drain(framer)
        assert first + second == whole
        assert o1 + o2 == out
    assert [type(e) for e in whole] == [Frame] * 4
    assert out == CONT * 2


def _corpus() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"MIME corpus not found at {CORPUS} (clone outside the workspace)")
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix == ".eml")


def test_corpus_messages_survive_append_framing() -> None:
    files = _corpus()
    assert len(files) > 50
    for path in files:
        body = path.read_bytes()
        for marker in (b"{%d}" % len(body), b"{%d+}" % len(body), b"~{%d}" % len(body)):
            data = b"A1 APPEND INBOX " + marker + b"\r\n" + body + b"\r\nA2 NOOP\r\n"
            events, _ = run(data, chunk=509)
            assert len(events) == 2, path
            assert isinstance(events[0], Frame)
            command = parse_command(events[0])
            assert isinstance(command, C.Append)
            assert command.messages[0].data == body
            assert events[1] == Frame((b"A2 NOOP",))
