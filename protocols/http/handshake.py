"""Sans-IO: the server side of the WebSocket opening handshake (RFC 6455 §4.2.2) — whether an
upgrade a handler accepted can go ahead, and the fields of the 101 response."""

from __future__ import annotations

import logging

from .headers import Headers
from .messages import Request, Response, WebSocketUpgrade
from .problem import internal_error, problem
from .response import HOP_BY_HOP, HeadWriter, encode_headers
from .websocket import accept_token, valid_key

log = logging.getLogger("protocols.http")


def handshake_refusal(
    request: Request, reply: WebSocketUpgrade, can_switch: bool
) -> Response | None:
    """The answer when the handshake cannot complete, else None.  ``can_switch``: the request
    is an upgrade h11 is ready to switch protocols for."""
    if not request.is_websocket_upgrade or not can_switch:
        # RFC 9110 §15.5.22: a 426 names the protocol to upgrade to.
        return problem(
            426,
            detail="this resource needs a WebSocket upgrade",
            headers=Headers((("upgrade", "websocket"), ("connection", "Upgrade"))),
        )
    if request.headers.get("sec-websocket-version") != "13":
        return problem(
            426,
            detail="unsupported WebSocket version",
            headers=Headers((("sec-websocket-version", "13"),)),  # RFC 6455 §4.4
        )
    key = request.headers.get("sec-websocket-key")
    if key is None or not valid_key(key):
        return problem(400, detail="missing or invalid Sec-WebSocket-Key")
    if reply.subprotocol is not None and reply.subprotocol not in request.websocket_offer:
        log.error(
            "HTTP handler chose WebSocket subprotocol %r not offered by the client (ref %s)",
            reply.subprotocol,
            request.request_id,
        )
        return internal_error(request.request_id)
    return None


def accept_fields(
    request: Request, reply: WebSocketUpgrade, heads: HeadWriter
) -> list[tuple[bytes, bytes]]:
    """The 101 response's fields (after :func:`handshake_refusal` passed)."""
    key = request.headers.get("sec-websocket-key") or ""
    pairs = [(n, v) for n, v in reply.headers.pairs if n not in HOP_BY_HOP]
    pairs += [
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-accept", accept_token(key)),
    ]
    if reply.subprotocol is not None:
        pairs.append(("sec-websocket-protocol", reply.subprotocol))
    fields = encode_headers(pairs)
    return heads.fields(Headers(), request.request_id) + fields
