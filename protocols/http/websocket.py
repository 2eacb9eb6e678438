"""WebSocket framing (RFC 6455) on wsproto, sans-IO: whole messages out of fragments, automatic
Pong, the closing handshake and a message-size limit.

The opening handshake (101, ``Sec-WebSocket-Accept``) is done by the server over h11; the trio
side (``server.TrioWebSocket``) only moves the bytes this core asks it to send and feeds it what
arrives.
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections import deque

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, TextMessage
from wsproto.utilities import LocalProtocolError, generate_accept_token

NORMAL_CLOSURE = 1000
MESSAGE_TOO_BIG = 1009  # RFC 6455 §7.4.1
INTERNAL_ERROR = 1011


class _NeedData(enum.Enum):
    NEED_DATA = "need_data"


NEED_DATA = _NeedData.NEED_DATA


class WebSocketClosed(Exception):
    """A message was sent after the closing handshake began."""


def valid_key(key: str | None) -> bool:
    """``Sec-WebSocket-Key`` is the base64 of 16 random bytes (RFC 6455 §4.1 item 7)."""
    if not key:
        return False
    try:
        return len(base64.b64decode(key.strip(), validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def accept_token(key: str) -> str:
    """``Sec-WebSocket-Accept`` for ``key`` (RFC 6455 §4.2.2 item 5.4)."""
    return generate_accept_token(key.strip().encode("ascii")).decode("ascii")


class WebSocketCore:
    """The server side of one WebSocket after the handshake.

    Feed bytes with :meth:`receive_data` (None for EOF), pull messages with
    :meth:`next_message`, and after every call send :meth:`data_to_send` to the peer.
    """

    def __init__(self, max_message: int = 10 * 1024 * 1024, trailing_data: bytes = b"") -> None:
        self._ws = Connection(ConnectionType.SERVER)
        self._max_message = max_message
        self._pending: deque[Event] = deque()
        self._outgoing = bytearray()
        self._parts: list[str | bytes] = []
        self._size = 0
        self._done = False
        self.close_code: int | None = None
        self.close_reason = ""
        if trailing_data:
            self.receive_data(trailing_data)

    @property
    def open(self) -> bool:
        """Messages may still be sent."""
        return not self._done and self._ws.state is ConnectionState.OPEN

    @property
    def finished(self) -> bool:
        """No more messages will arrive (closing handshake seen, EOF or a protocol error)."""
        return self._done or self._ws.state is ConnectionState.CLOSED

    def data_to_send(self) -> bytes:
        data, self._outgoing = bytes(self._outgoing), bytearray()
        return data

    def receive_data(self, data: bytes | None) -> None:
        if self._ws.state is ConnectionState.CLOSED:
            return
        if data is None:
            self._done = True  # EOF without a Close frame: code 1006 (RFC 6455 §7.1.5)
        self._ws.receive_data(data)
        self._pending.extend(self._ws.events())

    def _emit(self, event: Event) -> None:
        try:
            self._outgoing += self._ws.send(event)
        except LocalProtocolError:
            pass  # closing already: nothing more may be sent

    def send(self, message: str | bytes) -> None:
        """Queue a text (``str``) or binary (``bytes``) message."""
        if not self.open:
            raise WebSocketClosed("the WebSocket is closing or closed")
        if isinstance(message, str):
            self._emit(TextMessage(data=message))
        else:
            self._emit(BytesMessage(data=bytes(message)))

    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (no-op once it has begun)."""
        if self._ws.state is ConnectionState.OPEN:
            self.close_code, self.close_reason = code, reason
            self._emit(CloseConnection(code=code, reason=reason))

    def next_message(self) -> str | bytes | None | _NeedData:
        """The next whole message, NEED_DATA, or None once no more will come."""
        while self._pending:
            event = self._pending.popleft()
            if isinstance(event, TextMessage | BytesMessage):
                data = event.data
                self._size += len(data)
                if self._size > self._max_message:
                    self.close(MESSAGE_TOO_BIG, "message too big")
                    self._done = True
                    return None
                self._parts.append(data if isinstance(data, str) else bytes(data))
                if event.message_finished:
                    parts, self._parts, self._size = self._parts, [], 0
                    if isinstance(event, TextMessage):
                        return "".join(p for p in parts if isinstance(p, str))
                    return b"".join(p for p in parts if isinstance(p, bytes))
            elif isinstance(event, Ping):
                self._emit(event.response())  # RFC 6455 §5.5.3
            elif isinstance(event, CloseConnection):
                self._on_close(event)
                return None
        return None if self.finished else NEED_DATA

    def _on_close(self, event: CloseConnection) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = event.code, event.reason or ""
        state = self._ws.state
        if state is ConnectionState.REMOTE_CLOSING:
            self._emit(event.response())  # echo the peer's Close (RFC 6455 §5.5.1)
        elif state is ConnectionState.OPEN and not self._done:
            # A protocol error wsproto found (bad frame, invalid UTF-8): close with its code.
            self._emit(CloseConnection(code=event.code, reason=event.reason or ""))
        self._done = True
