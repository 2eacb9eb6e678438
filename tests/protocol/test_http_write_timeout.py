"""``HttpLimits.write_timeout`` over a real loopback socket: a client that stops reading a large
response is disconnected, while one that reads gets it whole and keeps its connection (every
write of a connection shares one cancel scope whose deadline is set per write)."""

from __future__ import annotations

import socket
import time
from functools import partial

import trio

from protocols.http import HttpLimits, HttpServer, Request, Response, Router

BODY = b"x" * (48 * 1024 * 1024)  # far more than the socket buffers on both sides hold


def app() -> Router:
    router = Router()

    async def big(request: Request) -> Response:
        return Response.binary(BODY, "application/octet-stream")

    async def small(request: Request) -> Response:
        return Response.text("ok")

    router.add("/big", big)
    router.add("/small", small)
    return router


async def start(nursery: trio.Nursery, write_timeout: float) -> tuple[HttpServer, int]:
    server = HttpServer(app(), limits=HttpLimits(write_timeout=write_timeout), access_log=False)
    listeners = await nursery.start(partial(server.serve, "127.0.0.1", 0))
    return server, int(listeners[0].socket.getsockname()[1])


def stalled_client(port: int) -> bool:
    """Asks for /big, reads nothing for a while, then drains: True when the server closed the
    connection before the whole body arrived."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(2.0)  # not reading: the server's write stalls past its timeout
        sock.settimeout(5)
        received = 0
        try:
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
        return received < len(BODY)


async def test_a_client_that_stops_reading_is_disconnected(nursery: trio.Nursery) -> None:
    server, port = await start(nursery, write_timeout=0.5)
    assert await trio.to_thread.run_sync(stalled_client, port)
    with trio.fail_after(5):
        while server.active_connections:
            await trio.sleep(0.05)


async def test_a_reading_client_gets_it_all_and_keeps_the_connection(nursery: trio.Nursery) -> None:
    # The deadline is per write: generous, so that a client on a loaded machine still reads
    # in time (the stalled client above waits well beyond the other test's 0.5 s).
    _, port = await start(nursery, write_timeout=10.0)

    def client() -> tuple[int, bytes]:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            data = bytearray()  # not bytes: += on 48 MiB of bytes is quadratic
            while not data.endswith(b"\r\n\r\nok"):
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
            return len(data), bytes(data[-2:])

    size, tail = await trio.to_thread.run_sync(client)
    assert size > len(BODY) and tail == b"ok"  # and the connection was kept for the next one
