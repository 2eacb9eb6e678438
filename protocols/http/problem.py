"""Problem details (RFC 7807, obsoleted by RFC 9457 with the same format) for request-level errors.

JMAP reports request-level errors this way (RFC 8620 §3.6.1), e.g.
``problem(400, "urn:ietf:params:jmap:error:limit", "too many calls", limit="maxCallsInRequest")``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from .headers import Headers
from .messages import Response, json_bytes

PROBLEM_TYPE = "application/problem+json"


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def problem(
    status: int,
    type: str = "about:blank",
    detail: str | None = None,
    *,
    title: str | None = None,
    headers: Headers | None = None,
    **extra: Any,
) -> Response:
    """A ``application/problem+json`` response.

    Members: ``type``, ``status``, then ``title`` and ``detail`` when given, then ``extra``
    (extension members, RFC 7807 §3.2).  ``title`` is optional: with ``about:blank`` it would only
    repeat the reason phrase (§4.2), which the status line already carries.
    """
    doc: dict[str, Any] = {"type": type, "status": status}
    if title is not None:
        doc["title"] = title
    if detail is not None:
        doc["detail"] = detail
    for key, value in extra.items():
        if key not in doc:
            doc[key] = value
    hdrs = (headers or Headers()).replace("content-type", PROBLEM_TYPE)
    return Response(status, hdrs, json_bytes(doc))


def internal_error(reference: str) -> Response:
    """The 500 for any handler failure; the traceback is only logged, under ``reference``."""
    return problem(500, detail=f"internal error, reference {reference}")
