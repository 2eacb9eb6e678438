"""Events the LMTP core hands to the application (h11-style)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal


class _NeedData(enum.Enum):
    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Literal[_NeedData.NEED_DATA] = _NeedData.NEED_DATA
"""Returned by ``next_event`` when more bytes must be received first."""

BodyType = Literal["7BIT", "8BITMIME", "BINARYMIME"]


@dataclass(frozen=True, slots=True)
class MailParams:
    """The MAIL FROM parameters we support (RFC 6152, RFC 6531, RFC 1870, RFC 3030)."""

    body: BodyType | None = None
    smtputf8: bool = False
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Lhlo:
    """LHLO accepted (already answered with the capability list)."""

    host: str


@dataclass(frozen=True, slots=True)
class MailFrom:
    """MAIL FROM accepted (already answered 250).  ``reverse_path`` is "" for ``<>``."""

    reverse_path: str
    params: MailParams


@dataclass(frozen=True, slots=True)
class RcptTo:
    """RCPT TO passed the syntax checks: answer with ``accept_rcpt`` or ``reject_rcpt``."""

    forward_path: str
    params: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class MessageComplete:
    """The message is complete: answer with ``send_delivery_results`` (one per recipient)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Vrfy:
    """VRFY: answer with ``answer_vrfy``."""

    arg: str


@dataclass(frozen=True, slots=True)
class StartTls:
    """220 is queued: flush it, do the TLS handshake, then call ``start_tls_done``."""


@dataclass(frozen=True, slots=True)
class Reset:
    """RSET (already answered): drop any per-transaction application state."""


@dataclass(frozen=True, slots=True)
class Quit:
    """QUIT (221 queued): flush and close."""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The session is over (EOF, too many errors, QUIT or abort): flush and close."""


Event = (
    Lhlo | MailFrom | RcptTo | MessageComplete | Vrfy | StartTls | Reset | Quit | ConnectionClosed
)
