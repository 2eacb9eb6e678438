"""What the application implements to receive mail over LMTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .events import MailParams
from .replies import Reply


@dataclass(frozen=True, slots=True)
class Envelope:
    """Everything known about one transaction when its message is complete."""

    mail_from: str  # "" for the null reverse-path <>
    params: MailParams  # body, smtputf8, size
    recipients: tuple[str, ...]  # the accepted recipients, in RCPT order
    lhlo_host: str
    peer: str
    tls_active: bool


class LmtpBackend(Protocol):
    async def check_recipient(self, address: str) -> Reply | None:
        """None accepts the recipient (250 2.1.5); a 4xx/5xx reply refuses it."""
        ...

    async def deliver(self, envelope: Envelope, data: bytes) -> list[Reply]:
        """Store ``data`` durably for every recipient; one reply per recipient, in order.

        Raising :class:`store.errors.MailError` answers every recipient with the mapped reply;
        any other exception answers 451 4.3.0 and is logged with an id.
        """
        ...

    async def verify(self, address: str) -> Reply:
        """The answer to VRFY (252 2.0.0 is the usual non-committal one)."""
        ...
