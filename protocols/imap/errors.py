"""IMAP protocol errors and the one mapping of :class:`store.errors.ErrorKind` to IMAP responses.

Response codes per RFC 5530 (and RFC 9051 §7.1, where most of them were folded into the base
protocol).  The detail string of a :class:`MailError` is never put on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from store.errors import ErrorKind, MailError

from .serializer import tagged

ErrorStatus = Literal["NO", "BAD"]


class ImapParseError(Exception):
    """A command the client sent cannot be parsed.

    ``tag`` is ``"*"`` when even the tag could not be read.  ``text`` is meant for the reply;
    ``code`` is the bare response code text (``"TOOBIG"``, ``"BADCHARSET (UTF-8 US-ASCII)"``).
    ``status`` is ``"BAD"`` except for the few syntax-adjacent refusals RFCs answer with ``NO``
    (an unsupported search charset: RFC 9051 §6.4.4).
    """

    def __init__(
        self, tag: str, text: str, code: str | None = None, *, status: ErrorStatus = "BAD"
    ) -> None:
        super().__init__(text)
        self.tag = tag
        self.text = text
        self.code = code
        self.status: ErrorStatus = status

    def __repr__(self) -> str:
        return f"ImapParseError({self.tag!r}, {self.text!r}, code={self.code!r})"

    def to_bytes(self) -> bytes:
        """The tagged (or untagged, when the tag is unknown) reply line."""
        return tagged(self.tag, self.status, self.text, self.code)


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """A tagged failure: ``tag NO [CODE] text``."""

    status: ErrorStatus
    code: str | None
    text: str

    def to_bytes(self, tag: str) -> bytes:
        return tagged(tag, self.status, self.text, self.code)


_BY_KIND: Final = MappingProxyType(
    {
        ErrorKind.NOT_FOUND: ErrorResponse("NO", "NONEXISTENT", "No such mailbox or message"),
        ErrorKind.ALREADY_EXISTS: ErrorResponse("NO", "ALREADYEXISTS", "Already exists"),
        ErrorKind.NO_PERMISSION: ErrorResponse("NO", "NOPERM", "Permission denied"),
        ErrorKind.OVER_QUOTA: ErrorResponse("NO", "OVERQUOTA", "Quota exceeded"),
        ErrorKind.EXPUNGED: ErrorResponse("NO", "EXPUNGEISSUED", "Message was expunged"),
        ErrorKind.IN_USE: ErrorResponse("NO", "INUSE", "In use, try again later"),
        ErrorKind.TEMPORARY: ErrorResponse("NO", "UNAVAILABLE", "Temporary failure"),
        ErrorKind.INVALID: ErrorResponse("NO", "CANNOT", "Operation not possible"),
        ErrorKind.TOO_LARGE: ErrorResponse("NO", "TOOBIG", "Too large"),
        ErrorKind.LIMIT: ErrorResponse("NO", "LIMIT", "Limit reached"),
        ErrorKind.HAS_CHILDREN: ErrorResponse("NO", "HASCHILDREN", "Mailbox has children"),
        # RFC 7162 §3.2: the handler adds the set of failed messages ("MODIFIED 7,9").
        ErrorKind.STATE_MISMATCH: ErrorResponse("NO", "MODIFIED", "Changed concurrently"),
        ErrorKind.INTERNAL: ErrorResponse("NO", "SERVERBUG", "Internal error"),
        # RFC 5530 §3 UNAVAILABLE: "a subsystem is down" (the write log has no quorum) ...
        ErrorKind.UNAVAILABLE: ErrorResponse("NO", "UNAVAILABLE", "Temporarily unavailable"),
        # ... or it could not say whether the write happened: the client re-checks and retries.
        ErrorKind.UNKNOWN_OUTCOME: ErrorResponse(
            "NO", "UNAVAILABLE", "Outcome unknown: check the mailbox, then retry"
        ),
    }
)

_INVALID_SYNTAX: Final = ErrorResponse("BAD", None, "Invalid arguments")


def response_for_kind(kind: ErrorKind, *, syntax: bool = False) -> ErrorResponse:
    """The IMAP failure for an error kind.

    ``syntax=True`` marks an INVALID that stems from what the client wrote (answered ``BAD``);
    otherwise INVALID is a semantic refusal (``NO [CANNOT]``).
    """
    if kind is ErrorKind.INVALID and syntax:
        return _INVALID_SYNTAX
    return _BY_KIND[kind]


def response_for_error(error: MailError, *, syntax: bool = False) -> ErrorResponse:
    return response_for_kind(error.kind, syntax=syntax)
