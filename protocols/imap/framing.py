"""IMAP command framing: lines and literals with hard limits, sans-IO (h11-style).

Usage::

    framer = ImapFramer(FramingLimits())
    while True:
        frame = framer.next_frame()
        send(framer.data_to_send())          # "+ Ready for literal data" continuations
        if frame is NEED_DATA:
            framer.receive_data(recv())      # b"" means EOF
        elif frame is CLOSED:
            break
        elif isinstance(frame, FrameError):  # answer frame.to_bytes(); the framer is in sync
            ...
        else:                                # Frame (or LineFrame after expect_line())
            ...

A :class:`Frame` is one complete command: its text (CRLF and literal markers removed) split into
segments around the literals it carries, ``pieces = (text, FrameLiteral, text, ..., text)`` --
always text first and last, literals between.

Literals (RFC 9051 §4.3, RFC 7888, RFC 3516):

- ``{n}`` synchronising: the framer queues ``+ Ready for literal data`` (RFC 9051 §7.5) in
  :meth:`ImapFramer.data_to_send` and then reads *n* octets;
- ``{n+}`` non-synchronising (LITERAL+); with ``FramingLimits.literal_minus`` only up to 4096
  octets (LITERAL-, RFC 7888 §5), larger ones are refused with ``BAD [TOOBIG]``;
- ``~{n}`` / ``~{n+}`` literal8 (BINARY, RFC 3516).

Limits and recovery: the command text (everything but literal data) is capped by
``max_line_length``, each literal by ``max_literal_size`` and the whole command by
``max_command_size``.  A breach produces a :class:`FrameError` carrying the tag (``NO [TOOBIG]``
for a literal of APPEND, as with RFC 7889's APPENDLIMIT, else ``BAD [TOOBIG]``); the framer then
skips the rest of the command and stays in sync.  For a synchronising literal the client waits for
``+``: the error is sent instead and the command is over (RFC 9051 §7.5, RFC 7888 §4).  For a
non-synchronising one the client sends the octets anyway: they are counted off and dropped,
along with the rest of the command line.

``expect_line()`` makes the next frame a raw :class:`LineFrame` (AUTHENTICATE continuation
responses, IDLE's ``DONE``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Literal as TLiteral

from .serializer import continuation, tagged

__all__ = [
    "CLOSED",
    "NEED_DATA",
    "Frame",
    "FrameError",
    "FrameLiteral",
    "FramingLimits",
    "ImapFramer",
    "LineFrame",
]

LITERAL_MINUS_MAX = 4096  # RFC 7888 §5
_MARKER = re.compile(rb"(~?)\{([0-9]+)(\+?)\}\r?\Z")
_TAG_CHARS = re.compile(rb"[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+\Z")
_MAX_DIGITS = 18
_TAIL = 64  # bytes of a discarded line kept to find a trailing literal marker


class _Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"
    CLOSED = "CLOSED"

    def __repr__(self) -> str:
        return self.value


NEED_DATA: TLiteral[_Sentinel.NEED_DATA] = _Sentinel.NEED_DATA
"""More bytes are needed before the next frame."""
CLOSED: TLiteral[_Sentinel.CLOSED] = _Sentinel.CLOSED
"""EOF was received and no complete frame is left (a partial command is dropped)."""


@dataclass(frozen=True, slots=True)
class FramingLimits:
    max_line_length: int = 64 * 1024  # octets of command text, literal data excluded
    max_literal_size: int = 64 * 1024 * 1024
    max_command_size: int = 256 * 1024 * 1024  # text + all literals of one command
    literal_minus: bool = False  # LITERAL- instead of LITERAL+ (RFC 7888 §5)


@dataclass(frozen=True, slots=True)
class FrameLiteral:
    data: bytes
    binary: bool = False  # literal8, ``~{n}``
    synchronizing: bool = True


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete command: ``(text, FrameLiteral, text, ...)``."""

    pieces: tuple[bytes | FrameLiteral, ...]

    @property
    def literals(self) -> tuple[FrameLiteral, ...]:
        return tuple(p for p in self.pieces if isinstance(p, FrameLiteral))


