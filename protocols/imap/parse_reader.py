"""The IMAP command tokenizer: a cursor over one command's text and the values of RFC 9051 §9
(atoms, strings, numbers, sequence sets, flags, dates) that every command's grammar reads.

Literals arrive from the framer as separate pieces; the reader joins the text segments with a NUL
placeholder where each literal was (NUL is never valid command text, RFC 9051 §4.3).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TypeVar

from . import commands as C
from . import mutf7
from .errors import ImapParseError
from .framing import Frame, FrameLiteral

PLACEHOLDER = 0x00
# ATOM-CHAR: any CHAR except atom-specials ( ) { SP CTL % * " \ ]  (RFC 9051 §9)
_ATOM = re.compile(rb"[\x21\x23\x24\x26\x27\x2b-\x5b\x5e-\x7a\x7c-\x7e]+")
_ASTRING = re.compile(rb"[\x21\x23\x24\x26\x27\x2b-\x5b\x5d-\x7a\x7c-\x7e]+")  # + "]"
_LIST_CHARS = re.compile(rb"[\x21\x23-\x27\x2a-\x5b\x5d-\x7a\x7c-\x7e]+")  # + "%" "*" "]"
_DIGITS = re.compile(rb"[0-9]+")
_WORD = re.compile(rb"[A-Za-z0-9.\-]+")  # fetch-att and section-text words
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_SYSTEM_FLAGS = {
    f.upper(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent")
}
_MAX_NUMBER = 0xFFFFFFFF
_MAX_NUMBER64 = 0x7FFFFFFFFFFFFFFF  # RFC 9051 §9 number64
T = TypeVar("T")


class Reader:
    """A cursor over one command's text (literals as NUL placeholders)."""

    def __init__(self, frame: Frame, utf8: bool) -> None:
        self.tag = "*"
        self.utf8 = utf8
        self.charset = "utf-8"
        self.depth = 0
        parts: list[bytes] = []
        self.raw_nul = False
        self.literals: list[FrameLiteral] = []
        for piece in frame.pieces:
            if isinstance(piece, FrameLiteral):
                parts.append(b"\x00")
                self.literals.append(piece)
            else:
                self.raw_nul = self.raw_nul or b"\x00" in piece
                parts.append(piece)
        self.text = b"".join(parts)
        self.pos = 0
        self.lit_index = 0

    # ---------------------------------------------------------------- primitives

    def fail(self, message: str, code: str | None = None) -> ImapParseError:
        return ImapParseError(self.tag, message, code)

    def peek(self) -> int:
        return self.text[self.pos] if self.pos < len(self.text) else -1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def end(self) -> None:
        if not self.at_end():
            raise self.fail("Unexpected extra arguments")

    def sp(self) -> None:
        if self.peek() != 0x20:
            raise self.fail("Missing space" if self.at_end() else "Expected a space")
        self.pos += 1
        if self.peek() == 0x20:
            raise self.fail("Too many spaces")

    def maybe_sp(self) -> bool:
        if self.peek() == 0x20:
            self.sp()
            return True
        return False

    def char(self, c: bytes) -> None:
        if self.text[self.pos : self.pos + 1] != c:
            raise self.fail(f"Expected {c.decode()!r}")
        self.pos += 1

    def maybe_char(self, c: bytes) -> bool:
        if self.text[self.pos : self.pos + 1] == c:
            self.pos += 1
            return True
        return False

    def _match(self, pattern: re.Pattern[bytes], what: str) -> bytes:
        m = pattern.match(self.text, self.pos)
        if m is None:
            raise self.fail(f"Expected {what}")
        self.pos = m.end()
        return m.group()

    def atom(self) -> str:
        return self._match(_ATOM, "an atom").decode("ascii")

    def keyword(self) -> str:
        """An atom, upper-cased (command names, options)."""
        return self.atom().upper()

    def word(self) -> str:
        return self._match(_WORD, "a keyword").decode("ascii").upper()

    def number(self, *, maximum: int = _MAX_NUMBER, nonzero: bool = False) -> int:
        digits = self._match(_DIGITS, "a number")
        if len(digits) > 20:
            raise self.fail("Number too large")
        value = int(digits)
        if value > maximum:
            raise self.fail("Number too large")
        if nonzero and value == 0:
            raise self.fail("Number must not be zero")
        return value

    def number64(self, *, nonzero: bool = False) -> int:
        return self.number(maximum=_MAX_NUMBER64, nonzero=nonzero)

    # ---------------------------------------------------------------- strings

    def literal(self, *, allow_binary: bool = False) -> FrameLiteral:
        if self.peek() != PLACEHOLDER or self.lit_index >= len(self.literals):
            raise self.fail("Expected a literal")
        lit = self.literals[self.lit_index]
        if lit.binary and not allow_binary:
            raise self.fail("literal8 is not allowed here")
        self.lit_index += 1
        self.pos += 1
        return lit

    def quoted(self) -> bytes:
        self.char(b'"')
        out = bytearray()
        text = self.text
        while True:
            if self.pos >= len(text):
                raise self.fail("Unterminated quoted string")
            c = text[self.pos]
            self.pos += 1
            if c == 0x22:
                return bytes(out)
            if c == 0x5C:
                if self.pos >= len(text) or text[self.pos] not in (0x22, 0x5C):
                    raise self.fail("Invalid escape in quoted string")
                out.append(text[self.pos])
                self.pos += 1
            elif c in (0x00, 0x0A, 0x0D):
                raise self.fail("Invalid character in quoted string")
            else:
                out.append(c)

    def is_string_start(self) -> bool:
        return self.peek() in (0x22, PLACEHOLDER)

    def string_bytes(self) -> bytes:
        if self.peek() == 0x22:
            return self.quoted()
        return self.literal().data

    def astring_bytes(self) -> bytes:
        if self.is_string_start():
            return self.string_bytes()
        return self._match(_ASTRING, "a string")

    def decode(self, data: bytes, charset: str = "utf-8") -> str:
        try:
            return data.decode(charset)
        except (UnicodeError, LookupError, ValueError):
            raise self.fail(f"Invalid {charset} in string") from None

    def astring(self) -> str:
        return self.decode(self.astring_bytes())

    def string(self) -> str:
        return self.decode(self.string_bytes())

    def nstring(self) -> str | None:
        if self.is_string_start():
            return self.string()
        if self.keyword() != "NIL":
            raise self.fail("Expected a string or NIL")
        return None

    def search_string(self) -> str:
        return self.decode(self.astring_bytes(), self.charset)

    def mailbox_text(self, raw: str) -> str:
        """A mailbox name or pattern: modified UTF-7 unless UTF8=ACCEPT (RFC 6855 §3); one that
        is no valid name is not a syntax error (NO, not BAD): :class:`C.UnusableName`."""
        if self.utf8:
            bad = any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw)
            return C.UnusableName(raw, "control character in mailbox name") if bad else raw
        try:
            return mutf7.decode(raw)
        except ValueError as exc:
            return C.UnusableName(raw, str(exc))

    def mailbox(self) -> str:
        name = self.mailbox_text(self.astring())
        return "INBOX" if name.upper() == "INBOX" else name

    def list_mailbox(self) -> str:
        if self.is_string_start():
            raw = self.string()
        else:
            raw = self.decode(self._match(_LIST_CHARS, "a mailbox pattern"))
        return self.mailbox_text(raw)

    # ---------------------------------------------------------------- composite values

    def seq_number(self) -> int | None:
        if self.maybe_char(b"*"):
            return None
        return self.number(nonzero=True)

    def sequence_set(self) -> C.SequenceSet:
        if self.maybe_char(b"$"):
            return C.SequenceSet(saved=True)  # RFC 5182 §2.1
        ranges: list[tuple[int | None, int | None]] = []
        while True:
            start = self.seq_number()
            end = self.seq_number() if self.maybe_char(b":") else start
            ranges.append((start, end))
            if not self.maybe_char(b","):
                return C.SequenceSet(tuple(ranges))

    def peek_keyword(self) -> str:
        """The upper-cased atom at the cursor, without consuming it ("" if none)."""
        m = _ATOM.match(self.text, self.pos)
        return m.group().decode("ascii").upper() if m else ""

    def paren_list(self, item: Callable[[], T], *, allow_empty: bool = True) -> list[T]:
        self.char(b"(")
        items: list[T] = []
        if self.maybe_char(b")"):
            if not allow_empty:
                raise self.fail("Empty list")
            return items
        while True:
            items.append(item())
            if self.maybe_char(b")"):
                return items
            self.sp()

    def flag(self) -> str:
        if self.maybe_char(b"\\"):
            name = "\\" + self.atom()
            return _SYSTEM_FLAGS.get(name.upper(), name)
        return self.atom()

    def flag_list(self) -> tuple[str, ...]:
        return tuple(self.paren_list(self.flag))

    def date(self) -> dt.date:
        quoted = self.maybe_char(b'"')
        day = self.number(maximum=99)
        self.char(b"-")
        month = self._month()
        self.char(b"-")
        year = self._fixed_digits(4)
        if quoted:
            self.char(b'"')
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise self.fail("Invalid date") from None

    def _month(self) -> int:
        word = self.text[self.pos : self.pos + 3].decode("latin-1").upper()
        if word not in _MONTHS:
            raise self.fail("Invalid month")
        self.pos += 3
        return _MONTHS[word]

    def _fixed_digits(self, n: int) -> int:
        chunk = self.text[self.pos : self.pos + n]
        if len(chunk) != n or not chunk.isdigit():
            raise self.fail("Invalid date-time")
        self.pos += n
        return int(chunk)

    def date_time(self) -> dt.datetime:
        """``"dd-Mon-yyyy hh:mm:ss +zzzz"`` (RFC 9051 §9 date-time; day may be `` d``)."""
        self.char(b'"')
        if self.maybe_char(b" "):
            day = self._fixed_digits(1)
        else:
            day = self.number(maximum=99)
        self.char(b"-")
        month = self._month()
        self.char(b"-")
        year = self._fixed_digits(4)
        self.char(b" ")
        hour = self._fixed_digits(2)
        self.char(b":")
        minute = self._fixed_digits(2)
        self.char(b":")
        second = self._fixed_digits(2)
        self.char(b" ")
        sign = self.text[self.pos : self.pos + 1]
        if sign not in (b"+", b"-"):
            raise self.fail("Invalid time zone")
        self.pos += 1
        zone = self._fixed_digits(4)
        self.char(b'"')
        if zone % 100 > 59:
            raise self.fail("Invalid time zone")
        offset = dt.timedelta(hours=zone // 100, minutes=zone % 100)
        try:
            tz = dt.timezone(-offset if sign == b"-" else offset)
            return dt.datetime(year, month, day, hour, minute, second, tzinfo=tz)
        except ValueError:
            raise self.fail("Invalid date-time") from None


# One command's argument grammar: the reader after the command name -> the command.
Handler = Callable[[Reader], C.Command]
# The same for commands that have a UID form (the flag says which was sent).
UidHandler = Callable[[Reader, bool], C.Command]
