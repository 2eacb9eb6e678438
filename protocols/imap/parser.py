"""IMAP command parser: :class:`~protocols.imap.framing.Frame` -> command AST.

Follows the formal syntax of RFC 9051 §9 and of the extensions listed in
:mod:`protocols.imap.commands`.  Command names and keywords are case-insensitive (RFC 9051 §9
note 1); spacing is strict (exactly one SP between items).  Anything malformed raises
:class:`ImapParseError` carrying the tag (``"*"`` when the tag itself is unreadable); nothing else
is ever raised for client input.

Literals arrive from the framer as separate pieces; the parser joins the text segments with a NUL
placeholder where each literal was (NUL is never valid command text, RFC 9051 §4.3).
"""

from __future__ import annotations

import binascii
import codecs
import datetime as dt
import re
from collections.abc import Callable
from typing import TypeVar, cast

from . import commands as C
from . import mutf7
from .errors import ImapParseError
from .framing import Frame, FrameLiteral
from .section import Partial, SectionSpec

__all__ = ["decode_sasl_response", "is_idle_done", "parse_command"]

_PLACEHOLDER = 0x00
# ATOM-CHAR: any CHAR except atom-specials ( ) { SP CTL % * " \ ]  (RFC 9051 §9)
_ATOM = re.compile(rb"[\x21\x23\x24\x26\x27\x2b-\x5b\x5e-\x7a\x7c-\x7e]+")
_ASTRING = re.compile(rb"[\x21\x23\x24\x26\x27\x2b-\x5b\x5d-\x7a\x7c-\x7e]+")  # + "]"
_LIST_CHARS = re.compile(rb"[\x21\x23-\x27\x2a-\x5b\x5d-\x7a\x7c-\x7e]+")  # + "%" "*" "]"
# tag: 1*<any ASTRING-CHAR except "+">
_TAG = re.compile(rb"[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+")
_DIGITS = re.compile(rb"[0-9]+")
_WORD = re.compile(rb"[A-Za-z0-9.\-]+")  # fetch-att and section-text words
_OBJECTID = re.compile(rb"[A-Za-z0-9_\-]{1,255}")  # RFC 8474 §4
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_SYSTEM_FLAGS = {
    f.upper(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent")
}
_SPECIAL_USE = {
    f.upper(): f
    for f in ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
}
_STATUS_ITEMS = frozenset(
    {
        "MESSAGES",
        "UIDNEXT",
        "UIDVALIDITY",
        "UNSEEN",
        "DELETED",
        "SIZE",
        "HIGHESTMODSEQ",
        "RECENT",
        "APPENDLIMIT",
        "MAILBOXID",
    }
)
_SEARCH_RETURN = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE"})
_SORT_KEYS = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)
_THREAD_ALGS = frozenset({"REFERENCES", "ORDEREDSUBJECT", "REFS"})
_LIST_SELECT = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
_SIMPLE_FETCH = frozenset(
    {
        "ENVELOPE",
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "BODYSTRUCTURE",
        "UID",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.TEXT",
        "MODSEQ",
        "EMAILID",
        "THREADID",
        "SAVEDATE",
    }
)
_FETCH_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_FLAG_SEARCH = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "RECENT": ("\\Recent", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
    "UNRECENT": ("\\Recent", False),
    "OLD": ("\\Recent", False),  # rev1: OLD = NOT RECENT
}
_TEXT_SEARCH = frozenset({"BCC", "CC", "FROM", "SUBJECT", "TO", "BODY", "TEXT"})
_DATE_SEARCH = {
    "BEFORE": (False, "BEFORE"),
    "ON": (False, "ON"),
    "SINCE": (False, "SINCE"),
    "SENTBEFORE": (True, "BEFORE"),
    "SENTON": (True, "ON"),
    "SENTSINCE": (True, "SINCE"),
}
_MAX_NUMBER = 0xFFFFFFFF
_MAX_NUMBER64 = 0x7FFFFFFFFFFFFFFF  # RFC 9051 §9 number64
_MAX_DEPTH = 64
_BAD_CHARSET = "BADCHARSET (UTF-8 US-ASCII)"
_CHARSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-:.]{0,39}\Z")
# Python text codecs that are not MIME charsets (escape syntaxes, IDNA, ...).
_NOT_CHARSETS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined", "palmos"}
)
T = TypeVar("T")


