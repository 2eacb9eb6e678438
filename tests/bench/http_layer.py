"""Keep-alive throughput of the HTTP layer against a trivial handler (not a test).

The server runs in a child process (its own core); the client, in this process, drives N
keep-alive connections with raw sockets and a selector, one request in flight per connection
(no pipelining), and counts complete responses.

    .venv/bin/python -m tests.bench.http_layer [--seconds 5] [--connections 1 8]

Reference: raw trio + h11 ≈3,300 req/s keep-alive on one core (DESIGN.md §5).
"""

from __future__ import annotations

import argparse
import multiprocessing
import selectors
import socket
import time
from multiprocessing.connection import Connection
from typing import cast

REQUEST = b"GET /ping HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n"


def _serve(pipe: Connection) -> None:
    import trio

    from protocols.http import Request, Response, Router, serve_http

    async def ping(request: Request) -> Response:
        return Response.text("pong")

    async def main() -> None:
        router = Router()
        router.add("/ping", ping)
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(serve_http, router, "127.0.0.1", 0)
            pipe.send(listeners[0].socket.getsockname()[1])

    trio.run(main)


def _response_end(buf: bytes) -> int:
    """Offset just past the first complete response in ``buf``, or -1."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return -1
    head = buf[:head_end].lower()
    start = head.find(b"content-length:")
    if start < 0:
        raise RuntimeError("response without Content-Length")
    stop = head.find(b"\r\n", start)
    length = int(head[start + 15 : stop if stop >= 0 else None])
    end = head_end + 4 + length
    return end if len(buf) >= end else -1


def run_client(port: int, connections: int, seconds: float) -> float:
    """Requests per second over ``connections`` keep-alive connections."""
    sel = selectors.DefaultSelector()
    buffers: dict[socket.socket, bytes] = {}
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        sock.send(REQUEST)
        buffers[sock] = b""
        sel.register(sock, selectors.EVENT_READ)
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for key, _ in sel.select(timeout=1):
            sock = cast(socket.socket, key.fileobj)
            assert isinstance(sock, socket.socket)
            data = sock.recv(65536)
            if not data:
                raise RuntimeError("server closed a keep-alive connection")
            buf = buffers[sock] + data
            end = _response_end(buf)
            while end >= 0:
                done += 1
                buf = buf[end:]
                sock.send(REQUEST)
                end = _response_end(buf)
            buffers[sock] = buf
    elapsed = time.perf_counter() - start
    for sock in buffers:
        sock.close()
    sel.close()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    try:
        port = parent.recv()
        run_client(port, 1, 0.5)  # warm up
        for n in args.connections:
            rate = run_client(port, n, args.seconds)
            print(f"{n:3d} connection(s): {rate:8.0f} req/s (keep-alive, trivial handler)")
    finally:
        proc.terminate()
        proc.join(5)


if __name__ == "__main__":
    main()
