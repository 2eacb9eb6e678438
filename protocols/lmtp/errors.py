"""LMTP error types and the one mapping from :class:`store.errors.ErrorKind` to LMTP replies.

Enhanced status codes per RFC 3463 and the RFC 5248 registry.  An over-quota recipient gets
``452 4.2.2`` (a transient failure: the other recipients of the same message are still delivered
and the client retries this one later).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from store.errors import ErrorKind, MailError

from .replies import Reply


class LmtpError(Exception):
    """Base class of every exception the LMTP core raises."""


class LocalProtocolError(LmtpError):
    """The application used the core incorrectly (wrong method for the current state).

    The core never raises for anything the *peer* sends: remote errors are answered on the wire.
    """


_BY_KIND: Final = MappingProxyType(
    {
        ErrorKind.NOT_FOUND: Reply(550, "5.1.1", "Mailbox does not exist"),
        ErrorKind.EXPUNGED: Reply(550, "5.1.1", "Mailbox does not exist"),
        ErrorKind.OVER_QUOTA: Reply(452, "4.2.2", "Mailbox full, over quota"),
        ErrorKind.TOO_LARGE: Reply(552, "5.3.4", "Message too big for system"),
        ErrorKind.NO_PERMISSION: Reply(550, "5.7.1", "Delivery not authorized"),
        ErrorKind.TEMPORARY: Reply(451, "4.3.0", "Temporary failure, try again later"),
        ErrorKind.INTERNAL: Reply(451, "4.3.0", "Internal error, try again later"),
        ErrorKind.LIMIT: Reply(452, "4.5.3", "Too many recipients"),
        ErrorKind.INVALID: Reply(501, "5.1.3", "Bad recipient address syntax"),
        ErrorKind.IN_USE: Reply(450, "4.2.0", "Mailbox busy, try again later"),
        ErrorKind.ALREADY_EXISTS: Reply(451, "4.3.0", "Conflict, try again later"),
        ErrorKind.STATE_MISMATCH: Reply(451, "4.3.0", "Conflict, try again later"),
        ErrorKind.HAS_CHILDREN: Reply(550, "5.2.0", "Mailbox unavailable"),
    }
)


def reply_for_kind(kind: ErrorKind) -> Reply:
    """The LMTP reply for an error kind (never a success reply)."""
    return _BY_KIND[kind]


def reply_for_error(error: MailError) -> Reply:
    """The LMTP reply for a :class:`MailError`.

    The detail string is deliberately not put on the wire: it may name internal things.
    """
    return reply_for_kind(error.kind)