def _charset_codec(name: str) -> str | None:
    """The Python codec for a search charset, or None if we cannot decode it."""
    if not _CHARSET_NAME.match(name):
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    # bytes-to-bytes and str-to-str codecs (base64, rot13) are flagged as not text encodings.
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


class _Reader:
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
        if self.peek() != _PLACEHOLDER or self.lit_index >= len(self.literals):
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
        return self.peek() in (0x22, _PLACEHOLDER)

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


# ============================================================================ public API


def parse_command(frame: Frame, *, utf8: bool = False) -> C.AnyCommand:
    """Parse one framed command.  ``utf8``: the session enabled UTF8=ACCEPT (RFC 6855), so
    mailbox names are UTF-8 rather than modified UTF-7."""
    r = _Reader(frame, utf8)
    if r.at_end():
        raise ImapParseError("*", "Empty command")
    m = _TAG.match(r.text, 0)
    if m is None or m.end() < len(r.text) and r.text[m.end()] != 0x20:
        raise ImapParseError("*", "Invalid tag")
    r.tag = m.group().decode("ascii")
    r.pos = m.end()
    if r.raw_nul:
        raise r.fail("NUL octet in command")
    if r.at_end():
        raise r.fail("Missing command")
    r.sp()
    name = r.keyword()
    if name == "UID":
        r.sp()
        sub = r.keyword()
        uid_handler = _UID_COMMANDS.get(sub)
        if uid_handler is None:
            raise r.fail(f"Unknown UID command {sub}")
        command = uid_handler(r, True)
    else:
        handler = _COMMANDS.get(name)
        if handler is None:
            raise r.fail(f"Unknown command {name[:40]}")
        command = handler(r)
    r.end()
    if r.lit_index != len(r.literals):
        raise r.fail("Unexpected literal")
    return cast(C.AnyCommand, command)


def decode_sasl_response(line: bytes, tag: str) -> bytes | None:
    """A client's AUTHENTICATE continuation line: None for ``*`` (cancel, RFC 9051 §6.2.2),
    else the decoded octets (an empty line or ``=`` is empty)."""
    if line == b"*":
        return None
    if line in (b"", b"="):
        return b""
    if not _BASE64.match(line):
        raise ImapParseError(tag, "Invalid base64 in SASL response")
    try:
        return binascii.a2b_base64(line, strict_mode=True)
    except binascii.Error:
        raise ImapParseError(tag, "Invalid base64 in SASL response") from None


def is_idle_done(line: bytes) -> bool:
    """IDLE ends with ``DONE`` (RFC 9051 §6.3.13; case-insensitive like every keyword)."""
    return line.upper() == b"DONE"


# ============================================================================ commands


def _no_args(cls: type[C.Command]) -> Callable[[_Reader], C.Command]:
    def handler(r: _Reader) -> C.Command:
        return cls(r.tag)

    return handler


def _authenticate(r: _Reader) -> C.Authenticate:
    r.sp()
    mechanism = r.keyword()
    initial: bytes | None = None
    if r.maybe_sp():
        start = r.pos
        r.pos = len(r.text)
        initial = decode_sasl_response(r.text[start:], r.tag)
        if initial is None:
            raise r.fail("Invalid initial response")
    return C.Authenticate(r.tag, mechanism, initial)


def _login(r: _Reader) -> C.Login:
    r.sp()
    user = r.astring()
    r.sp()
    password = r.astring()
    return C.Login(r.tag, user, password)


def _enable(r: _Reader) -> C.Enable:
    caps: list[str] = []
    r.sp()
    caps.append(r.keyword())
    while r.maybe_sp():
        caps.append(r.keyword())
    return C.Enable(r.tag, tuple(caps))


def _select(r: _Reader, readonly: bool) -> C.Select:
    r.sp()
    mailbox = r.mailbox()
    condstore = False
    qresync: C.QResync | None = None
    if r.maybe_sp():
        r.char(b"(")
        while True:
            param = r.keyword()
            if param == "CONDSTORE" and not condstore:
                condstore = True
            elif param == "QRESYNC" and qresync is None:
                r.sp()
                qresync = _qresync(r)
            else:
                raise r.fail(f"Unknown or repeated SELECT parameter {param[:40]}")
            if r.maybe_char(b")"):
                break
            r.sp()
    return C.Select(r.tag, mailbox, readonly, condstore, qresync)


