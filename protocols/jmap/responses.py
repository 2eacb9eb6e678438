"""HTTP helpers of the JMAP application (:mod:`.service`): the response encoder that splices
pre-encoded objects, problem responses for request-level errors
(RFC 8620 §3.6.1), download headers (RFC 6266, RFC 9110 §14) and the base URL a Session's
URLs are built from (RFC 8620 §2).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, urlsplit, urlunsplit

from protocols.http import Request, Response, problem

from .core import RequestProblem, jsonio
from .mail.email_render import PreEncoded, PreEncodedList
from .mail.query_cache import EncodedIdList

_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)")
# RFC 9110 §7.2 Host = uri-host [ ":" port ]: a reg-name or IPv4 address, or an IP literal.
_HOST: Final = re.compile(r"(?:[A-Za-z0-9._~-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?")


def encode_response(result: dict[str, Any]) -> bytes:
    """``jsonio.dumps(result)`` for a JMAP Response object (RFC 8620 §3.4), byte for byte, but
    splicing the ready encoding of :class:`PreEncoded` objects, :class:`PreEncodedList` and
    :class:`EncodedIdList` lists found in the arguments of a method response (e.g. the ``list``
    of Email/get, the ``ids`` of Email/query) instead of encoding them again.

    The response is encoded once by the C encoder with a placeholder string in place of each
    pre-encoded value; the placeholders (a per-process secret, so no client string can forge
    one) are then replaced by the ready bytes."""
    spliced: list[bytes] = []
    responses = result.get("methodResponses")
    if type(responses) is list:
        swapped = [
            [inv[0], _swap_arguments(inv[1], spliced), inv[2]] if _holds_encoded(inv[1]) else inv
            for inv in responses
        ]
        if spliced:
            result = dict(result)
            result["methodResponses"] = swapped
    data = jsonio.dumps(result)
    if not spliced:
        return data
    # One pass: every piece after a placeholder's opening starts with its number and the
    # closing quote.
    pieces = data.split(_SPLICE_JSON)
    out = [pieces[0]]
    for piece in pieces[1:]:
        end = piece.index(b'"')
        out.append(spliced[int(piece[:end])])
        out.append(piece[end + 1 :])
    return b"".join(out)


_SPLICE_MARK: Final = "\x00splice-" + secrets.token_hex(12) + "-"
# How every placeholder's JSON encoding starts: '"\u0000splice-<secret>-' (then n and '"').
_SPLICE_JSON: Final = jsonio.dumps(_SPLICE_MARK)[:-1]


def _holds_encoded(args: Any) -> bool:
    """Whether a method response's arguments hold a pre-encoded value at their top level: a
    :class:`PreEncodedList` or :class:`EncodedIdList`, or a list that starts with a
    :class:`PreEncoded` object.  (Only an
    optimisation: PreEncoded is a dict, so one missed here is still encoded correctly.)"""
    if type(args) is not dict:
        return False
    for value in args.values():
        if type(value) is PreEncodedList or type(value) is EncodedIdList:
            return True
        if type(value) is list and value and type(value[0]) is PreEncoded:
            return True
    return False


def _swap_arguments(args: dict[str, Any], spliced: list[bytes]) -> dict[str, Any]:
    """A copy of ``args`` with each pre-encoded value replaced by the next placeholder."""

    def swap(value: Any) -> Any:
        spliced.append(value.encoded)
        return f"{_SPLICE_MARK}{len(spliced) - 1}"

    out: dict[str, Any] = {}
    for key, value in args.items():
        if type(value) is PreEncodedList or type(value) is EncodedIdList:
            value = swap(value)
        elif type(value) is list and value and type(value[0]) is PreEncoded:
            value = [swap(x) if type(x) is PreEncoded else x for x in value]
        out[key] = value
    return out


def problem_response(exc: RequestProblem) -> Response:
    if exc.limit is not None:
        return problem(exc.status, exc.uri, exc.detail, limit=exc.limit)
    return problem(exc.status, exc.uri, exc.detail)


def concurrency_problem(limit: str) -> RequestProblem:
    return RequestProblem.over_limit(limit, f"Too many concurrent requests ({limit}).")


def upload_too_large(limit: int) -> Response:
    """§6.1: an upload over maxSizeUpload is refused (413 Content Too Large, RFC 9110)."""
    return problem(
        413,
        "urn:ietf:params:jmap:error:limit",
        f"The upload is larger than maxSizeUpload ({limit} octets).",
        limit="maxSizeUpload",
    )


def content_disposition(name: str) -> str:
    """``attachment`` with the name as ``filename`` (ASCII fallback) and ``filename*`` (RFC 6266
    §4.3, RFC 8187 encoding) so that non-ASCII names survive."""
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else "_" for c in name)
    encoded = quote(name, safe="!#$&+-.^_`|~")
    value = f'attachment; filename="{fallback}"'
    if encoded != name:
        value += f"; filename*=UTF-8''{encoded}"
    return value


def byte_range(spec: str, size: int) -> tuple[int, int] | None:
    """The (first, last) byte positions of a single ``bytes=`` range (RFC 9110 §14.1.2);
    None when the header is not one range we serve (then the full content is sent); (0, -1)
    when it is unsatisfiable."""
    match = _RANGE.fullmatch(spec.strip())
    if match is None:
        return None
    start, end = match.groups()
    if not start and not end:
        return None
    if not start:  # suffix range: the last N bytes
        length = int(end)
        if length == 0 or size == 0:
            return (0, -1)
        return (max(size - length, 0), size - 1)
    first = int(start)
    if first >= size:
        return (0, -1)
    last = min(int(end), size - 1) if end else size - 1
    if last < first:
        return None  # syntactically invalid: ignore the header (§14.1.1)
    return (first, last)


def effective_public_url(public_url: str, ports: Mapping[str, int]) -> str:
    """``public_url`` with a port of 0 (an ephemeral bind, e.g. in tests) replaced by the port
    actually bound for its scheme (``ports["http"]`` or ``ports["https"]``)."""
    parts = urlsplit(public_url)
    if parts.port != 0 or parts.scheme not in ports:
        return public_url
    host = parts.netloc.rpartition(":")[0]
    netloc = f"{host}:{ports[parts.scheme]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def request_base_url(
    request: Request, public_url: str, ports: Mapping[str, int], hostname: str
) -> str:
    """The base of the Session's URLs for ``request`` (RFC 8620 §2: the URLs are absolute).

    ``public_url`` when one is configured; else the request's own scheme (``https`` when it
    came in over TLS, so the WebSocket URL is ``wss://``) and its ``Host`` header, or, when
    the Host is missing or malformed, ``hostname`` with the port bound for that scheme."""
    if public_url:
        return public_url
    scheme = "https" if request.tls else "http"
    host = (request.headers.get("host") or "").strip()
    if not _HOST.fullmatch(host):
        port = ports.get(scheme)
        host = f"{hostname}:{port}" if port else hostname
    return f"{scheme}://{host.lower()}"
