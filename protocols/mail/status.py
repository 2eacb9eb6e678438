"""Delivery outcomes as SMTP replies (RFC 5321 codes, RFC 3463 enhanced status codes, the RFC
5248 registry): the one mapping from :class:`ErrorKind` that LMTP answers with and that JMAP
EmailSubmission records in ``deliveryStatus`` (RFC 8621 §7 ``smtpReply``).

An over-quota recipient gets ``452 4.2.2`` (a transient failure: the other recipients of the
same message are still delivered and the client retries this one later).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from store.errors import ErrorKind


@dataclass(frozen=True, slots=True)
class SmtpStatus:
    code: int
    enhanced: str
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.enhanced} {self.text}"


DELIVERED: Final = SmtpStatus(250, "2.1.5", "Delivered")

_BY_KIND: Final = MappingProxyType(
    {
        ErrorKind.NOT_FOUND: SmtpStatus(550, "5.1.1", "Mailbox does not exist"),
        ErrorKind.EXPUNGED: SmtpStatus(550, "5.1.1", "Mailbox does not exist"),
        ErrorKind.OVER_QUOTA: SmtpStatus(452, "4.2.2", "Mailbox full, over quota"),
        ErrorKind.TOO_LARGE: SmtpStatus(552, "5.3.4", "Message too big for system"),
        ErrorKind.NO_PERMISSION: SmtpStatus(550, "5.7.1", "Delivery not authorized"),
        ErrorKind.TEMPORARY: SmtpStatus(451, "4.3.0", "Temporary failure, try again later"),
        ErrorKind.INTERNAL: SmtpStatus(451, "4.3.0", "Internal error, try again later"),
        # The write log (store/writelog.py): no quorum, nothing stored; or the outcome is not
        # known, and the retry (same transaction, same request id) stores it at most once.
        ErrorKind.UNAVAILABLE: SmtpStatus(451, "4.3.0", "Mail system unavailable, try again later"),
        ErrorKind.UNKNOWN_OUTCOME: SmtpStatus(451, "4.3.0", "Outcome unknown, try again later"),
        ErrorKind.LIMIT: SmtpStatus(452, "4.5.3", "Too many recipients"),
        ErrorKind.INVALID: SmtpStatus(501, "5.1.3", "Bad recipient address syntax"),
        ErrorKind.IN_USE: SmtpStatus(450, "4.2.0", "Mailbox busy, try again later"),
        ErrorKind.ALREADY_EXISTS: SmtpStatus(451, "4.3.0", "Conflict, try again later"),
        ErrorKind.STATE_MISMATCH: SmtpStatus(451, "4.3.0", "Conflict, try again later"),
        ErrorKind.HAS_CHILDREN: SmtpStatus(550, "5.2.0", "Mailbox unavailable"),
    }
)


def smtp_status(kind: ErrorKind) -> SmtpStatus:
    """The SMTP reply for an error kind (never a success reply)."""
    return _BY_KIND[kind]