def _qresync(r: _Reader) -> C.QResync:
    # RFC 7162 §7: "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
    r.char(b"(")
    uidvalidity = r.number(nonzero=True)
    r.sp()
    modseq = r.number64(nonzero=True)
    known: C.SequenceSet | None = None
    match: tuple[C.SequenceSet, C.SequenceSet] | None = None
    if r.maybe_sp():
        if r.peek() != ord("("):
            known = r.sequence_set()
            if known.saved:
                raise r.fail("$ is not allowed in QRESYNC")
            if r.maybe_sp():
                match = _seq_match(r)
        else:
            match = _seq_match(r)
    r.char(b")")
    return C.QResync(uidvalidity, modseq, known, match)


def _seq_match(r: _Reader) -> tuple[C.SequenceSet, C.SequenceSet]:
    r.char(b"(")
    seqs = r.sequence_set()
    r.sp()
    uids = r.sequence_set()
    r.char(b")")
    if seqs.saved or uids.saved:
        raise r.fail("$ is not allowed in QRESYNC")
    return seqs, uids


def _create(r: _Reader) -> C.Create:
    r.sp()
    mailbox = r.mailbox()
    uses: tuple[str, ...] = ()
    if r.maybe_sp():
        r.char(b"(")
        while True:
            param = r.keyword()
            if param != "USE":
                raise r.fail(f"Unknown CREATE parameter {param[:40]}")
            r.sp()

            def use_attr() -> str:
                # An unknown attribute is well-formed: the handler answers NO [USEATTR]
                # (RFC 6154 §3), so it is passed through rather than refused here.
                flag = r.flag()
                return _SPECIAL_USE.get(flag.upper(), flag)

            uses += tuple(r.paren_list(use_attr))
            if r.maybe_char(b")"):
                break
            r.sp()
    return C.Create(r.tag, mailbox, uses)


def _one_mailbox(
    cls: type[C.Delete | C.Subscribe | C.Unsubscribe],
) -> Callable[[_Reader], C.Command]:
    def handler(r: _Reader) -> C.Command:
        r.sp()
        return cls(r.tag, r.mailbox())

    return handler


def _rename(r: _Reader) -> C.Rename:
    r.sp()
    old = r.mailbox()
    r.sp()
    return C.Rename(r.tag, old, r.mailbox())


def _status_items(r: _Reader) -> tuple[str, ...]:
    def item() -> str:
        name = r.keyword()
        if name not in _STATUS_ITEMS:
            raise r.fail(f"Unknown STATUS item {name[:40]}")
        return name

    return tuple(r.paren_list(item, allow_empty=False))


def _list(r: _Reader) -> C.List:
    r.sp()
    selection: set[str] = set()
    extended = False
    if r.peek() == ord("("):
        extended = True

        def select_opt() -> str:
            opt = r.keyword()
            if opt not in _LIST_SELECT:
                raise r.fail(f"Unknown LIST selection option {opt[:40]}")
            return opt

        selection = set(r.paren_list(select_opt))
        # RFC 5258 §3.1: RECURSIVEMATCH needs another option that it modifies.
        if "RECURSIVEMATCH" in selection and not selection - {"RECURSIVEMATCH", "REMOTE"}:
            raise r.fail("RECURSIVEMATCH needs another selection option")
        r.sp()
    reference = r.mailbox_text(r.astring())
    r.sp()
    if r.peek() == ord("("):
        extended = True
        patterns = tuple(r.paren_list(r.list_mailbox, allow_empty=False))
    else:
        patterns = (r.list_mailbox(),)
    returns = C.ListReturn()
    if r.maybe_sp():
        if r.keyword() != "RETURN":
            raise r.fail("Expected RETURN")
        extended = True
        r.sp()
        returns = _list_return(r)
    return C.List(r.tag, reference, patterns, frozenset(selection), returns, extended)


def _list_return(r: _Reader) -> C.ListReturn:
    subscribed = children = special_use = False
    status: tuple[str, ...] | None = None

    def option() -> None:
        nonlocal subscribed, children, special_use, status
        opt = r.keyword()
        if opt == "SUBSCRIBED":
            subscribed = True
        elif opt == "CHILDREN":
            children = True
        elif opt == "SPECIAL-USE":
            special_use = True
        elif opt == "STATUS" and status is None:  # RFC 5819 §2
            r.sp()
            status = _status_items(r)
        else:
            raise r.fail(f"Unknown LIST return option {opt[:40]}")

    r.paren_list(option)
    return C.ListReturn(subscribed, children, special_use, status)


