"""The values handlers see and return: :class:`Request`, :class:`Response`,
:class:`StreamingResponse` and :class:`WebSocketUpgrade`.

No I/O here: the trio server (``server.py``) builds requests and writes replies.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from .headers import HeaderPairs, Headers

_NO_PARAMS: Mapping[str, str] = MappingProxyType({})

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"


def _headers(source: Headers | Mapping[str, str] | HeaderPairs | None) -> Headers:
    return Headers.of(source)


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON (RFC 8259 §8.1: JSON exchanged between systems is UTF-8)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, body fully read.

    ``path`` is the raw (still percent-encoded) path of the request-target; route parameters in
    ``path_params`` are percent-decoded one segment at a time, so ``%2F`` inside a download name
    never splits it.  ``query`` holds the decoded ``(name, value)`` pairs in order.
    """

    method: str
    target: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Headers
    body: bytes = b""
    peer: str = "unknown"
    tls: bool = False
    request_id: str = ""
    http_version: str = "1.1"
    path_params: Mapping[str, str] = field(default_factory=lambda: _NO_PARAMS)

    def with_body(self, body: bytes, path_params: Mapping[str, str]) -> Request:
        """A copy with the body read and the route parameters set (cheaper than
        ``dataclasses.replace``, which the server would pay on every request)."""
        return Request(
            self.method,
            self.target,
            self.path,
            self.query,
            self.headers,
            body,
            self.peer,
            self.tls,
            self.request_id,
            self.http_version,
            path_params,
        )

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def query_get(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        for k, v in self.query:
            if k == name:
                return v
        return default

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` (incl. ``UnicodeDecodeError``)."""
        return json.loads(self.body.decode("utf-8"))

    @property
    def content_type(self) -> str:
        """The media type without parameters, lowercase ('' when absent)."""
        value = self.headers.get("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    @property
    def is_websocket_upgrade(self) -> bool:
        """A WebSocket opening handshake (RFC 6455 §4.1), before validation of its details."""
        return (
            self.method == "GET"
            and self.headers.has_token("upgrade", "websocket")
            and self.headers.has_token("connection", "upgrade")
        )

    @property
    def websocket_offer(self) -> tuple[str, ...]:
        """The subprotocols the client offers, in its order of preference (RFC 6455 §4.1)."""
        return self.headers.get_list("sec-websocket-protocol")


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response.  The server adds ``Content-Length``, ``Date``, ``Server``,
    ``X-Request-Id`` and CORS fields, and may gzip the body."""

    status: int = 200
    headers: Headers = field(default_factory=Headers)
    body: bytes | None = None

    @classmethod
    def json(
        cls,
        value: Any,
        status: int = 200,
        headers: Headers | Mapping[str, str] | HeaderPairs | None = None,
        *,
        content_type: str = JSON_TYPE,
    ) -> Response:
        hdrs = _headers(headers).replace("content-type", content_type)
        return cls(status, hdrs, json_bytes(value))

    @classmethod
    def text(
        cls,
        text: str,
        status: int = 200,
        headers: Headers | Mapping[str, str] | HeaderPairs | None = None,
        *,
        content_type: str = TEXT_TYPE,
    ) -> Response:
        hdrs = _headers(headers).replace("content-type", content_type)
        return cls(status, hdrs, text.encode())

    @classmethod
    def binary(
        cls,
        body: bytes,
        content_type: str,
        status: int = 200,
        headers: Headers | Mapping[str, str] | HeaderPairs | None = None,
    ) -> Response:
        return cls(status, _headers(headers).replace("content-type", content_type), body)

    @classmethod
    def empty(
        cls, status: int = 204, headers: Headers | Mapping[str, str] | HeaderPairs | None = None
    ) -> Response:
        return cls(status, _headers(headers), None)

    @classmethod
    def redirect(cls, location: str, status: int = 307) -> Response:
        return cls(status, Headers((("location", location),)), None)


@dataclass(frozen=True, slots=True)
class StreamingResponse:
    """A response whose body is produced over time (EventSource, RFC 8620 §7.3).

    Sent with chunked transfer coding (close-delimited to HTTP/1.0 clients), one chunk flushed per
    item; it ends when ``chunks`` is exhausted or the client disconnects, in which case the
    iterator is closed (``aclose``) so a generator's ``finally`` runs.  Never gzipped.
    """

    status: int
    headers: Headers
    chunks: AsyncIterator[bytes]

    @classmethod
    def event_stream(
        cls,
        chunks: AsyncIterator[bytes],
        headers: Headers | Mapping[str, str] | HeaderPairs | None = None,
    ) -> StreamingResponse:
        """``text/event-stream`` (HTML Standard §9.2), caching and proxy buffering off."""
        hdrs = (
            _headers(headers)
            .replace("content-type", "text/event-stream")
            .replace("cache-control", "no-cache")
            .replace("x-accel-buffering", "no")
        )
        return cls(200, hdrs, chunks)


class WebSocket(Protocol):
    """An accepted WebSocket (RFC 6455) as handlers see it."""

    @property
    def subprotocol(self) -> str | None: ...

    @property
    def request(self) -> Request: ...

    async def receive(self) -> str | bytes | None:
        """The next whole message; None once the connection is closed."""
        ...

    async def send(self, message: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


WebSocketHandler = Callable[[WebSocket], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class WebSocketUpgrade:
    """Returned by a handler to accept a WebSocket opening handshake.

    ``subprotocol`` must be one the client offered (``Request.websocket_offer``) or None
    (RFC 6455 §4.2.2); JMAP uses ``"jmap"`` (RFC 8887 §3).  ``headers`` are added to the 101.
    """

    handler: WebSocketHandler
    subprotocol: str | None = None
    headers: Headers = field(default_factory=Headers)


Reply = Response | StreamingResponse | WebSocketUpgrade
Handler = Callable[[Request], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Admitted:
    """An application's answer before the body is read: who handles the request, how large a
    body it accepts (None: the server's limit), the route parameters for ``Request``, and the
    response for a body over the limit (None: a plain 413 problem)."""

    handler: Handler
    max_body: int | None = None
    path_params: Mapping[str, str] = field(default_factory=lambda: _NO_PARAMS)
    too_large: Response | None = None


class HttpApp(Protocol):
    """What :func:`serve_http` serves.  :class:`Router` is one."""

    def admit(self, request: Request) -> Admitted | Response:
        """Called once the head is read (``request.body`` is still empty): the handler and body
        limit, or an early response (404, 405, 401 ...) sent without reading the body.

        ``Expect: 100-continue`` is answered with 100 only when this admits the request and its
        declared length (RFC 9110 §10.1.1); otherwise the final status goes out directly.
        """
        ...


class HandlerApp:
    """Serve every request with one handler (tests, tiny apps)."""

    def __init__(self, handler: Handler, max_body: int | None = None) -> None:
        self._admitted = Admitted(handler, max_body)

    def admit(self, request: Request) -> Admitted | Response:
        return self._admitted
