"""Response encoding (RFC 9051 §7 and the formal syntax of §9).

Every function returns complete bytes, CRLF included where a line ends.  Strings are written as
quoted strings when that is safe and as literals otherwise, so the output is always parseable by a
strict client:

- a quoted string holds at most :data:`QUOTED_MAX` octets, no NUL, CR or LF, and 8-bit octets only
  when they are valid UTF-8 and the session may receive UTF-8 (IMAP4rev2 / UTF8=ACCEPT);
- ``"`` and ``\\`` are escaped with ``\\`` (RFC 9051 §4.3);
- everything else goes as a literal ``{n}`` (``~{n}`` for ``Literal(binary=True)``, RFC 3516);
  a NUL, which only a literal8 may carry, goes as 0x80 in a literal.

Free-form response text is sanitised: CR, LF and NUL become spaces, and text cannot start with
``[`` when no response code precedes it (it would be read as one).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal as TLiteral

from .values import Atom, Literal, Raw, Value

__all__ = [
    "QUOTED_MAX",
    "ResponseCode",
    "Status",
    "continuation",
    "continuation_data",
    "encode_value",
    "format_sequence_set",
    "tagged",
    "untagged",
    "untagged_status",
]

QUOTED_MAX = 1000
"""Longest string (in octets) still written as a quoted string."""

CRLF = b"\r\n"
Status = TLiteral["OK", "NO", "BAD", "PREAUTH", "BYE"]
_STATUSES = frozenset({"OK", "NO", "BAD", "PREAUTH", "BYE"})
_TEXT_UNSAFE = re.compile(r"[\x00\r\n]")
_CODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*\Z")
# Octets that force a literal regardless of UTF-8 permission.
_NEVER_QUOTED = re.compile(rb"[\x00\r\n]")


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """``[NAME arg ...]``: ``ResponseCode("APPENDUID", (38505, Atom("3955")))``.

    Arguments are values written with :func:`encode_value` and separated by spaces; a sequence
    set goes as an :class:`Atom` (see :func:`format_sequence_set`).
    """

    name: str
    args: tuple[Value, ...] = ()


def _is_quotable(data: bytes, utf8: bool) -> bool:
    if len(data) > QUOTED_MAX or _NEVER_QUOTED.search(data):
        return False
    if data.isascii():
        return True
    if not utf8:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _quote(data: bytes) -> bytes:
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _literal(data: bytes, binary: bool = False) -> bytes:
    if binary:
        return b"~{%d}\r\n" % len(data) + data
    # RFC 9051 §4.3.1 / RFC 3501 §4.3: a literal cannot hold NUL; only a literal8 may (RFC 3516
    # §4.2).  As Dovecot does, each NUL goes as 0x80, so the size is unchanged (what
    # RFC822.SIZE announced is what is sent).
    if b"\0" in data:
        data = data.replace(b"\0", b"\x80")
    return b"{%d}\r\n" % len(data) + data


def encode_string(data: bytes | str, *, utf8: bool = False) -> bytes:
    """A string as a quoted string when safe, else as a literal."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return _quote(raw) if _is_quotable(raw, utf8) else _literal(raw)


def encode_value(value: Value, *, utf8: bool = False) -> bytes:
    """Encode one value (see :mod:`protocols.imap.values`)."""
    if value is None:
        return b"NIL"
    if isinstance(value, bool):  # bool is an int: refuse the ambiguity loudly
        raise TypeError("bool is not an IMAP value")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"IMAP numbers are unsigned: {value}")
        return b"%d" % value
    if isinstance(value, str | bytes):
        return encode_string(value, utf8=utf8)
    if isinstance(value, Atom):
        return _safe_atom(value.text)
    if isinstance(value, Literal):
        return _literal(value.data, value.binary)
    if isinstance(value, Raw):
        return value.data
    if isinstance(value, list | tuple):
        return b"(" + b" ".join(encode_value(v, utf8=utf8) for v in value) + b")"
    raise TypeError(f"not an IMAP value: {type(value).__name__}")