def _lsub(r: _Reader) -> C.Lsub:
    r.sp()
    reference = r.mailbox_text(r.astring())
    r.sp()
    return C.Lsub(r.tag, reference, r.list_mailbox())


def _status(r: _Reader) -> C.Status:
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return C.Status(r.tag, mailbox, _status_items(r))


def _append(r: _Reader) -> C.Append:
    r.sp()
    mailbox = r.mailbox()
    messages: list[C.AppendMessage] = []
    while True:
        r.sp()
        flags: tuple[str, ...] = ()
        date_time: dt.datetime | None = None
        if r.peek() == ord("("):
            flags = r.flag_list()
            r.sp()
        if r.peek() == ord('"'):
            date_time = r.date_time()
            r.sp()
        utf8 = False
        if r.peek() == _PLACEHOLDER:
            lit = r.literal(allow_binary=True)
        else:
            if r.keyword() != "UTF8":
                raise r.fail("Expected a literal")
            r.sp()  # RFC 6855 §4: "UTF8" SP "(" literal8 ")"
            r.char(b"(")
            lit = r.literal(allow_binary=True)
            r.char(b")")
            utf8 = True
        messages.append(C.AppendMessage(lit.data, flags, date_time, lit.binary, utf8))
        if r.at_end():
            return C.Append(r.tag, mailbox, tuple(messages))


def _expunge(r: _Reader, uid: bool = False) -> C.Expunge:
    if not uid:
        return C.Expunge(r.tag)
    r.sp()
    return C.Expunge(r.tag, r.sequence_set())


# ---------------------------------------------------------------------------- SEARCH


def _charset(r: _Reader) -> str:
    name = r.decode(r.astring_bytes(), "ascii").upper()
    codec = _charset_codec(name)
    if codec is None:
        # RFC 9051 §6.4.4: an unsupported charset is answered NO [BADCHARSET].
        raise ImapParseError(r.tag, "Unsupported charset", _BAD_CHARSET, status="NO")
    r.charset = codec
    return name


def _search_keys(r: _Reader) -> C.SearchKey:
    """``1*(SP search-key)`` after the command's options; several keys are ANDed."""
    keys = [_search_key(r)]
    while r.maybe_sp():
        keys.append(_search_key(r))
    return keys[0] if len(keys) == 1 else C.SearchAnd(tuple(keys))


def _search_key(r: _Reader) -> C.SearchKey:
    r.depth += 1
    if r.depth > _MAX_DEPTH:
        raise r.fail("Search criteria nested too deeply")
    try:
        return _search_key_inner(r)
    finally:
        r.depth -= 1


def _search_key_inner(r: _Reader) -> C.SearchKey:
    c = r.peek()
    if c == ord("("):
        r.pos += 1
        keys = [_search_key(r)]
        while not r.maybe_char(b")"):
            r.sp()
            keys.append(_search_key(r))
        return keys[0] if len(keys) == 1 else C.SearchAnd(tuple(keys))
    if c in (ord("*"), ord("$")) or ord("0") <= c <= ord("9"):
        return C.SearchSeq(r.sequence_set())
    name = r.keyword()
    if name == "ALL":
        return C.SearchAll()
    if name in _FLAG_SEARCH:
        flag, present = _FLAG_SEARCH[name]
        return C.SearchFlag(flag, present)
    if name == "NEW":  # rev1: RECENT UNSEEN
        return C.SearchAnd((C.SearchFlag("\\Recent"), C.SearchFlag("\\Seen", False)))
    if name in ("KEYWORD", "UNKEYWORD"):
        r.sp()
        return C.SearchFlag(r.flag(), name == "KEYWORD")
    if name in _TEXT_SEARCH:
        r.sp()
        return C.SearchText(name, r.search_string())  # type: ignore[arg-type]
    if name == "HEADER":
        r.sp()
        field = r.astring().upper()
        r.sp()
        return C.SearchHeader(field, r.search_string())
    if name in _DATE_SEARCH:
        sent, op = _DATE_SEARCH[name]
        r.sp()
        return C.SearchDate(sent, op, r.date())  # type: ignore[arg-type]
    if name in ("LARGER", "SMALLER"):
        r.sp()
        return C.SearchSize(name, r.number64())  # type: ignore[arg-type]
    if name == "NOT":
        r.sp()
        return C.SearchNot(_search_key(r))
    if name == "OR":
        r.sp()
        left = _search_key(r)
        r.sp()
        return C.SearchOr(left, _search_key(r))
    if name == "UID":
        r.sp()
        return C.SearchSeq(r.sequence_set(), uid=True)
    if name == "MODSEQ":
        return _search_modseq(r)
    if name in ("OLDER", "YOUNGER"):
        r.sp()
        return C.SearchAge(name, r.number(nonzero=True))  # type: ignore[arg-type]
    if name in ("EMAILID", "THREADID"):
        r.sp()
        oid = r._match(_OBJECTID, "an object id").decode("ascii")
        return C.SearchObjectId(name, oid)  # type: ignore[arg-type]
    raise r.fail(f"Unknown search key {name[:40]}")


