"""The IMAP response serializer: quoting rules, codes, sequence sets, and round trips."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.imap import commands as C
from protocols.imap import mutf7
from protocols.imap.errors import ErrorResponse, response_for_error, response_for_kind
from protocols.imap.framing import Frame, ImapFramer
from protocols.imap.parser import parse_command
from protocols.imap.serializer import (
    QUOTED_MAX,
    ResponseCode,
    continuation,
    continuation_data,
    encode_value,
    format_ranges,
    format_sequence_set,
    tagged,
    untagged,
    untagged_status,
)
from protocols.imap.values import Atom, Literal, Raw, Value
from store.errors import ErrorKind, MailError


def parse_wire(data: bytes, *, utf8: bool = False) -> C.AnyCommand:
    framer = ImapFramer()
    framer.receive_data(data)
    frame = framer.next_frame()
    assert isinstance(frame, Frame), frame
    assert framer.buffered == 0
    return parse_command(frame, utf8=utf8)


# ------------------------------------------------------------------ values


def test_scalars() -> None:
    assert encode_value(None) == b"NIL"
    assert encode_value(0) == b"0"
    assert encode_value(4294967296) == b"4294967296"
    assert encode_value(Atom("\\Seen")) == b"\\Seen"
    assert encode_value(Raw(b"BODY[1]<0>")) == b"BODY[1]<0>"
    with pytest.raises(ValueError):
        encode_value(-1)
    with pytest.raises(TypeError):
        encode_value(True)
    with pytest.raises(TypeError):
        encode_value(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode_value(Atom("a\r\nb"))


def test_quoted_strings_escape_quote_and_backslash() -> None:
    assert encode_value("hello world") == b'"hello world"'
    assert encode_value("") == b'""'
    assert encode_value('say "hi"\\') == b'"say \\"hi\\"\\\\"'
    assert encode_value(b"bytes too") == b'"bytes too"'


@pytest.mark.parametrize("text", [b"a\r\nb", b"a\nb", b"a\rb"])
def test_line_breaks_force_a_literal(text: bytes) -> None:
    assert encode_value(text) == b"{%d}\r\n" % len(text) + text
    assert encode_value(text, utf8=True) == b"{%d}\r\n" % len(text) + text


def test_no_nul_in_a_literal_only_in_a_literal8() -> None:
    """RFC 9051 §4.3.1: a literal carries no NUL; it goes as 0x80, one octet for one (as
    Dovecot does); a literal8 (RFC 3516 §4.2) carries it as is."""
    assert encode_value(b"a\x00b") == b"{3}\r\na\x80b"
    assert encode_value(b"a\x00b", utf8=True) == b"{3}\r\na\x80b"
    assert encode_value(Literal(b"\x00\x00x")) == b"{3}\r\n\x80\x80x"
    assert encode_value(Literal(b"\x00x", binary=True)) == b"~{2}\r\n\x00x"


def test_eight_bit_needs_utf8_permission() -> None:
    word = "Grüße"
    raw = word.encode()
    assert encode_value(word) == b"{%d}\r\n" % len(raw) + raw
    assert encode_value(word, utf8=True) == b'"' + raw + b'"'
    latin = b"caf\xe9"  # not UTF-8: a literal even with permission
    assert encode_value(latin, utf8=True) == b"{4}\r\ncaf\xe9"


def test_long_strings_become_literals() -> None:
    assert encode_value("x" * QUOTED_MAX) == b'"' + b"x" * QUOTED_MAX + b'"'
    long = "x" * (QUOTED_MAX + 1)
    assert encode_value(long) == b"{%d}\r\n" % len(long) + long.encode()


def test_literals_and_lists() -> None:
    assert encode_value(Literal(b"short")) == b"{5}\r\nshort"
    assert encode_value(Literal(b"\x00\x01", binary=True)) == b"~{2}\r\n\x00\x01"
    value: Value = [Atom("FLAGS"), [Atom("\\Seen"), Atom("$Junk")], Atom("UID"), 7, "x", None, ()]
    assert encode_value(value) == b'(FLAGS (\\Seen $Junk) UID 7 "x" NIL ())'
    assert encode_value((1, (2, (3,)))) == b"(1 (2 (3)))"


# ------------------------------------------------------------------ responses


def test_tagged_and_untagged_status() -> None:
    assert tagged("a1", "OK", "LOGIN completed") == b"a1 OK LOGIN completed\r\n"
    assert tagged("a2", "NO", "Too big", "TOOBIG") == b"a2 NO [TOOBIG] Too big\r\n"
    assert (
        tagged("a3", "OK", "Done", ResponseCode("APPENDUID", (38505, Atom("3955:3957"))))
        == b"a3 OK [APPENDUID 38505 3955:3957] Done\r\n"
    )
    assert (
        untagged_status("OK", "Ok", ResponseCode("HIGHESTMODSEQ", (715194045007,)))
        == b"* OK [HIGHESTMODSEQ 715194045007] Ok\r\n"
    )
    assert untagged_status("OK", "x", "CLOSED") == b"* OK [CLOSED] x\r\n"
    assert (
        untagged_status(
            "OK", "Flags", ResponseCode("PERMANENTFLAGS", ([Atom("\\Seen"), Atom("\\*")],))
        )
        == b"* OK [PERMANENTFLAGS (\\Seen \\*)] Flags\r\n"
    )
    code = ResponseCode("COPYUID", (38505, Atom("304,319:320"), Atom("3956:3958")))
    assert (
        tagged("a4", "OK", "moved", code)
        == b"a4 OK [COPYUID 38505 304,319:320 3956:3958] moved\r\n"
    )
    assert untagged_status("BYE", "") == b"* BYE BYE\r\n"
    with pytest.raises(ValueError):
        tagged("a", "MAYBE", "x")
    with pytest.raises(ValueError):
        tagged("a b", "OK", "x")
    with pytest.raises(ValueError):
        tagged("a", "OK", "x", ResponseCode("BAD NAME"))


def test_response_text_is_sanitised() -> None:
    assert tagged("a", "NO", "line1\r\nline2\x00") == b"a NO line1  line2\r\n"
    # Without a code, text starting with "[" would be read as one.
    assert tagged("a", "OK", "[fake] text") == b"a OK (fake] text\r\n"
    assert tagged("a", "OK", "[real] text", "X") == b"a OK [X] [real] text\r\n"


def test_untagged_data_and_continuations() -> None:
    assert untagged(3, Atom("EXISTS")) == b"* 3 EXISTS\r\n"
    assert (
        untagged(Atom("LIST"), [Atom("\\HasNoChildren")], "/", "INBOX")
        == b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n'
    )
    assert (
        untagged(12, Atom("FETCH"), [Atom("FLAGS"), [Atom("\\Seen")], Atom("UID"), 4])
        == b"* 12 FETCH (FLAGS (\\Seen) UID 4)\r\n"
    )
    assert untagged(Atom("SEARCH"), Atom("Grüße"), utf8=True) == "* SEARCH Grüße\r\n".encode()
    assert continuation() == b"+ Ready\r\n"
    assert continuation("go\r\nahead") == b"+ go  ahead\r\n"
    assert continuation_data(b"\x00bob") == b"+ AGJvYg==\r\n"
    assert continuation_data(b"") == b"+ \r\n"


# ------------------------------------------------------------------ sequence sets


def test_format_sequence_set() -> None:
    assert format_sequence_set([1, 2, 3, 5, 7, 8, 9]) == "1:3,5,7:9"
    assert format_sequence_set([9, 1, 2, 2, 3]) == "1:3,9"
    assert format_sequence_set([4]) == "4"
    assert format_sequence_set([]) == ""
    assert format_ranges([(5, 5), (3, 4)]) == "5,3:4"
    with pytest.raises(ValueError):
        format_sequence_set([0, 1])


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(min_value=1, max_value=5000), min_size=1, max_size=60))
def test_sequence_set_round_trip(numbers: set[int]) -> None:
    text = format_sequence_set(numbers)
    command = parse_wire(b"a1 UID FETCH " + text.encode() + b" UID\r\n")
    assert isinstance(command, C.Fetch)
    assert command.sequence_set.resolve(5000) == sorted(numbers)
    assert str(command.sequence_set) == text


# ------------------------------------------------------------------ round trips through the parser

# No NUL: a string with NUL cannot travel in IMAP (it goes as 0x80, see above).
strings = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40
) | st.text(alphabet='"\\ \r\nabc', max_size=12)


@settings(max_examples=300, deadline=None)
@given(strings, strings, st.booleans())
def test_strings_round_trip_through_login(user: str, password: str, utf8: bool) -> None:
    wire = b"a1 LOGIN " + encode_value(user, utf8=utf8) + b" " + encode_value(password, utf8=utf8)
    assert parse_wire(wire + b"\r\n") == C.Login("a1", user, password)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=30))
def test_mailbox_names_round_trip(name: str) -> None:
    expected = "INBOX" if name.upper() == "INBOX" else name
    legacy = parse_wire(b"a1 SELECT " + encode_value(mutf7.encode(name)) + b"\r\n")
    assert legacy == C.Select("a1", expected)
    modern = parse_wire(b"a1 SELECT " + encode_value(name, utf8=True) + b"\r\n", utf8=True)
    assert modern == C.Select("a1", expected)


# ------------------------------------------------------------------ error mapping

_STRICT_LINE = re.compile(rb"^[A-Za-z0-9.*]+ (NO|BAD) (\[[A-Z]+\] )?[\x20-\x7e]+\r\n\Z")


def test_every_error_kind_is_mapped() -> None:
    expected = {
        ErrorKind.NOT_FOUND: "NONEXISTENT",
        ErrorKind.ALREADY_EXISTS: "ALREADYEXISTS",
        ErrorKind.NO_PERMISSION: "NOPERM",
        ErrorKind.OVER_QUOTA: "OVERQUOTA",
        ErrorKind.EXPUNGED: "EXPUNGEISSUED",
        ErrorKind.IN_USE: "INUSE",
        ErrorKind.TEMPORARY: "UNAVAILABLE",
        ErrorKind.INVALID: "CANNOT",
        ErrorKind.TOO_LARGE: "TOOBIG",
        ErrorKind.LIMIT: "LIMIT",
        ErrorKind.HAS_CHILDREN: "HASCHILDREN",
        ErrorKind.STATE_MISMATCH: "MODIFIED",
        ErrorKind.INTERNAL: "SERVERBUG",
        ErrorKind.UNAVAILABLE: "UNAVAILABLE",
        ErrorKind.UNKNOWN_OUTCOME: "UNAVAILABLE",
    }
    assert set(expected) == set(ErrorKind)
    for kind, code in expected.items():
        response = response_for_kind(kind)
        assert (response.status, response.code) == ("NO", code)
        line = response.to_bytes("A9")
        assert line.startswith(b"A9 NO [" + code.encode() + b"] ")
        assert _STRICT_LINE.match(line), line
    assert response_for_kind(ErrorKind.INVALID, syntax=True) == ErrorResponse(
        "BAD", None, "Invalid arguments"
    )


def test_mail_error_detail_never_reaches_the_wire() -> None:
    error = MailError(ErrorKind.NOT_FOUND, "key acct/7/mbox/secret missing")
    line = response_for_error(error).to_bytes("t")
    assert b"secret" not in line
    assert line == b"t NO [NONEXISTENT] No such mailbox or message\r\n"
