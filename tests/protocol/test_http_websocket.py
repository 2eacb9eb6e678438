"""WebSocket (RFC 6455, JMAP over WebSocket RFC 8887) over real loopback sockets, with a tiny
wsproto client on trio streams."""

from __future__ import annotations

import socket
from functools import partial
from typing import Any

import pytest
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    TextMessage,
)
from wsproto.events import Request as WsRequest

from protocols.http import HttpLimits, Response, Router, WebSocket, serve_http

# -- server side ------------------------------------------------------------------------------


async def echo(ws: WebSocket) -> None:
    while (message := await ws.receive()) is not None:
        if message == "whoami":
            await ws.send(f"{ws.request.path} {ws.subprotocol}")
        else:
            await ws.send(message)


async def push(ws: WebSocket) -> None:
    for i in range(3):
        await ws.send(f"push {i}")
    await ws.close(1000, "bye")


async def failing(ws: WebSocket) -> None:
    await ws.receive()
    raise RuntimeError("handler bug")


async def ticker(ws: WebSocket) -> None:
    """Sends from one task while another receives (JMAP push over the same socket)."""
    async with trio.open_nursery() as nursery:

        async def tick() -> None:
            for i in range(5):
                await ws.send(f"tick {i}")
                await trio.sleep(0.01)

        nursery.start_soon(tick)
        while (message := await ws.receive()) is not None:
            await ws.send("echo " + (message if isinstance(message, str) else message.hex()))
        nursery.cancel_scope.cancel()


async def plain(request: Any) -> Response:
    return Response.text("not a websocket")


def build_app() -> Router:
    router = Router()
    router.websocket("/jmap/ws", echo, ("jmap",), require_subprotocol=True)
    router.websocket("/any", echo)
    router.websocket("/push", push)
    router.websocket("/failing", failing)
    router.websocket("/ticker", ticker)
    router.add("/plain", plain)
    return router


@pytest.fixture
async def port(nursery: trio.Nursery) -> int:
    limits = HttpLimits(websocket_max_message=1000, header_timeout=2, keep_alive_timeout=2)
    listeners = await nursery.start(partial(serve_http, build_app(), "127.0.0.1", 0, limits=limits))
    return int(listeners[0].socket.getsockname()[1])


# -- the client -------------------------------------------------------------------------------


class Client:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: list[Event] = []

    @classmethod
    async def connect(cls, port: int, target: str, subprotocols: list[str]) -> tuple[Client, Event]:
        client = cls(await trio.open_tcp_stream("127.0.0.1", port))
        await client.send(WsRequest(host="localhost", target=target, subprotocols=subprotocols))
        return client, await client.next_event()

    async def send(self, event: Event) -> None:
        await self.stream.send_all(self.ws.send(event))

    async def next_event(self) -> Event:
        with trio.fail_after(5):
            while not self.pending:
                data = await self.stream.receive_some(65536)
                self.ws.receive_data(data or None)
                self.pending.extend(self.ws.events())
        return self.pending.pop(0)

    async def message(self) -> str | bytes:
        parts: list[Any] = []
        while True:
            event = await self.next_event()
            assert isinstance(event, TextMessage | BytesMessage), event
            parts.append(event.data)
            if event.message_finished:
                return "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)

    async def eof(self) -> bool:
        with trio.fail_after(5):
            try:
                return await self.stream.receive_some(65536) == b""
            except trio.BrokenResourceError:
                return True


# -- tests ------------------------------------------------------------------------------------


async def test_echo_with_jmap_subprotocol(port: int) -> None:
    client, event = await Client.connect(port, "/jmap/ws", ["foo", "jmap"])
    assert isinstance(event, AcceptConnection)
    assert event.subprotocol == "jmap"
    await client.send(TextMessage(data='{"@type":"Request","using":[]}'))
    assert await client.message() == '{"@type":"Request","using":[]}'
    await client.send(BytesMessage(data=b"\x00\x01\xff"))
    assert await client.message() == b"\x00\x01\xff"
    await client.send(TextMessage(data="whoami"))
    assert await client.message() == "/jmap/ws jmap"
    await client.send(TextMessage(data="jörg ✓"))
    assert await client.message() == "jörg ✓"
    # Closing handshake: our Close is echoed, then the server closes TCP.
    await client.send(CloseConnection(code=1000, reason="done"))
    event = await client.next_event()
    assert isinstance(event, CloseConnection) and event.code == 1000
    assert await client.eof()


async def test_no_subprotocol_offered(port: int) -> None:
    client, event = await Client.connect(port, "/any", [])
    assert isinstance(event, AcceptConnection)
    assert event.subprotocol is None
    await client.send(TextMessage(data="hi"))
    assert await client.message() == "hi"