def _search_modseq(r: _Reader) -> C.SearchModSeq:
    # RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
    r.sp()
    entry: str | None = None
    entry_type: str | None = None
    if r.peek() == ord('"'):
        entry = r.decode(r.quoted())
        if not entry.lower().startswith("/flags/") or len(entry) <= 7:
            raise r.fail("Invalid MODSEQ entry name")
        r.sp()
        entry_type = r.keyword()
        if entry_type not in ("PRIV", "SHARED", "ALL"):
            raise r.fail("Invalid MODSEQ entry type")
        r.sp()
    return C.SearchModSeq(r.number64(), entry, entry_type)  # type: ignore[arg-type]


def _search(r: _Reader, uid: bool = False) -> C.Search:
    r.sp()
    return_options: tuple[str, ...] | None = None
    charset: str | None = None
    if r.peek_keyword() == "RETURN":
        r.keyword()
        r.sp()

        def option() -> str:
            opt = r.keyword()
            if opt not in _SEARCH_RETURN:
                raise r.fail(f"Unknown SEARCH return option {opt[:40]}")
            return opt

        return_options = tuple(dict.fromkeys(r.paren_list(option)))
        r.sp()
    if r.peek_keyword() == "CHARSET":
        r.keyword()
        r.sp()
        charset = _charset(r)
        r.sp()
    return C.Search(r.tag, _search_keys(r), uid, charset, return_options)


def _sort(r: _Reader, uid: bool = False) -> C.Sort:
    r.sp()

    def criterion() -> C.SortCriterion:
        key = r.keyword()
        reverse = key == "REVERSE"
        if reverse:
            r.sp()
            key = r.keyword()
        if key not in _SORT_KEYS:
            raise r.fail(f"Unknown sort key {key[:40]}")
        return C.SortCriterion(key, reverse)

    criteria = tuple(r.paren_list(criterion, allow_empty=False))
    r.sp()
    charset = _charset(r)
    r.sp()
    return C.Sort(r.tag, criteria, charset, _search_keys(r), uid)


def _thread(r: _Reader, uid: bool = False) -> C.Thread:
    r.sp()
    algorithm = r.keyword()
    if algorithm not in _THREAD_ALGS:
        raise r.fail(f"Unknown threading algorithm {algorithm[:40]}")
    r.sp()
    charset = _charset(r)
    r.sp()
    return C.Thread(r.tag, algorithm, charset, _search_keys(r), uid)


# ---------------------------------------------------------------------------- FETCH / STORE


def _fetch(r: _Reader, uid: bool = False) -> C.Fetch:
    r.sp()
    seqset = r.sequence_set()
    r.sp()
    items: list[C.FetchItem]
    if r.peek() == ord("("):
        items = r.paren_list(lambda: _fetch_att(r), allow_empty=False)
    else:
        save = r.pos
        word = r.word()
        if word in _FETCH_MACROS:
            items = [C.FetchItem(n) for n in _FETCH_MACROS[word]]
        else:
            r.pos = save
            items = [_fetch_att(r)]
    changed_since: int | None = None
    vanished = False
    if r.maybe_sp():
        r.char(b"(")
        while True:
            mod = r.keyword()
            if mod == "CHANGEDSINCE" and changed_since is None:
                r.sp()
                changed_since = r.number64()
            elif mod == "VANISHED" and not vanished:
                vanished = True
            else:
                raise r.fail(f"Unknown or repeated FETCH modifier {mod[:40]}")
            if r.maybe_char(b")"):
                break
            r.sp()
    if vanished and (not uid or changed_since is None):
        # RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only with CHANGEDSINCE.
        raise r.fail("VANISHED requires UID FETCH with CHANGEDSINCE")
    return C.Fetch(r.tag, seqset, tuple(items), uid, changed_since, vanished)


