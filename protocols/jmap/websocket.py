"""JMAP over WebSocket (RFC 8887 §4), sans-IO: what one client message asks for, and the text
of each message the server sends back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .core import CoreLimits, RequestProblem, check_request_size, jsonio


@dataclass(frozen=True, slots=True)
class WsRequest:
    """``@type: Request`` (§4.3.3): ``data`` is the message, parsed again as a JMAP request."""

    request_id: Any
    data: bytes


@dataclass(frozen=True, slots=True)
class PushEnable:
    """``WebSocketPushEnable`` (§4.3.5)."""

    request_id: Any
    types: frozenset[str] | None  # None: every type
    push_state: str | None


@dataclass(frozen=True, slots=True)
class PushDisable:
    """``WebSocketPushDisable`` (§4.3.5)."""

    request_id: Any


WsMessage = WsRequest | PushEnable | PushDisable


def decode_ws_message(message: str | bytes, limits: CoreLimits) -> tuple[dict[str, Any], bytes]:
    """The client message as a JSON object, and its bytes; raises :class:`RequestProblem`
    (answered as a RequestError, §4.3.4)."""
    if isinstance(message, bytes):
        # RFC 8887 §4.2: JMAP messages are sent in text frames.
        raise RequestProblem.not_json("JMAP messages must be sent as text frames.")
    data = message.encode()
    check_request_size(len(data), limits)
    try:
        obj = jsonio.loads(data)
    except jsonio.JsonError as exc:
        raise RequestProblem.not_json(f"The message did not parse as I-JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise RequestProblem.not_request("A message must be a JSON object.")
    return obj, data


def ws_message(obj: dict[str, Any], data: bytes) -> WsMessage:
    """What a decoded client message asks for; raises :class:`RequestProblem`."""
    request_id = obj.get("id")
    kind = obj.get("@type")
    if kind == "Request":
        return WsRequest(request_id, data)
    if kind == "WebSocketPushEnable":
        types = obj.get("dataTypes")
        if types is not None and (
            not isinstance(types, list) or not all(isinstance(t, str) for t in types)
        ):
            raise RequestProblem.not_request("dataTypes must be null or an array of type names.")
        push_state = obj.get("pushState")
        if push_state is not None and not isinstance(push_state, str):
            raise RequestProblem.not_request("pushState must be a string.")
        return PushEnable(request_id, frozenset(types) if types is not None else None, push_state)
    if kind == "WebSocketPushDisable":
        return PushDisable(request_id)
    raise RequestProblem.not_request(
        "@type must be Request, WebSocketPushEnable or WebSocketPushDisable."
    )


def ws_response(result: dict[str, Any], request_id: Any) -> str:
    """``@type: Response`` (§4.3.3) with the client's request id when it gave a string."""
    out: dict[str, Any] = {"@type": "Response"}
    if isinstance(request_id, str):
        out["requestId"] = request_id
    out.update(result)
    return jsonio.dumps(out).decode()


def ws_error(exc: RequestProblem, request_id: Any) -> str:
    """§4.3.4: a RequestError carries the problem details and the request id."""
    error: dict[str, Any] = {"@type": "RequestError"}
    if isinstance(request_id, str):
        error["requestId"] = request_id
    error.update(exc.to_json())
    return jsonio.dumps(error).decode()


def ws_push(change: dict[str, Any]) -> str:
    """A StateChange pushed over the socket (§4.3.5)."""
    return jsonio.dumps(change).decode()
