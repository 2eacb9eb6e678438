"""The protocol-neutral error taxonomy mapped once to HTTP status codes.

Used when a handler lets a :class:`MailError` escape (downloads, uploads, admin calls); JMAP
method-level errors never come here, they travel inside the JMAP response.
"""

from __future__ import annotations

from store.errors import ErrorKind, MailError

from .headers import Headers
from .messages import Response
from .problem import internal_error, problem

STATUS_FOR_KIND: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.EXPUNGED: 404,
    ErrorKind.ALREADY_EXISTS: 409,
    ErrorKind.IN_USE: 409,
    ErrorKind.HAS_CHILDREN: 409,
    ErrorKind.STATE_MISMATCH: 409,
    ErrorKind.NO_PERMISSION: 403,
    ErrorKind.OVER_QUOTA: 507,  # Insufficient Storage (RFC 4918 §11.5)
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.LIMIT: 429,  # Too Many Requests (RFC 6585 §4)
    ErrorKind.INVALID: 400,
    ErrorKind.TEMPORARY: 503,
    ErrorKind.INTERNAL: 500,
    ErrorKind.UNAVAILABLE: 503,  # the write log has no quorum (an upload: nothing stored)
    ErrorKind.UNKNOWN_OUTCOME: 503,
}


def response_for_error(error: MailError, reference: str) -> Response:
    """A problem response for ``error``; internal errors say only their reference."""
    status = STATUS_FOR_KIND.get(error.kind, 500)
    if status == 500:
        return internal_error(reference)
    headers = Headers((("retry-after", "5"),)) if status == 503 else None
    return problem(status, detail=error.detail or error.kind.value, headers=headers)