def _fetch_att(r: _Reader) -> C.FetchItem:
    name = r.word()
    if name in _SIMPLE_FETCH:
        return C.FetchItem(name)
    if name in ("BODY", "BODY.PEEK"):
        if r.peek() != ord("["):
            if name == "BODY.PEEK":
                raise r.fail("BODY.PEEK needs a section")
            return C.FetchItem("BODY")
        section = _section(r)
        return C.FetchItem("BODY", section, _partial(r), peek=name == "BODY.PEEK")
    if name in ("BINARY", "BINARY.PEEK", "BINARY.SIZE"):
        section = _binary_section(r)
        if name == "BINARY.SIZE":
            return C.FetchItem(name, section)
        return C.FetchItem("BINARY", section, _partial(r), peek=name == "BINARY.PEEK")
    if name == "PREVIEW":
        lazy = False
        # RFC 8970 §3.1: "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]
        if r.text.startswith(b" (", r.pos) and r.text[r.pos + 2 : r.pos + 6].upper() == b"LAZY":
            r.sp()
            r.char(b"(")
            while True:
                if r.keyword() != "LAZY":
                    raise r.fail("Unknown PREVIEW modifier")
                lazy = True
                if r.maybe_char(b")"):
                    break
                r.sp()
        return C.FetchItem("PREVIEW", lazy=lazy)
    raise r.fail(f"Unknown fetch attribute {name[:40]}")


def _section_part(r: _Reader) -> tuple[int, ...]:
    parts = [r.number(nonzero=True)]
    while r.text.startswith(b".", r.pos) and r.text[r.pos + 1 : r.pos + 2].isdigit():
        r.pos += 1
        parts.append(r.number(nonzero=True))
    return tuple(parts)


def _section(r: _Reader) -> SectionSpec:
    # RFC 9051 §9: section = "[" [section-spec] "]"
    r.char(b"[")
    if r.maybe_char(b"]"):
        return SectionSpec()
    part: tuple[int, ...] = ()
    if r.peek() in range(ord("0"), ord("9") + 1):
        part = _section_part(r)
        if r.maybe_char(b"]"):
            return SectionSpec(part)
        r.char(b".")
    text = r.word()
    fields: tuple[str, ...] = ()
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        r.sp()
        fields = tuple(f.upper() for f in r.paren_list(r.astring, allow_empty=False))
    elif text == "MIME":
        if not part:
            raise r.fail("MIME needs a part number")
    elif text not in ("HEADER", "TEXT"):
        raise r.fail(f"Invalid section {text[:40]}")
    r.char(b"]")
    return SectionSpec(part, text, fields)


def _binary_section(r: _Reader) -> SectionSpec:
    # RFC 3516 §4.2: section-binary = "[" [section-part] "]"
    r.char(b"[")
    if r.maybe_char(b"]"):
        return SectionSpec()
    part = _section_part(r)
    r.char(b"]")
    return SectionSpec(part)


def _partial(r: _Reader) -> Partial | None:
    if not r.maybe_char(b"<"):
        return None
    offset = r.number64()
    r.char(b".")
    length = r.number64(nonzero=True)
    r.char(b">")
    return Partial(offset, length)