async def test_required_subprotocol_missing_is_rejected(port: int) -> None:
    client, event = await Client.connect(port, "/jmap/ws", ["chat"])
    assert isinstance(event, RejectConnection)
    assert event.status_code == 400
    body = b""
    while True:
        ev = await client.next_event()
        assert isinstance(ev, RejectData)
        body += ev.data
        if ev.body_finished:
            break
    assert b"jmap" in body


async def test_fragmented_message_is_reassembled(port: int) -> None:
    client, _ = await Client.connect(port, "/any", [])
    await client.send(TextMessage(data="hel", message_finished=False))
    await client.send(TextMessage(data="lo", message_finished=True))
    assert await client.message() == "hello"


async def test_ping_is_answered(port: int) -> None:
    client, _ = await Client.connect(port, "/any", [])
    await client.send(Ping(payload=b"are you there"))
    await client.send(TextMessage(data="after ping"))
    event = await client.next_event()
    assert isinstance(event, Pong) and event.payload == b"are you there"
    assert await client.message() == "after ping"


async def test_message_too_big_closes_with_1009(port: int) -> None:
    client, _ = await Client.connect(port, "/any", [])
    await client.send(TextMessage(data="x" * 600, message_finished=False))
    await client.send(TextMessage(data="y" * 600, message_finished=True))
    event = await client.next_event()
    assert isinstance(event, CloseConnection) and event.code == 1009


async def test_invalid_utf8_closes_with_1007(port: int) -> None:
    client, _ = await Client.connect(port, "/any", [])
    frame = bytearray([0x81, 0x82, 1, 2, 3, 4])  # FIN + text, masked, 2 bytes
    frame += bytes(b ^ m for b, m in zip(b"\xc3\x28", b"\x01\x02", strict=True))
    await client.stream.send_all(bytes(frame))
    event = await client.next_event()
    assert isinstance(event, CloseConnection) and event.code == 1007


async def test_server_push_and_server_close(port: int) -> None:
    client, _ = await Client.connect(port, "/push", [])
    assert [await client.message() for _ in range(3)] == ["push 0", "push 1", "push 2"]
    event = await client.next_event()
    assert isinstance(event, CloseConnection)
    assert (event.code, event.reason) == (1000, "bye")
    await client.send(event.response())
    assert await client.eof()


async def test_handler_exception_closes_with_1011(port: int) -> None:
    client, _ = await Client.connect(port, "/failing", [])
    await client.send(TextMessage(data="trigger"))
    event = await client.next_event()
    assert isinstance(event, CloseConnection) and event.code == 1011
    reason = event.reason or ""
    assert "handler bug" not in reason
    assert reason.startswith("internal error, reference ")


async def test_send_while_receiving(port: int) -> None:
    client, _ = await Client.connect(port, "/ticker", [])
    await client.send(TextMessage(data="a"))
    got = [await client.message() for _ in range(6)]
    assert sorted(m for m in got if isinstance(m, str) and m.startswith("tick")) == [
        f"tick {i}" for i in range(5)
    ]
    assert "echo a" in got


async def test_first_frame_in_the_handshake_packet(port: int) -> None:
    """Bytes after the opening handshake (h11's trailing data) reach the WebSocket."""
    framer = Connection(ConnectionType.CLIENT)
    frame = framer.send(TextMessage(data="early bird"))
    handshake = (
        b"GET /any HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(handshake + frame)
    data = b""
    with trio.fail_after(5):
        while b"early bird" not in data:
            data += await stream.receive_some(65536)
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 101 ")
    # RFC 6455 §1.3's own example key and accept value.
    assert b"sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=" in head
    await stream.aclose()


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(data)
        return sock.recv(65536)


@pytest.mark.parametrize(
    ("extra", "status", "marker"),
    [
        (
            b"Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            426,
            b"sec-websocket-version: 13",
        ),
        (b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n", 400, b"problem+json"),
    ],
)
async def test_bad_handshakes(port: int, extra: bytes, status: int, marker: bytes) -> None:
    data = (
        b"GET /any HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + extra
        + b"\r\n"
    )
    out = await trio.to_thread.run_sync(_raw, port, data)
    assert out.startswith(b"HTTP/1.1 %d " % status)
    assert marker in out.lower()


async def test_upgrade_to_plain_route_gets_a_normal_response(port: int) -> None:
    client, event = await Client.connect(port, "/plain", [])
    assert isinstance(event, RejectConnection)
    assert event.status_code == 200
