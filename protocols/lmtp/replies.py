"""LMTP reply values: one reply = code + enhanced status code + text.

Formatting follows RFC 5321 §4.2 (``250-`` continuation lines, the last line uses a space) and
RFC 2034 §3 (every line of a reply carries the enhanced status code, except the greeting and the
LHLO/EHLO reply, which carry none).  :func:`parse_replies` is the inverse of :meth:`Reply.to_bytes`
and is used by tests and fuzz targets to check that we never emit what we could not parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 3463 §2: class.subject.detail; subject and detail are 1–3 digits.
_ENHANCED_RE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
# RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including the code and CRLF.
_MAX_TEXT = 480
_REPLY_LINE_RE = re.compile(rb"([2-5][0-9][0-9])([ -])([\x20-\x7e]*)\r\n")
_ENHANCED_PREFIX_RE = re.compile(r"([245]\.\d{1,3}\.\d{1,3})(?: (.*)|$)")
_NO_ENHANCED_OK = frozenset({"220", "250", "354"})


def _clean(line: str) -> str:
    """Make app-supplied text safe for the wire: printable ASCII only, bounded length."""
    cleaned = "".join(ch if " " <= ch <= "~" else "?" for ch in line)
    return cleaned[:_MAX_TEXT]


@dataclass(frozen=True, slots=True)
class Reply:
    """One (possibly multiline) reply.  ``text`` lines are separated by ``\\n``."""

    code: int
    enhanced: str
    text: str

    def __post_init__(self) -> None:
        if not 200 <= self.code <= 599:
            raise ValueError(f"reply code out of range: {self.code}")
        if self.enhanced:
            if not _ENHANCED_RE.fullmatch(self.enhanced):
                raise ValueError(f"malformed enhanced status code: {self.enhanced!r}")
            # RFC 3463 §3.1: the class digit matches the first digit of the basic code.
            if self.enhanced[0] != str(self.code)[0]:
                raise ValueError(f"enhanced code {self.enhanced} does not match {self.code}")

    @property
    def is_positive(self) -> bool:
        return self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    def lines(self) -> list[str]:
        return self.text.split("\n") if self.text else [""]

    def to_bytes(self) -> bytes:
        lines = self.lines()
        out: list[str] = []
        for i, line in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            body = _clean(line)
            if self.enhanced:
                body = f"{self.enhanced} {body}" if body else self.enhanced
            out.append(f"{self.code}{sep}{body}\r\n")
        return "".join(out).encode("ascii")


def parse_replies(data: bytes, *, enhanced: bool = True) -> list[Reply]:
    """Parse a stream of complete reply lines; raise ValueError on anything malformed.

    With ``enhanced=True`` every line must carry an enhanced code, except for the 220 greeting
    and a 250 reply whose first line has none (the LHLO reply, RFC 2034 §3), and the 354
    intermediate reply (there is no class 3 enhanced code).
    """
    replies: list[Reply] = []
    pos = 0
    code: str | None = None
    enh: str | None = None
    texts: list[str] = []
    while pos < len(data):
        m = _REPLY_LINE_RE.match(data, pos)
        if m is None:
            raise ValueError(f"malformed reply line at offset {pos}: {data[pos : pos + 80]!r}")
        pos = m.end()
        line_code = m.group(1).decode()
        last = m.group(2) == b" "
        rest = m.group(3).decode()
        if code is not None and line_code != code:
            raise ValueError(f"reply code changed inside a multiline reply: {code}->{line_code}")
        em = _ENHANCED_PREFIX_RE.fullmatch(rest)
        line_enh = em.group(1) if em else ""
        if em:
            rest = em.group(2) or ""
        if code is None:
            code, enh = line_code, line_enh
        elif line_enh != enh:
            raise ValueError("enhanced code changed inside a multiline reply")
        texts.append(rest)
        if last:
            assert enh is not None
            if enhanced and not enh and code not in _NO_ENHANCED_OK:
                raise ValueError(f"reply without enhanced status code: {code} {texts[0]!r}")
            replies.append(Reply(int(code), enh, "\n".join(texts)))
            code, enh, texts = None, None, []
    if code is not None:
        raise ValueError("truncated multiline reply")
    return replies


# Replies the protocol core sends on its own.  RFC 3463 / RFC 5248 enhanced codes.
OK = Reply(250, "2.0.0", "OK")
SENDER_OK = Reply(250, "2.1.0", "Sender OK")
RECIPIENT_OK = Reply(250, "2.1.5", "Recipient OK")
START_DATA = Reply(354, "", "Start mail input; end with <CRLF>.<CRLF>")
BYE = Reply(221, "2.0.0", "Bye")
RESET_OK = Reply(250, "2.0.0", "Reset OK")
READY_TLS = Reply(220, "2.0.0", "Ready to start TLS")
TLS_UNAVAILABLE = Reply(454, "4.7.0", "TLS not available")
CANNOT_VRFY = Reply(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery")
BAD_SEQUENCE = Reply(503, "5.5.1", "Bad sequence of commands")
NO_VALID_RECIPIENTS = Reply(503, "5.5.1", "No valid recipients")
UNKNOWN_COMMAND = Reply(500, "5.5.2", "Command unrecognized")
USE_LHLO = Reply(500, "5.5.1", "This is LMTP: use LHLO")
NOT_IMPLEMENTED = Reply(502, "5.5.1", "Command not implemented")
LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long")
BAD_ENCODING = Reply(500, "5.5.2", "Invalid characters in command")
TOO_MANY_ERRORS = Reply(421, "4.7.0", "Too many errors, closing connection")
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients")
MESSAGE_TOO_LARGE = Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
UNSUPPORTED_PARAM = Reply(555, "5.5.4", "Parameter not recognized or not implemented")
NON_ASCII_ADDRESS = Reply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8")
IDLE_TIMEOUT_TEXT = "Idle timeout, closing connection"


def syntax_error(text: str, enhanced: str = "5.5.4") -> Reply:
    """501: syntax error in parameters or arguments (RFC 5321 §4.2.3)."""
    return Reply(501, enhanced, text)