@dataclass(frozen=True, slots=True)
class LineFrame:
    """A raw line read in :meth:`ImapFramer.expect_line` mode (CRLF removed)."""

    line: bytes


@dataclass(frozen=True, slots=True)
class FrameError:
    """A command the framer refused; the reply is :meth:`to_bytes`."""

    tag: str  # "*" when unknown
    status: TLiteral["BAD", "NO"]
    code: str | None
    text: str

    def to_bytes(self) -> bytes:
        return tagged(self.tag, self.status, self.text, self.code)


FrameEvent = Frame | LineFrame | FrameError | _Sentinel


class _Mode(enum.Enum):
    LINE = "line"  # reading command text up to LF
    LITERAL = "literal"  # reading literal octets
    SKIP = "skip"  # dropping the octets of a refused non-synchronising literal
    DISCARD = "discard"  # dropping the rest of a refused command line


def _tag_and_name(text: bytes) -> tuple[str, str]:
    """Best-effort tag and command name of a (possibly partial) command, for error replies."""
    head = text[:200].split(b" ", 2)
    tag = "*"
    if head and head[0] and _TAG_CHARS.match(head[0]):
        tag = head[0].decode("ascii")
    name = head[1].upper().decode("ascii", "replace") if len(head) > 1 else ""
    return tag, name


