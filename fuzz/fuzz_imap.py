"""Atheris fuzz target for the IMAP codec (protocols.imap framing, parser, serializer).

Feeds arbitrary bytes -- raw, or assembled from IMAP-ish tokens so the fuzzer reaches deep
grammar quickly -- into an :class:`ImapFramer` with small limits, once whole and once split at
fuzzer-chosen points, and parses every frame (with and without UTF8=ACCEPT).  Checks:

- the framer never raises; the parser raises nothing but :class:`ImapParseError`;
- whole and split feeding give the same frames and the same continuation output;
- every error reply (framer or parser) is one well-formed response line with the right tag;
- "never produce what you cannot parse": sequence sets and mailbox names of parsed commands
  are re-encoded with the serializer and parse back to the same values.

Run:  .venv/bin/python fuzz/fuzz_imap.py -atheris_runs=100000
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports():
    from protocols.imap import commands as C
    from protocols.imap import mutf7
    from protocols.imap.errors import ImapParseError
    from protocols.imap.framing import (
        CLOSED,
        NEED_DATA,
        Frame,
        FrameError,
        FramingLimits,
        ImapFramer,
        LineFrame,
    )
    from protocols.imap.parser import parse_command
    from protocols.imap.serializer import encode_value

TOKENS = [
    b"a1 ",
    b"UID ",
    b"FETCH ",
    b"SEARCH ",
    b"STORE ",
    b"APPEND ",
    b"SELECT ",
    b"LIST ",
    b"STATUS ",
    b"SORT ",
    b"THREAD ",
    b"LOGIN ",
    b"AUTHENTICATE PLAIN ",
    b"ID ",
    b"CREATE ",
    b"ENABLE ",
    b"SETQUOTA ",
    b"INBOX ",
    b"1:*,3 ",
    b"$ ",
    b"(",
    b")",
    b" ",
    b'"',
    b"\\",
    b"{3}\r\nabc",
    b"{2+}\r\nxy",
    b"~{1}\r\n\x00",
    b"{99}\r\n",
    b"\r\n",
    b"\n",
    b"BODY.PEEK[1.2.HEADER.FIELDS (From)]<0.5>",
    b"BINARY[1]",
    b"PREVIEW (LAZY)",
    b"(CHANGEDSINCE 5 VANISHED)",
    b"OR NOT SEEN ",
    b"HEADER X ",
    b"SINCE 1-Feb-2024",
    b'MODSEQ "/flags/\\\\Seen" all 5',
    b"CHARSET UTF-8 ",
    b"RETURN (MIN COUNT SAVE) ",
    b"(QRESYNC (1 2 1:5 (1 2)))",
    b"(USE (\\Drafts))",
    b"&U,BTFw-",
    b'" 5-Jan-2024 10:00:00 +0100" ',
    b"+FLAGS.SILENT (\\Seen)",
    b"(UNCHANGEDSINCE 3) ",
    b"UTF8 (",
    b"\xc3\xa9",
    b"NIL",
]
LIMITS = FramingLimits(max_line_length=200, max_literal_size=64, max_command_size=256)
LIMITS_MINUS = FramingLimits(
    max_line_length=200, max_literal_size=8192, max_command_size=9000, literal_minus=True
)
_LINE = re.compile(rb"[!-~]+ (OK|NO|BAD) (\[[^\r\n\]]+\] )?[^\r\n]+\r\n\Z")

Event = Frame | LineFrame | FrameError


def _check_error_line(line: bytes, tag: str) -> None:
    assert _LINE.match(line), line
    assert line.startswith(tag.encode() + b" "), (line, tag)


def _reparse(command: C.AnyCommand, utf8: bool) -> None:
    """Re-encode parts of a parsed command and check they parse back identically."""
    if isinstance(command, C.Fetch | C.Copy | C.Move | C.Store) and not (
        command.sequence_set.saved
    ):
        again = _parse_one(b"t UID FETCH " + str(command.sequence_set).encode() + b" UID\r\n")
        assert isinstance(again, C.Fetch) and again.sequence_set == command.sequence_set
    mailbox = getattr(command, "mailbox", None)
    if isinstance(mailbox, str) and not isinstance(mailbox, C.UnusableName):
        name = mailbox if utf8 else mutf7.encode(mailbox)
        again = _parse_one(b"t DELETE " + encode_value(name, utf8=utf8) + b"\r\n", utf8=utf8)
        assert again == C.Delete("t", mailbox), (again, mailbox)


def _parse_one(wire: bytes, *, utf8: bool = False) -> C.AnyCommand:
    framer = ImapFramer()
    framer.receive_data(wire)
    frame = framer.next_frame()
    assert isinstance(frame, Frame), frame
    return parse_command(frame, utf8=utf8)


def run(payload: bytes, cuts: list[int] | None, limits: FramingLimits) -> tuple[list[Event], bytes]:
    framer = ImapFramer(limits)
    events: list[Event] = []
    out = b""
    chunks = [payload]
    if cuts is not None:
        chunks = []
        pos = 0
        for cut in cuts:
            chunks.append(payload[pos : pos + cut])
            pos += cut
        chunks.append(payload[pos:])
    for chunk in [*chunks, b""]:
        framer.receive_data(chunk)
        while True:
            ev = framer.next_frame()
            out += framer.data_to_send()
            if ev is NEED_DATA or ev is CLOSED:
                break
            assert isinstance(ev, Frame | LineFrame | FrameError)
            events.append(ev)
            if isinstance(ev, Frame) and ev.pieces and ev.pieces[0] == b"x IDLE":
                framer.expect_line("x")
    return events, out


def check(events: list[Event]) -> None:
    for ev in events:
        if isinstance(ev, FrameError):
            _check_error_line(ev.to_bytes(), ev.tag)
        elif isinstance(ev, Frame):
            for utf8 in (False, True):
                try:
                    command = parse_command(ev, utf8=utf8)
                except ImapParseError as exc:
                    _check_error_line(exc.to_bytes(), exc.tag)
                else:
                    _reparse(command, utf8)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    structured = fdp.ConsumeBool()
    minus = fdp.ConsumeBool()
    cuts = [fdp.ConsumeIntInRange(1, 24) for _ in range(fdp.ConsumeIntInRange(0, 16))]
    if structured:
        picks = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 48))
        payload = b"".join(TOKENS[b % len(TOKENS)] for b in picks)
        payload += fdp.ConsumeBytes(fdp.remaining_bytes())
    else:
        payload = fdp.ConsumeBytes(fdp.remaining_bytes())
    limits = LIMITS_MINUS if minus else LIMITS
    whole = run(payload, None, limits)
    split = run(payload, cuts, limits)
    assert whole == split, (whole, split)
    check(whole[0])


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
