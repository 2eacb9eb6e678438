"""The HTTP/1.1 server over real loopback sockets: the server runs in the test's trio loop, the
clients are Python's ``http.client``/``urllib`` in worker threads, raw sockets for what those
clients cannot express, and h11-on-trio clients for many concurrent connections."""

from __future__ import annotations

import datetime
import gzip
import hashlib
import http.client
import json
import logging
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import h11
import pytest
import trio

from protocols.http import (
    BasicCredentials,
    BearerToken,
    CorsPolicy,
    HttpLimits,
    HttpServer,
    MalformedAuthorization,
    Request,
    Response,
    Router,
    StreamingResponse,
    WebSocketUpgrade,
    parse_authorization,
    problem,
    serve_http,
    unauthorized,
)
from store.errors import ErrorKind, MailError

T = TypeVar("T")
BIG_TEXT = ("All work and no play makes Jack a dull boy. " * 200).encode()


# -- the application under test ---------------------------------------------------------------


class Recorder:
    """Remembers what handlers saw, and signals stream shutdowns."""

    def __init__(self) -> None:
        self.peers: list[str] = []
        self.tls: list[bool] = []
        self.stream_closed = trio.Event()


def build_app(rec: Recorder) -> Router:
    router = Router()

    async def session(request: Request) -> Response:
        rec.peers.append(request.peer)
        rec.tls.append(request.tls)
        return Response.json({"path": request.path, "method": request.method})

    async def echo(request: Request) -> Response:
        return Response.json(
            {
                "size": len(request.body),
                "sha256": hashlib.sha256(request.body).hexdigest(),
                "params": dict(request.path_params),
                "query": [list(p) for p in request.query],
            }
        )

    async def download(request: Request) -> Response:
        return Response.binary(
            BIG_TEXT,
            "text/plain",
            headers={"etag": '"blob1"', "x-name": request.path_params["name"]},
        )

    async def image(request: Request) -> Response:
        return Response.binary(BIG_TEXT, "image/png")

    async def small(request: Request) -> Response:
        return Response.text("tiny")

    async def boom(request: Request) -> Response:
        raise RuntimeError("secret-internal-detail")

    async def missing(request: Request) -> Response:
        raise MailError(ErrorKind.NOT_FOUND, "no such blob")

    async def bad_status(request: Request) -> Response:
        return Response(42)

    async def bad_header(request: Request) -> Response:
        return Response.text("x", headers={"x-bad": "line\r\nInjected: yes"})

    async def whoami(request: Request) -> Response:
        try:
            creds = parse_authorization(request)
        except MalformedAuthorization as exc:
            return problem(400, detail=str(exc))
        if isinstance(creds, BasicCredentials) and creds.password == "sesame":
            return Response.json({"user": creds.username})
        if isinstance(creds, BearerToken) and creds.token == "tok.en":
            return Response.json({"token": True})
        return unauthorized()

    async def events(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                for i in range(3):
                    yield f"event: state\ndata: {i}\n\n".encode()
                    await trio.sleep(0.3)
            finally:
                rec.stream_closed.set()

        return StreamingResponse.event_stream(chunks())

    async def endless(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b": ping\n\n"
                    await trio.sleep(0.05)
            finally:
                rec.stream_closed.set()

        return StreamingResponse.event_stream(chunks())

    async def broken_stream(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"data: 1\n\n"
            raise RuntimeError("stream failed")

        return StreamingResponse.event_stream(chunks())

    async def not_ws(request: Request) -> WebSocketUpgrade:
        async def handler(ws: Any) -> None:
            return None

        return WebSocketUpgrade(handler)

    router.add("/.well-known/jmap", session, ("GET",))
    router.add("/jmap/", echo, ("POST",))
    router.add("/jmap/upload/{accountId}/", echo, ("POST",), max_body=1000)
    router.add("/jmap/download/{accountId}/{blobId}/{name}", download, ("GET",))
    router.add("/image", image)
    router.add("/small", small)
    router.add("/boom", boom, ("GET", "POST"))
    router.add("/missing", missing)
    router.add("/bad-status", bad_status)
    router.add("/bad-header", bad_header)
    router.add("/whoami", whoami)
    router.add("/jmap/eventsource/", events)
    router.add("/endless", endless)
    router.add("/broken-stream", broken_stream)
    router.add("/not-ws", not_ws)
    router.prefix("/admin/", echo, ("GET", "POST"))
    return router


FAST = HttpLimits(
    header_timeout=0.5,
    body_timeout=0.5,
    keep_alive_timeout=0.5,
    max_header_size=8192,
    max_body_size=100_000,
)


async def start(
    nursery: trio.Nursery,
    app: Any,
    *,
    ssl_context: ssl.SSLContext | None = None,
    **kwargs: Any,
) -> int:
    listeners = await nursery.start(
        partial(serve_http, app, "127.0.0.1", 0, ssl_context=ssl_context, **kwargs)
    )
    return int(listeners[0].socket.getsockname()[1])


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
async def port(nursery: trio.Nursery, rec: Recorder) -> int:
    cors = CorsPolicy(origins=("https://webmail.example.com",))
    return await start(nursery, build_app(rec), limits=FAST, cors=cors)


async def in_thread(fn: Callable[[], T]) -> T:
    return await trio.to_thread.run_sync(fn)


# -- blocking client helpers (run in threads) -------------------------------------------------


def get(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    chunked: bool = False,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def raw(port: int, data: bytes, *, wait: float = 3.0) -> bytes:
    """Send ``data`` and read until the server closes (or ``wait`` passes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def parse_responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split raw response bytes (up to EOF) into (status, headers, body), with an h11 client."""
    client = h11.Connection(h11.CLIENT)
    client.receive_data(data)
    client.receive_data(b"")
    out: list[tuple[int, dict[str, str], bytes]] = []
    while True:
        client.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))
        client.send(h11.EndOfMessage())
        status, headers, body = 0, {}, b""
        while True:
            event = client.next_event()
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                out.append((status, headers, body))
                break
            elif not isinstance(event, h11.InformationalResponse):
                return out
        if client.their_state is not h11.DONE:
            return out
        client.start_next_cycle()


# -- basics -----------------------------------------------------------------------------------


async def test_get_json_with_date_server_and_request_id(port: int) -> None:
    status, headers, body = await in_thread(lambda: get(port, "GET", "/.well-known/jmap"))
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body) == {"path": "/.well-known/jmap", "method": "GET"}
    assert headers["Server"] == "stalwart-py"
    date = parsedate_to_datetime(headers["Date"])
    now = datetime.datetime.now(datetime.UTC)
    assert abs((now - date).total_seconds()) < 5
    assert len(headers["X-Request-Id"]) >= 8


async def test_access_log_can_be_turned_off(
    nursery: trio.Nursery, rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="protocols.http.access")
    quiet = await start(nursery, build_app(rec), limits=FAST, access_log=False)
    status, _, _ = await in_thread(lambda: get(quiet, "GET", "/small"))
    assert status == 200
    assert not [r for r in caplog.records if r.name == "protocols.http.access"]
    loud = await start(nursery, build_app(rec), limits=FAST)
    await in_thread(lambda: get(loud, "GET", "/small"))
    assert [r for r in caplog.records if r.name == "protocols.http.access"]


async def test_request_id_is_echoed_when_sane_and_replaced_when_not(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="protocols.http.access")
    _, h1, _ = await in_thread(
        lambda: get(port, "GET", "/small", headers={"X-Request-Id": "abc-123"})
    )
    assert h1["X-Request-Id"] == "abc-123"
    access = [r.getMessage() for r in caplog.records if r.name == "protocols.http.access"]
    assert any('"GET /small" 200' in line and "rid=abc-123" in line for line in access), access
    _, h2, _ = await in_thread(
        lambda: get(port, "GET", "/small", headers={"X-Request-Id": "bad id <script>"})
    )
    assert h2["X-Request-Id"] not in ("", "bad id <script>")


async def test_keep_alive_reuses_one_connection(port: int, rec: Recorder) -> None:
    def client() -> list[int]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        statuses = []
        for _ in range(5):
            conn.request("GET", "/.well-known/jmap")
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
            assert resp.getheader("Connection") is None
        sock = conn.sock
        conn.request("GET", "/.well-known/jmap")
        conn.getresponse().read()
        assert conn.sock is sock  # http.client reconnects (new socket) if the server closed
        conn.close()
        return statuses

    assert await in_thread(client) == [200] * 5
    assert len(rec.peers) == 6
    assert len(set(rec.peers)) == 1  # one peer address: one TCP connection


async def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    data = (
        b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /jmap/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    out = await in_thread(lambda: raw(port, data))
    responses = parse_responses(out)
    assert [r[0] for r in responses] == [200, 200, 404]
    assert json.loads(responses[1][2])["size"] == 3


async def test_http_1_0_gets_an_answer_and_close(port: int) -> None:
    out = await in_thread(lambda: raw(port, b"GET /small HTTP/1.0\r\n\r\n"))
    assert out.startswith(b"HTTP/1.1 200 ")
    assert out.endswith(b"tiny")


async def test_absolute_form_target(port: int) -> None:
    data = b"GET http://mail.example.com/small?x=1 HTTP/1.1\r\nHost: mail.example.com\r\n\r\n"

    def client() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(data)
            return sock.recv(65536)

    out = await in_thread(client)
    assert out.startswith(b"HTTP/1.1 200 ")


# -- routing ----------------------------------------------------------------------------------


async def test_404_and_405_with_allow(port: int) -> None:
    status, headers, body = await in_thread(lambda: get(port, "GET", "/nowhere"))
    assert status == 404
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["status"] == 404

    status, headers, body = await in_thread(lambda: get(port, "DELETE", "/.well-known/jmap"))
    assert status == 405
    assert set(headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert json.loads(body)["status"] == 405

    status, headers, _ = await in_thread(lambda: get(port, "GET", "/jmap/"))
    assert status == 405
    assert set(headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


async def test_path_parameters_and_prefix_routes(port: int) -> None:
    status, headers, _ = await in_thread(
        lambda: get(port, "GET", "/jmap/download/a1/B%2F2/n%C3%A4me%20x.txt")
    )
    assert status == 200
    assert headers["X-Name"] == "näme x.txt"  # sent as ISO-8859-1, read back as such
    status, _, body = await in_thread(lambda: get(port, "POST", "/admin/users/42?full=1", b"{}"))
    assert status == 200
    doc = json.loads(body)
    assert doc["params"] == {"path": "users/42"}
    assert doc["query"] == [["full", "1"]]
    status, _, _ = await in_thread(lambda: get(port, "GET", "/jmap/download/a1/b2"))
    assert status == 404


async def test_404_with_small_body_keeps_the_connection(port: int, rec: Recorder) -> None:
    def client() -> tuple[int, int]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/nowhere", body=b"x" * 1000)
        resp = conn.getresponse()
        resp.read()
        first_sock = conn.sock
        conn.request("GET", "/.well-known/jmap")
        resp2 = conn.getresponse()
        resp2.read()
        assert conn.sock is first_sock
        conn.close()
        return resp.status, resp2.status

    assert await in_thread(client) == (404, 200)


async def test_head_is_get_without_body(port: int) -> None:
    status, get_headers, get_body = await in_thread(lambda: get(port, "GET", "/small"))
    assert status == 200
    data = (
        b"HEAD /small HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    out = await in_thread(lambda: raw(port, data))
    # The HEAD answer carries GET's length but no body: the GET answer follows immediately.
    head_part, _, rest = out.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 200 ")
    assert f"content-length: {len(get_body)}".encode() in head_part.lower()
    assert rest.startswith(b"HTTP/1.1 200 ")
    assert rest.endswith(get_body)


async def test_options_without_cors_lists_allow(port: int) -> None:
    status, headers, body = await in_thread(lambda: get(port, "OPTIONS", "/jmap/"))
    assert status == 204
    assert set(headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert body == b""
    assert "Access-Control-Allow-Origin" not in headers


# -- bodies, limits and timeouts ---------------------------------------------------------------


async def test_chunked_upload(port: int) -> None:
    parts = [b"a" * 10, b"b" * 500, b"c" * 70]
    status, _, body = await in_thread(
        lambda: get(
            port,
            "POST",
            "/jmap/upload/acc1/",
            body=iter(parts),
            headers={"Content-Type": "application/octet-stream"},
            chunked=True,
        )
    )
    assert status == 200
    doc = json.loads(body)
    assert doc["size"] == 580
    assert doc["sha256"] == hashlib.sha256(b"".join(parts)).hexdigest()
    assert doc["params"] == {"accountId": "acc1"}


async def test_chunked_upload_over_the_route_limit_is_413(port: int) -> None:
    data = b"POST /jmap/upload/acc1/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    data += b"".join(b"%x\r\n%s\r\n" % (400, b"z" * 400) for _ in range(3)) + b"0\r\n\r\n"
    out = await in_thread(lambda: raw(port, data))
    assert out.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in out.lower()


async def test_content_length_over_limit_is_413_before_the_body(port: int) -> None:
    def client() -> tuple[bytes, bytes]:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(b"POST /jmap/ HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
            first = sock.recv(65536)  # answered without us sending a byte of the body
            rest = b""
            try:
                while chunk := sock.recv(65536):
                    rest += chunk
            except (TimeoutError, ConnectionResetError):
                rest += b"<timeout>"
            return first, rest

    first, rest = await in_thread(client)
    assert first.startswith(b"HTTP/1.1 413 ")
    assert json.loads(first.partition(b"\r\n\r\n")[2])["status"] == 413
    assert rest == b""  # then a clean close


async def test_expect_100_continue_accepted(port: int) -> None:
    def client() -> tuple[bytes, bytes]:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(
                b"POST /jmap/upload/a/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            interim = sock.recv(65536)
            sock.sendall(b"hello")
            final = sock.recv(65536)
            return interim, final

    interim, final = await in_thread(client)
    assert interim.startswith(b"HTTP/1.1 100 ")
    assert final.startswith(b"HTTP/1.1 200 ")
    assert (
        json.loads(final.partition(b"\r\n\r\n")[2])["sha256"]
        == hashlib.sha256(b"hello").hexdigest()
    )


async def test_expect_100_continue_rejected_when_too_large(port: int) -> None:
    data = (
        b"POST /jmap/upload/a/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    out = await in_thread(lambda: raw(port, data))
    assert out.startswith(b"HTTP/1.1 413 ")  # no 100 before it
    assert b" 100 " not in out.split(b"\r\n", 1)[0]


async def test_expect_100_continue_not_sent_for_unknown_path(port: int) -> None:
    data = b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    out = await in_thread(lambda: raw(port, data))
    assert out.startswith(b"HTTP/1.1 404 ")
    assert b"connection: close" in out.lower()


async def test_oversized_headers_get_431(port: int) -> None:
    data = b"GET /small HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    out = await in_thread(lambda: raw(port, data))
    assert out.startswith(b"HTTP/1.1 431 ")
    assert b"Traceback" not in out


async def test_slow_head_gets_408(port: int) -> None:
    def client() -> tuple[bytes, float]:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n")  # never finished
            t0 = time.monotonic()
            out = b""
            while chunk := sock.recv(65536):
                out += chunk
            return out, time.monotonic() - t0

    out, elapsed = await in_thread(client)
    assert out.startswith(b"HTTP/1.1 408 ")
    assert 0.3 < elapsed < 4


async def test_slow_body_gets_408(port: int) -> None:
    data = b"POST /jmap/ HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"
    out = await in_thread(lambda: raw(port, data))
    assert out.startswith(b"HTTP/1.1 408 ")


async def test_idle_keep_alive_connection_is_closed_silently(port: int) -> None:
    def client() -> tuple[bytes, bytes, float]:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
            first = sock.recv(65536)
            t0 = time.monotonic()
            rest = sock.recv(65536)
            return first, rest, time.monotonic() - t0

    first, rest, elapsed = await in_thread(client)
    assert first.startswith(b"HTTP/1.1 200 ")
    assert rest == b""
    assert 0.3 < elapsed < 4


async def test_silent_new_connection_is_closed_without_a_response(port: int) -> None:
    out = await in_thread(lambda: raw(port, b""))
    assert out == b""


# -- malformed requests and handler failures --------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /small HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /small HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host (RFC 9112 §3.2)
        b"POST /jmap/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST /jmap/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)) + b"\r\n\r\n",
    ],
)
async def test_malformed_requests_get_400_and_a_clean_close(port: int, data: bytes) -> None:
    out = await in_thread(lambda: raw(port, data))
    assert out.startswith(b"HTTP/1.1 400 "), out[:80]
    assert b"connection: close" in out.lower()
    assert b"Traceback" not in out
    body = out.partition(b"\r\n\r\n")[2]
    assert json.loads(body)["status"] == 400


async def test_unsupported_major_version_gets_505(port: int) -> None:
    out = await in_thread(lambda: raw(port, b"GET /small HTTP/2.0\r\nHost: x\r\n\r\n"))
    assert out.startswith(b"HTTP/1.1 505 ")


async def test_handler_exception_is_a_500_problem_without_traceback(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="protocols.http")
    status, headers, body = await in_thread(
        lambda: get(port, "GET", "/boom", headers={"X-Request-Id": "req-777"})
    )
    assert status == 500
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body) == {
        "type": "about:blank",
        "status": 500,
        "detail": "internal error, reference req-777",
    }
    assert b"secret-internal-detail" not in body and b"Traceback" not in body
    logged = [r for r in caplog.records if "req-777" in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "secret-internal-detail" in str(logged[0].exc_info[1])
    # The connection survives a handler failure.
    status, _, _ = await in_thread(lambda: get(port, "POST", "/boom", body=b"x"))
    assert status == 500


async def test_invalid_replies_become_500(port: int) -> None:
    for path in ("/bad-status", "/bad-header"):
        status, headers, body = await in_thread(lambda p=path: get(port, "GET", p))  # type: ignore[misc]
        assert status == 500, path
        assert "Injected" not in headers
        assert json.loads(body)["detail"].startswith("internal error, reference ")


async def test_mail_error_maps_to_status(port: int) -> None:
    status, _, body = await in_thread(lambda: get(port, "GET", "/missing"))
    assert status == 404
    assert json.loads(body)["detail"] == "no such blob"


async def test_upgrade_reply_to_plain_request_is_426(port: int) -> None:
    status, headers, _ = await in_thread(lambda: get(port, "GET", "/not-ws"))
    assert status == 426
    assert headers["Upgrade"] == "websocket"


# -- authentication ---------------------------------------------------------------------------


async def test_basic_and_bearer_authentication(port: int) -> None:
    import base64

    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    status, headers, body = await in_thread(lambda: get(port, "GET", "/whoami"))
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="stalwart-py", charset="UTF-8"'
    assert json.loads(body)["status"] == 401

    status, _, body = await in_thread(
        lambda: get(port, "GET", "/whoami", headers=basic("jörg@example.org", "sesame"))
    )
    assert status == 200
    assert json.loads(body) == {"user": "jörg@example.org"}

    status, _, _ = await in_thread(
        lambda: get(port, "GET", "/whoami", headers=basic("jörg@example.org", "wrong"))
    )
    assert status == 401

    status, _, body = await in_thread(
        lambda: get(port, "GET", "/whoami", headers={"Authorization": "Bearer tok.en"})
    )
    assert status == 200 and json.loads(body) == {"token": True}

    status, _, _ = await in_thread(
        lambda: get(port, "GET", "/whoami", headers={"Authorization": "Basic !!notbase64"})
    )
    assert status == 400


# -- gzip -------------------------------------------------------------------------------------


async def test_gzip_when_accepted(port: int) -> None:
    path = "/jmap/download/a/b/c.txt"
    status, headers, body = await in_thread(
        lambda: get(port, "GET", path, headers={"Accept-Encoding": "br, gzip;q=0.8"})
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers["Vary"]
    assert int(headers["Content-Length"]) == len(body) < len(BIG_TEXT)
    assert gzip.decompress(body) == BIG_TEXT
    assert headers["ETag"] == 'W/"blob1"'  # a strong validator no longer fits

    # urllib asks for nothing, so it gets identity.
    def plain() -> tuple[str | None, bytes]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.headers["Content-Encoding"], resp.read()

    encoding, body = await in_thread(plain)
    assert encoding is None and body == BIG_TEXT


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/jmap/download/a/b/c.txt", "gzip;q=0"),
        ("/jmap/download/a/b/c.txt", "identity"),
        ("/small", "gzip"),  # below the minimum size
        ("/image", "gzip"),  # already compressed media type
    ],
)
async def test_no_gzip(port: int, path: str, accept: str) -> None:
    status, headers, body = await in_thread(
        lambda: get(port, "GET", path, headers={"Accept-Encoding": accept})
    )
    assert status == 200
    assert "Content-Encoding" not in headers
    assert int(headers["Content-Length"]) == len(body)


async def test_head_with_gzip_reports_the_gzipped_length(port: int) -> None:
    path = "/jmap/download/a/b/c.txt"
    hdrs = {"Accept-Encoding": "gzip"}
    _, get_headers, body = await in_thread(lambda: get(port, "GET", path, headers=hdrs))
    status, head_headers, head_body = await in_thread(lambda: get(port, "HEAD", path, headers=hdrs))
    assert status == 200 and head_body == b""
    assert head_headers["Content-Length"] == get_headers["Content-Length"] == str(len(body))


# -- CORS -------------------------------------------------------------------------------------


async def test_cors_preflight_from_allowed_origin(port: int) -> None:
    status, headers, body = await in_thread(
        lambda: get(
            port,
            "OPTIONS",
            "/jmap/",
            headers={
                "Origin": "https://webmail.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
    )
    assert status == 204 and body == b""
    assert headers["Access-Control-Allow-Origin"] == "https://webmail.example.com"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in headers["Vary"]


async def test_cors_preflight_from_other_origin_gets_no_grant(port: int) -> None:
    status, headers, _ = await in_thread(
        lambda: get(
            port,
            "OPTIONS",
            "/jmap/",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    )
    assert status == 204
    assert "Access-Control-Allow-Origin" not in headers
    assert "Access-Control-Allow-Methods" not in headers


async def test_cors_simple_request_exposes_headers(port: int) -> None:
    status, headers, _ = await in_thread(
        lambda: get(
            port, "GET", "/.well-known/jmap", headers={"Origin": "https://webmail.example.com"}
        )
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "https://webmail.example.com"
    assert "X-Request-Id" in headers["Access-Control-Expose-Headers"]
    # Errors carry CORS too, so that a browser script can read them.
    status, headers, _ = await in_thread(
        lambda: get(port, "GET", "/boom", headers={"Origin": "https://webmail.example.com"})
    )
    assert status == 500
    assert headers["Access-Control-Allow-Origin"] == "https://webmail.example.com"


async def test_cors_wildcard(nursery: trio.Nursery, rec: Recorder) -> None:
    port = await start(nursery, build_app(rec), cors=CorsPolicy(origins=("*",)))
    _, headers, _ = await in_thread(
        lambda: get(port, "GET", "/small", headers={"Origin": "https://any.example"})
    )
    assert headers["Access-Control-Allow-Origin"] == "*"
    _, headers, _ = await in_thread(lambda: get(port, "GET", "/small"))
    assert "Access-Control-Allow-Origin" not in headers


# -- streaming --------------------------------------------------------------------------------


async def test_event_stream_chunks_arrive_as_they_are_produced(port: int, rec: Recorder) -> None:
    def client() -> tuple[http.client.HTTPMessage, list[tuple[float, bytes]]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/jmap/eventsource/", headers={"Accept-Encoding": "gzip"})
        resp = conn.getresponse()
        t0 = time.monotonic()
        lines = []
        while line := resp.readline():
            if line.startswith(b"data:"):
                lines.append((time.monotonic() - t0, line.strip()))
        conn.close()
        return resp.headers, lines

    headers, lines = await in_thread(client)
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Transfer-Encoding"] == "chunked"
    assert "Content-Encoding" not in headers
    assert [line for _, line in lines] == [b"data: 0", b"data: 1", b"data: 2"]
    # Each event was readable ~0.3 s before the next was produced: flushed per chunk.
    assert lines[0][0] < 0.2
    assert lines[1][0] - lines[0][0] > 0.2
    assert lines[2][0] - lines[1][0] > 0.2
    with trio.fail_after(2):
        await rec.stream_closed.wait()


async def test_stream_ends_when_client_disconnects(port: int, rec: Recorder) -> None:
    def client() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
            return sock.recv(65536)

    first = await in_thread(client)
    assert first.startswith(b"HTTP/1.1 200 ")
    with trio.fail_after(3):
        await rec.stream_closed.wait()  # the generator's finally ran


async def test_stream_keeps_the_connection_alive(port: int) -> None:
    data = (
        b"GET /jmap/eventsource/ HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    out = await in_thread(lambda: raw(port, data))
    responses = parse_responses(out)
    assert [r[0] for r in responses] == [200, 200]
    assert responses[0][2].count(b"data: ") == 3
    assert responses[1][2] == b"tiny"


async def test_failing_stream_is_aborted_not_completed(port: int) -> None:
    out = await in_thread(lambda: raw(port, b"GET /broken-stream HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert out.startswith(b"HTTP/1.1 200 ")
    assert b"data: 1" in out
    assert not out.endswith(b"0\r\n\r\n")  # no last-chunk: the client sees a truncated body


# -- TLS --------------------------------------------------------------------------------------


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_port_serves_the_same_app(
    nursery: trio.Nursery, rec: Recorder, tmp_path: Path
) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    server = HttpServer(build_app(rec), limits=FAST)
    plain = await nursery.start(partial(server.serve, "127.0.0.1", 0))
    secure = await nursery.start(partial(server.serve, "127.0.0.1", 0, ssl_context=server_ctx))
    plain_port = plain[0].socket.getsockname()[1]
    tls_port = secure[0].socket.getsockname()[1]
    client_ctx = ssl.create_default_context(cafile=str(cert))

    def client() -> list[int]:
        conn = http.client.HTTPSConnection("localhost", tls_port, context=client_ctx, timeout=5)
        statuses = []
        for _ in range(3):  # keep-alive over TLS
            conn.request("GET", "/.well-known/jmap", headers={"Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
        conn.request("GET", "/jmap/download/a/b/c", headers={"Accept-Encoding": "gzip"})
        resp = conn.getresponse()
        assert gzip.decompress(resp.read()) == BIG_TEXT
        conn.close()
        return statuses

    assert await in_thread(client) == [200, 200, 200]
    status, _, _ = await in_thread(lambda: get(plain_port, "GET", "/.well-known/jmap"))
    assert status == 200
    assert rec.tls == [True, True, True, False]
    assert len(set(rec.peers[:3])) == 1

    # Plain HTTP to the TLS port: the handshake fails and the connection is closed.
    out = await in_thread(lambda: raw(tls_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert b"200" not in out


# -- concurrency ------------------------------------------------------------------------------


async def h11_fetch(
    stream: trio.abc.Stream, client: h11.Connection, method: str, target: str
) -> tuple[int, bytes]:
    await stream.send_all(
        client.send(h11.Request(method=method, target=target, headers=[("host", "x")]))
        + client.send(h11.EndOfMessage())
    )
    status, body = 0, b""
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA:
            client.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            client.start_next_cycle()
            return status, body
        else:
            raise AssertionError(f"unexpected {event!r}")


async def test_many_concurrent_connections(port: int, rec: Recorder) -> None:
    results: list[int] = []

    async def one_client() -> None:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            client = h11.Connection(h11.CLIENT)
            for _ in range(4):
                status, body = await h11_fetch(stream, client, "GET", "/.well-known/jmap")
                assert json.loads(body)["method"] == "GET"
                results.append(status)

    with trio.fail_after(20):
        async with trio.open_nursery() as clients:
            for _ in range(150):
                clients.start_soon(one_client)
    assert results == [200] * 600
    assert len(set(rec.peers)) == 150


async def test_connections_over_the_limit_get_503(nursery: trio.Nursery, rec: Recorder) -> None:
    limits = HttpLimits(max_connections=2, keep_alive_timeout=5)
    port = await start(nursery, build_app(rec), limits=limits)
    held = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(2)]
    clients = [h11.Connection(h11.CLIENT) for _ in held]
    for stream, client in zip(held, clients, strict=True):
        assert (await h11_fetch(stream, client, "GET", "/small"))[0] == 200
    out = await in_thread(lambda: raw(port, b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert out.startswith(b"HTTP/1.1 503 ")
    assert b"retry-after: 1" in out.lower()
    await held[0].aclose()
    await trio.sleep(0.1)
    status, _, _ = await in_thread(lambda: get(port, "GET", "/small"))
    assert status == 200
    await held[1].aclose()


async def test_urllib_error_statuses(port: int) -> None:
    def client() -> int:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nowhere", timeout=5)
        except urllib.error.HTTPError as exc:
            assert exc.headers["Content-Type"] == "application/problem+json"
            return exc.code
        return 0

    assert await in_thread(client) == 404