def _safe_atom(text: str) -> bytes:
    data = text.encode("utf-8")
    if _NEVER_QUOTED.search(data):
        raise ValueError(f"atom with a line break or NUL: {text!r}")
    return data


def _sanitise_text(text: str) -> str:
    return _TEXT_UNSAFE.sub(" ", text)


def encode_code(code: ResponseCode | str) -> bytes:
    """``[NAME args]``.  A ``str`` code is written as is (``"TOOBIG"``, ``"BADCHARSET (X)"``)."""
    if isinstance(code, str):
        text = _sanitise_text(code).replace("]", " ").strip()
        if not text or not _CODE_NAME.match(text.split(" ", 1)[0]):
            raise ValueError(f"bad response code: {code!r}")
        return b"[" + text.encode("utf-8") + b"]"
    if not _CODE_NAME.match(code.name):
        raise ValueError(f"bad response code name: {code.name!r}")
    parts = [code.name.encode("ascii")]
    parts.extend(encode_value(arg) for arg in code.args)
    return b"[" + b" ".join(parts) + b"]"


def _resp_text(text: str, code: ResponseCode | str | None, default: str) -> bytes:
    clean = _sanitise_text(text).strip(" ") or default
    if code is None:
        if clean.startswith("["):
            clean = "(" + clean[1:]
        return clean.encode("utf-8")
    return encode_code(code) + b" " + clean.encode("utf-8")


def tagged(tag: str, status: str, text: str, code: ResponseCode | str | None = None) -> bytes:
    """``tag status [code] text CRLF`` (RFC 9051 §7.1).  Tag ``"*"`` gives an untagged line."""
    if status not in _STATUSES:
        raise ValueError(f"not a response status: {status!r}")
    if not tag or _TEXT_UNSAFE.search(tag) or " " in tag:
        raise ValueError(f"bad tag: {tag!r}")
    head = tag.encode("ascii") + b" " + status.encode() + b" "
    return head + _resp_text(text, code, status) + CRLF


def untagged_status(status: str, text: str, code: ResponseCode | str | None = None) -> bytes:
    """``* OK [code] text CRLF`` (also NO, BAD, PREAUTH, BYE)."""
    return tagged("*", status, text, code)


def untagged(*values: Value, utf8: bool = False) -> bytes:
    """``* v1 v2 ... CRLF``: ``untagged(3, Atom("EXISTS"))``, ``untagged(Atom("LIST"), ...)``."""
    return b"* " + b" ".join(encode_value(v, utf8=utf8) for v in values) + CRLF


def continuation(text: str = "Ready") -> bytes:
    """``+ text CRLF`` (RFC 9051 §7.5)."""
    return b"+ " + _sanitise_text(text).encode("utf-8") + CRLF


def continuation_data(data: bytes) -> bytes:
    """A SASL challenge: ``+ base64 CRLF`` (RFC 9051 §6.2.2); an empty challenge is ``+ ``."""
    return b"+ " + base64.b64encode(data) + CRLF


def format_sequence_set(numbers: Iterable[int]) -> str:
    """Compress numbers into runs: ``[1, 2, 3, 5, 7, 8, 9]`` -> ``"1:3,5,7:9"``.

    Duplicates are dropped and the numbers are sorted.  An empty input gives ``""`` (which is not
    a valid sequence set: callers omit the item instead).
    """
    ordered = sorted(set(numbers))
    if ordered and ordered[0] < 1:
        raise ValueError("sequence numbers and UIDs start at 1")
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        start = end = ordered[i]
        while i + 1 < len(ordered) and ordered[i + 1] == end + 1:
            i += 1
            end = ordered[i]
        parts.append(str(start) if start == end else f"{start}:{end}")
        i += 1
    return ",".join(parts)


def format_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    """Ranges kept in the given order (COPYUID pairs source and destination UIDs by position)."""
    return ",".join(str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in ranges)
