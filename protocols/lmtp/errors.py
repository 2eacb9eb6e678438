"""LMTP error types, and LMTP replies for :class:`store.errors.ErrorKind` (the codes come from
:mod:`protocols.mail.status`: RFC 3463 enhanced codes, the RFC 5248 registry)."""

from __future__ import annotations

from protocols.mail.status import smtp_status
from store.errors import ErrorKind, MailError

from .replies import Reply


class LmtpError(Exception):
    """Base class of every exception the LMTP core raises."""


class LocalProtocolError(LmtpError):
    """The application used the core incorrectly (wrong method for the current state).

    The core never raises for anything the *peer* sends: remote errors are answered on the wire.
    """


def reply_for_kind(kind: ErrorKind) -> Reply:
    """The LMTP reply for an error kind (never a success reply): the mail service's one
    mapping (protocols/mail/status.py), shared with JMAP EmailSubmission's ``smtpReply``."""
    status = smtp_status(kind)
    return Reply(status.code, status.enhanced, status.text)


def reply_for_error(error: MailError) -> Reply:
    """The LMTP reply for a :class:`MailError`.

    The detail string is deliberately not put on the wire: it may name internal things.
    """
    return reply_for_kind(error.kind)