class ImapFramer:
    """Splits the client's byte stream into commands; never raises for peer input."""

    def __init__(self, limits: FramingLimits | None = None) -> None:
        self.limits = limits if limits is not None else FramingLimits()
        self._buf = bytearray()
        self._out = bytearray()
        self._eof = False
        self._mode = _Mode.LINE
        self._scan = 0  # bytes of _buf already searched for LF
        self._pieces: list[bytes | FrameLiteral] = []
        self._text_len = 0
        self._total = 0
        self._literal_need = 0
        self._literal_binary = False
        self._literal_sync = True
        self._skip = 0
        self._tail = b""
        self._line_mode = False
        self._line_tag = "*"

    # ------------------------------------------------------------------ bytes in / out

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; ``b""`` signals EOF."""
        if not data:
            self._eof = True
        elif not self._eof:
            self._buf += data

    def data_to_send(self) -> bytes:
        """Continuation requests the server must flush before reading more."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def expect_line(self, tag: str = "*") -> None:
        """The next frame is a raw line (SASL response, ``DONE``).  ``tag`` is used if too long."""
        if self._mode is not _Mode.LINE or self._pieces:
            raise RuntimeError("expect_line() in the middle of a command")
        self._line_mode = True
        self._line_tag = tag

    @property
    def buffered(self) -> int:
        """Octets received and not yet consumed."""
        return len(self._buf)

    @property
    def mid_command(self) -> bool:
        """Part of a command (text, a literal, or octets being skipped) has arrived and its
        end has not: the client is still sending it."""
        return bool(self._buf) or bool(self._pieces) or self._mode is not _Mode.LINE

    # ------------------------------------------------------------------ frames

    def next_frame(self) -> FrameEvent:
        while True:
            if self._mode is _Mode.LITERAL:
                step = self._read_literal()
            elif self._mode is _Mode.SKIP:
                step = self._skip_literal()
            elif self._mode is _Mode.DISCARD:
                step = self._discard_line()
            else:
                step = self._read_line()
            if step is not None:
                return step

    def _starved(self) -> _Sentinel:
        return CLOSED if self._eof else NEED_DATA

    def _reset(self) -> None:
        self._mode = _Mode.LINE
        self._pieces = []
        self._text_len = 0
        self._total = 0

    def _current_tag_and_name(self, line: bytes) -> tuple[str, str]:
        first = self._pieces[0] if self._pieces else line
        assert isinstance(first, bytes)
        return _tag_and_name(first)

    def _read_line(self) -> FrameEvent | None:
        idx = self._buf.find(b"\n", self._scan)
        limit = self.limits.max_line_length
        if idx < 0:
            self._scan = len(self._buf)
            if self._text_len + len(self._buf) > limit + 1:  # +1: a CR may still come
                return self._line_too_long()
            return self._starved()
        line = bytes(self._buf[:idx])
        del self._buf[: idx + 1]
        self._scan = 0
        if line.endswith(b"\r"):
            line = line[:-1]
        if self._text_len + len(line) > limit:
            return self._line_too_long(line)
        if self._line_mode:
            self._line_mode = False
            return LineFrame(line)
        self._text_len += len(line)
        self._total += len(line)
        m = _MARKER.search(line)
        if m is None:
            self._pieces.append(line)
            frame = Frame(tuple(self._pieces))
            self._reset()
            return frame
        binary, digits, plus = m.group(1), m.group(2), m.group(3)
        self._pieces.append(line[: m.start()])
        sync = not plus
        size = int(digits) if len(digits) <= _MAX_DIGITS else None
        tag, name = self._current_tag_and_name(line)
        too_big = (
            size is None
            or size > self.limits.max_literal_size
            or self._total + size > self.limits.max_command_size
            or (not sync and self.limits.literal_minus and size > LITERAL_MINUS_MAX)
        )
        if too_big:
            status: TLiteral["BAD", "NO"] = "NO" if name == "APPEND" else "BAD"
            if not sync and self.limits.literal_minus:
                # RFC 7888 §5: a non-synchronising literal over 4096 octets is a protocol error.
                status = "BAD"
            error = FrameError(tag, status, "TOOBIG", "Literal too large")
            self._reset()
            if not sync:
                # The client sends the octets regardless: drop them, then the rest of the line.
                self._mode = _Mode.SKIP
                self._skip = size if size is not None else 1 << 62
            return error
        self._literal_need = size or 0
        self._literal_binary = bool(binary)
        self._literal_sync = sync
        self._mode = _Mode.LITERAL
        if sync:
            self._out += continuation("Ready for literal data")
        return None

    def _line_too_long(self, line: bytes | None = None) -> FrameEvent:
        if self._line_mode:
            self._line_mode = False
            tag = self._line_tag
        else:
            tag, _ = self._current_tag_and_name(line if line is not None else bytes(self._buf))
        error = FrameError(tag, "BAD", "TOOBIG", "Command line too long")
        self._reset()
        if line is None:
            # The line is still arriving: drop what we have, keep looking for its end.
            self._tail = bytes(self._buf[-_TAIL:])
            self._buf.clear()
            self._scan = 0
            self._mode = _Mode.DISCARD
        else:
            self._tail = line[-_TAIL:]
            self._after_discarded_line()
        return error

    def _after_discarded_line(self) -> None:
        """A refused line ended: if it announced a non-synchronising literal, drop that too."""
        m = _MARKER.search(self._tail)
        self._tail = b""
        if m is not None and m.group(3):
            digits = m.group(2)
            self._skip = int(digits) if len(digits) <= _MAX_DIGITS else 1 << 62
            self._mode = _Mode.SKIP
        else:
            # No literal, or a synchronising one the client will not send without "+".
            self._mode = _Mode.LINE

    def _read_literal(self) -> FrameEvent | None:
        need = self._literal_need
        if len(self._buf) < need:
            return self._starved()
        data = bytes(self._buf[:need])
        del self._buf[:need]
        self._scan = 0
        self._total += need
        self._pieces.append(FrameLiteral(data, self._literal_binary, self._literal_sync))
        self._mode = _Mode.LINE
        return None

    def _skip_literal(self) -> FrameEvent | None:
        n = min(self._skip, len(self._buf))
        del self._buf[:n]
        self._skip -= n
        self._scan = 0
        if self._skip:
            return self._starved()
        self._mode = _Mode.DISCARD
        return None

    def _discard_line(self) -> FrameEvent | None:
        idx = self._buf.find(b"\n")
        if idx < 0:
            self._tail = (self._tail + bytes(self._buf))[-_TAIL:]
            self._buf.clear()
            return self._starved()
        self._tail = (self._tail + bytes(self._buf[:idx]))[-_TAIL:]
        del self._buf[: idx + 1]
        self._scan = 0
        self._after_discarded_line()
        return None
