"""Resource limits and timeouts of the HTTP server."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """All sizes in bytes, all times in seconds.

    - ``max_header_size``: request line + header fields; beyond it 431 (RFC 6585 §5).
    - ``max_body_size``: request body, after de-chunking; beyond it 413 (RFC 9110 §15.5.14).
      A route may lower it (``Router.add(..., max_body=)``), never raise it.
    - ``header_timeout``: once the first byte of a request arrived, the whole head must arrive
      within this time, else 408 (RFC 9110 §15.5.9) and close (slow-loris defence).  A new
      connection must also send its first byte within it.
    - ``body_timeout``: longest silence while reading a body, else 408 and close.
    - ``keep_alive_timeout``: an idle kept-alive connection is closed silently after this.
    - ``write_timeout``: a client that does not read for this long is disconnected.
    - ``max_connections``: more concurrent connections (both ports together) get 503 and close.
    - ``gzip_min_size``/``gzip_level``: gzip complete responses from this size on.
    - ``drain_limit``: after an early response (404, 401 ...) an unread body up to this size is
      read and discarded to keep the connection; a larger one closes it.
    - ``websocket_max_message``: a larger WebSocket message closes with 1009 (RFC 6455 §7.4.1).
    """

    max_header_size: int = 16 * 1024
    max_body_size: int = 50 * MIB
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive_timeout: float = 75.0
    write_timeout: float = 60.0
    max_connections: int = 1000
    gzip_min_size: int = 1024
    gzip_level: int = 6
    drain_limit: int = 64 * 1024
    websocket_max_message: int = 10 * MIB