def _store(r: _Reader, uid: bool = False) -> C.Store:
    r.sp()
    seqset = r.sequence_set()
    r.sp()
    unchanged_since: int | None = None
    if r.peek() == ord("("):
        # RFC 7162 §3.1.3: store-modifier "UNCHANGEDSINCE" SP mod-sequence-valzer
        r.pos += 1
        if r.keyword() != "UNCHANGEDSINCE":
            raise r.fail("Unknown STORE modifier")
        r.sp()
        unchanged_since = r.number64()
        r.char(b")")
        r.sp()
    mode = "SET"
    if r.maybe_char(b"+"):
        mode = "ADD"
    elif r.maybe_char(b"-"):
        mode = "REMOVE"
    word = r.word()
    if word not in ("FLAGS", "FLAGS.SILENT"):
        raise r.fail("Expected FLAGS or FLAGS.SILENT")
    r.sp()
    if r.peek() == ord("("):
        flags = r.flag_list()
    else:
        flag_items = [r.flag()]
        while r.maybe_sp():
            flag_items.append(r.flag())
        flags = tuple(flag_items)
    silent = word == "FLAGS.SILENT"
    return C.Store(r.tag, seqset, mode, flags, silent, uid, unchanged_since)  # type: ignore[arg-type]


def _copy_like(cls: type[C.Copy | C.Move]) -> Callable[[_Reader, bool], C.Command]:
    def handler(r: _Reader, uid: bool = False) -> C.Command:
        r.sp()
        seqset = r.sequence_set()
        r.sp()
        return cls(r.tag, seqset, r.mailbox(), uid)

    return handler


# ---------------------------------------------------------------------------- the rest


def _getquota(r: _Reader) -> C.GetQuota:
    r.sp()
    return C.GetQuota(r.tag, r.astring())


def _getquotaroot(r: _Reader) -> C.GetQuotaRoot:
    r.sp()
    return C.GetQuotaRoot(r.tag, r.mailbox())


def _setquota(r: _Reader) -> C.SetQuota:
    r.sp()
    root = r.astring()
    r.sp()

    def resource() -> tuple[str, int]:
        name = r.keyword()
        r.sp()
        return name, r.number64()

    limits = tuple(r.paren_list(resource))
    return C.SetQuota(r.tag, root, limits)


def _id(r: _Reader) -> C.Id:
    r.sp()
    if r.peek() != ord("("):
        if r.keyword() != "NIL":
            raise r.fail("Expected a parameter list or NIL")
        return C.Id(r.tag, None)

    def pair() -> tuple[str, str | None]:
        key = r.string()
        r.sp()
        return key, r.nstring()

    params = tuple(r.paren_list(pair))
    if len(params) > 30:  # RFC 2971 §3.3
        raise r.fail("Too many ID parameters")
    return C.Id(r.tag, params)


def _compress(r: _Reader) -> C.Compress:
    r.sp()
    return C.Compress(r.tag, r.keyword())


_copy = _copy_like(C.Copy)
_move = _copy_like(C.Move)
_Handler = Callable[[_Reader], C.Command]
_COMMANDS: dict[str, _Handler] = {
    "CAPABILITY": _no_args(C.Capability),
    "NOOP": _no_args(C.Noop),
    "LOGOUT": _no_args(C.Logout),
    "STARTTLS": _no_args(C.StartTls),
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "ENABLE": _enable,
    "SELECT": lambda r: _select(r, False),
    "EXAMINE": lambda r: _select(r, True),
    "CREATE": _create,
    "DELETE": _one_mailbox(C.Delete),
    "RENAME": _rename,
    "SUBSCRIBE": _one_mailbox(C.Subscribe),
    "UNSUBSCRIBE": _one_mailbox(C.Unsubscribe),
    "LIST": _list,
    "LSUB": _lsub,
    "NAMESPACE": _no_args(C.Namespace),
    "STATUS": _status,
    "APPEND": _append,
    "IDLE": _no_args(C.Idle),
    "CHECK": _no_args(C.Check),
    "CLOSE": _no_args(C.Close),
    "UNSELECT": _no_args(C.Unselect),
    "EXPUNGE": _expunge,
    "SEARCH": _search,
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": lambda r: _copy(r, False),
    "MOVE": lambda r: _move(r, False),
    "SORT": _sort,
    "THREAD": _thread,
    "GETQUOTA": _getquota,
    "GETQUOTAROOT": _getquotaroot,
    "SETQUOTA": _setquota,
    "ID": _id,
    "COMPRESS": _compress,
}
_UID_COMMANDS: dict[str, Callable[[_Reader, bool], C.Command]] = {
    "COPY": _copy,
    "MOVE": _move,
    "FETCH": _fetch,
    "STORE": _store,
    "SEARCH": _search,
    "EXPUNGE": _expunge,
    "SORT": _sort,
    "THREAD": _thread,
}
