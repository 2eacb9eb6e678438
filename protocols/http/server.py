"""The trio HTTP/1.1 server: h11 parses and frames, this module moves bytes and enforces limits.

Per connection: keep-alive (RFC 9112 §9.3) until the client closes, asks to close, idles past
``keep_alive_timeout`` or an error forces a close.  Per request: read the head (431 if too large,
408 if too slow), ask the application to admit it (early 404/405/401 without reading the body),
answer ``Expect: 100-continue`` only once admitted (RFC 9110 §10.1.1), read the body within its
limit (413) and timeout (408), call the handler, then write the reply: a complete response
(optionally gzipped), a stream (chunked, flushed per chunk) or a WebSocket upgrade.

Guarantees: no traceback on the wire (a failing handler gives a 500 problem whose reference is
the request id, logged with the traceback); a malformed request gets 400 and a clean close.
"""

from __future__ import annotations

import logging
import math
import secrets
import ssl
import time
from collections.abc import AsyncIterator

import h11
import trio

from store.errors import MailError

from .compress import accepts_gzip, compressible, gzip_bytes
from .cors import CorsPolicy
from .errors import response_for_error
from .handshake import accept_fields, handshake_refusal
from .headers import Headers
from .limits import HttpLimits
from .messages import (
    Admitted,
    Handler,
    HandlerApp,
    HttpApp,
    Reply,
    Request,
    Response,
    StreamingResponse,
    WebSocketUpgrade,
)
from .problem import internal_error, problem
from .response import (
    NO_LENGTH_STATUS,
    HeadWriter,
    encode_headers,
    response_event,
    vary_on_encoding,
)
from .target import head_size, request_id, split_target
from .websocket import INTERNAL_ERROR, NEED_DATA, NORMAL_CLOSURE, WebSocketClosed, WebSocketCore

log = logging.getLogger("protocols.http")
access_log = logging.getLogger("protocols.http.access")

SERVER_NAME = "stalwart-py"
_RECEIVE_SIZE = 65536
_LINGER_SECONDS = 2.0
_GZIP_IN_THREAD = 256 * 1024
_EOM = h11.EndOfMessage()


class _Closed(Exception):
    """The transport is gone, or a write timed out: stop serving this connection."""


class _Timeout(Exception):
    """A head or body did not arrive in time: 408."""


class _TooLarge(Exception):
    """A body exceeded its limit: 413, or the route's own answer for that."""

    def __init__(self, response: Response | None = None) -> None:
        super().__init__("request body too large")
        self.response = response


def _format_peer(stream: trio.SocketStream) -> str:
    try:
        addr = stream.socket.getpeername()
    except OSError:
        return "unknown"
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[0], addr[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(addr)


async def _aclose_iterator(chunks: AsyncIterator[bytes]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is None:
        return
    with trio.move_on_after(1) as scope:
        scope.shield = True
        try:
            await aclose()
        except Exception:
            log.exception("closing a streaming response's iterator failed")


class HttpServer:
    """One application served on any number of listeners (a plain and a TLS port, say), with
    the connection limit shared between them."""

    def __init__(
        self,
        app: HttpApp | Handler,
        *,
        limits: HttpLimits | None = None,
        cors: CorsPolicy | None = None,
        server_name: str = SERVER_NAME,
        access_log: bool = True,
    ) -> None:
        self.app: HttpApp = app if hasattr(app, "admit") else HandlerApp(app)  # type: ignore[arg-type]
        self.limits = limits or HttpLimits()
        self.cors = cors or CorsPolicy()
        self.server_name = server_name
        self.heads = HeadWriter(server_name)
        self.access_log = access_log  # one info line per request on "protocols.http.access"
        self.active_connections = 0

    async def serve(
        self,
        host: str | None,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        listeners: list[trio.SocketListener] | None = None,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` (0 picks a port), or serve on ``listeners`` already bound to
        it, until cancelled; ``task_status.started`` receives the listeners."""

        async def handler(stream: trio.SocketStream) -> None:
            await self.serve_connection(stream, ssl_context=ssl_context, peer=_format_peer(stream))

        if listeners is None:
            listeners = await trio.open_tcp_listeners(port, host=host)
        await trio.serve_listeners(handler, listeners, task_status=task_status)

    async def serve_connection(
        self,
        stream: trio.abc.Stream,
        *,
        ssl_context: ssl.SSLContext | None = None,
        peer: str = "unknown",
    ) -> None:
        """Serve one connection until it closes; always closes ``stream``."""
        self.active_connections += 1
        over_limit = self.active_connections > self.limits.max_connections
        try:
            if ssl_context is not None:
                tls = trio.SSLStream(stream, ssl_context, server_side=True, https_compatible=True)
                stream = tls
                with trio.move_on_after(self.limits.header_timeout) as scope:
                    try:
                        await tls.do_handshake()
                    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                        log.debug("TLS handshake with %s failed: %s", peer, exc)
                        return
                if scope.cancelled_caught:
                    return
            conn = _Connection(self, stream, peer, ssl_context is not None)
            with conn.io_scope:
                if over_limit:
                    await conn.refuse_busy()
                else:
                    await conn.run()
            if conn.io_scope.cancelled_caught:
                raise _Closed  # a write timed out, or the connection idled out
        except _Closed:
            log.debug("HTTP connection from %s closed by the peer or timed out", peer)
        except Exception:
            log.exception("HTTP connection with %s failed (ref %s)", peer, secrets.token_hex(8))
        finally:
            self.active_connections -= 1
            with trio.move_on_after(1) as cleanup:
                cleanup.shield = True
                try:
                    await stream.aclose()
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass


async def serve_http(
    app: HttpApp | Handler,
    host: str | None,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    limits: HttpLimits | None = None,
    cors: CorsPolicy | None = None,
    server_name: str = SERVER_NAME,
    access_log: bool = True,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``host:port`` until cancelled (TLS when ``ssl_context`` is given).

    To share the connection limit between a plain and a TLS port, build one
    :class:`HttpServer` and call :meth:`HttpServer.serve` twice.
    """
    server = HttpServer(
        app, limits=limits, cors=cors, server_name=server_name, access_log=access_log
    )
    await server.serve(host, port, ssl_context=ssl_context, task_status=task_status)


class _Connection:
    def __init__(self, server: HttpServer, stream: trio.abc.Stream, peer: str, tls: bool) -> None:
        self.server = server
        self.limits = server.limits
        self.stream = stream
        self.peer = peer
        self.tls = tls
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header_size)
        self.linger = False  # the peer may still be sending: drain before closing
        self.eof = False
        # Every write of the connection, and the wait for the first byte of each request, runs
        # under this one scope, its deadline set for that wait (``write_timeout``; the idle or
        # first-byte timeout) and cleared after: a client that stops reading, or sends nothing,
        # has its connection cancelled and closed, without a new cancel scope per request.
        self.io_scope = trio.CancelScope()

    def _write_deadline(self) -> None:
        self.io_scope.deadline = trio.current_time() + self.limits.write_timeout

    # -- transport -------------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        if not data:
            return
        self._write_deadline()
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise _Closed from exc
        finally:
            self.io_scope.deadline = math.inf

    async def send_parts(self, parts: list[bytes]) -> None:
        """Sends the pieces of one response in one system call where the transport allows
        (``sendmsg`` on a plain socket: the body is not copied into a joined buffer)."""
        stream = self.stream
        if type(stream) is not trio.SocketStream or len(parts) < 2:
            await self.send(b"".join(parts))
            return
        total = sum(len(p) for p in parts)
        self._write_deadline()
        try:
            sent = await stream.socket.sendmsg(parts)
        except (OSError, trio.ClosedResourceError) as exc:
            raise _Closed from exc
        finally:
            self.io_scope.deadline = math.inf
        if sent < total:  # the rest once the socket drains
            await self.send(b"".join(parts)[sent:])

    async def idle_receive(self, deadline: float) -> bytes:
        """Bytes from the peer (b"" on EOF) while no byte of a request has arrived; at
        ``deadline`` the connection is closed silently (RFC 9112 §9.5)."""
        scope = self.io_scope
        scope.deadline = deadline
        try:
            data = await self.stream.receive_some(_RECEIVE_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        finally:
            scope.deadline = math.inf
        if not data:
            self.eof = True
        return bytes(data)

    async def receive(self, deadline: float) -> bytes | None:
        """Bytes from the peer (b"" on EOF), or None when ``deadline`` passed."""
        with trio.move_on_at(deadline):
            try:
                data = await self.stream.receive_some(_RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self.eof = True
            return bytes(data)
        return None

    async def linger_close(self) -> None:
        """Half-close and drain for a moment, so that unread request bytes do not make the kernel
        reset the connection before the client has read our final response."""
        with trio.move_on_after(_LINGER_SECONDS):
            try:
                if isinstance(self.stream, trio.abc.HalfCloseableStream):
                    await self.stream.send_eof()
                while not self.eof:
                    data = await self.stream.receive_some(_RECEIVE_SIZE)
                    if not data:
                        break
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    # -- the request loop ------------------------------------------------------------------

    async def run(self) -> None:
        conn = self.h11
        first = True
        while True:
            try:
                event = await self.next_head(first)
            except h11.RemoteProtocolError as exc:
                await self.fail(exc.error_status_hint or 400, f"malformed request: {exc}")
                return
            except _Timeout:
                await self.fail(408, "request head not received in time")
                return
            if event is None:
                return
            first = False
            keep = await self.exchange(event)
            if self.linger:
                await self.linger_close()
                return
            if not keep or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def next_head(self, first: bool) -> h11.Request | None:
        """The next request head; None when the client closed (one that idles out has its
        connection scope cancelled: :meth:`idle_receive`)."""
        conn = self.h11
        limits = self.limits
        now = trio.current_time()
        idle_deadline = now + (limits.header_timeout if first else limits.keep_alive_timeout)
        head_deadline: float | None = None
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if head_deadline is None:
                    data = await self.idle_receive(idle_deadline)
                else:
                    received = await self.receive(head_deadline)
                    if received is None:
                        raise _Timeout
                    data = received
                if data and head_deadline is None:
                    head_deadline = trio.current_time() + limits.header_timeout
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                # h11 enforces max_incomplete_event_size only while the head is incomplete; a
                # large head arriving in one read is caught here (RFC 6585 §5).
                if head_size(event) > limits.max_header_size:
                    raise h11.RemoteProtocolError("request header fields too large", 431)
                major = event.http_version.split(b".", 1)[0]
                if major != b"1":
                    # RFC 9110 §15.6.6: the major version is not supported.
                    raise h11.RemoteProtocolError("HTTP version not supported", 505)
                return event
            return None  # ConnectionClosed (or PAUSED, which cannot happen here)

    async def fail(
        self,
        status: int,
        detail: str,
        request_id: str | None = None,
        response: Response | None = None,
    ) -> None:
        """Send an error response (``response``, or a problem of ``status`` with ``detail``) and
        mark the connection for closing."""
        self.linger = True
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        rid = request_id or secrets.token_hex(8)
        log.info("HTTP %d to %s: %s (rid %s)", status, self.peer, detail, rid)
        if response is None:
            response = problem(status, detail=detail)
        try:
            await self.write_response(None, response, rid, close=True)
        except (h11.LocalProtocolError, _Closed):
            pass

    async def refuse_busy(self) -> None:
        """503 for a connection over ``max_connections`` (RFC 9110 §15.6.4)."""
        self.linger = True
        response = problem(
            503,
            detail="too many connections, try again later",
            headers=Headers((("retry-after", "1"),)),
        )
        try:
            await self.write_response(None, response, secrets.token_hex(8), close=True)
        except (h11.LocalProtocolError, _Closed):
            return
        await self.linger_close()

    async def read_body(self, limit: int) -> bytes:
        conn = self.h11
        chunks: list[bytes] = []
        size = 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await self.receive(trio.current_time() + self.limits.body_timeout)
                if data is None:
                    raise _Timeout
                conn.receive_data(data)
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    raise _TooLarge()
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:  # ConnectionClosed mid-body
                raise _Closed

    async def discard_body(self, limit: int) -> bool:
        """Read and drop the body; False when it is larger than ``limit`` or too slow."""
        try:
            await self.read_body(limit)
        except (_TooLarge, _Timeout, h11.RemoteProtocolError):
            return False
        return True

    async def exchange(self, head: h11.Request) -> bool:
        """Serve one request; True if the connection may serve another."""
        logged = self.server.access_log and access_log.isEnabledFor(logging.INFO)
        started = time.perf_counter() if logged else 0.0
        headers = Headers.from_wire(head.headers.raw_items())
        target = head.target.decode("latin-1")
        path, query = split_target(target)
        rid = request_id(headers)
        request = Request(
            method=head.method.decode("ascii"),
            target=target,
            path=path,
            query=query,
            headers=headers,
            peer=self.peer,
            tls=self.tls,
            request_id=rid,
            http_version=head.http_version.decode("ascii"),
        )
        status = 0
        try:
            status = await self._exchange(request)
        except h11.RemoteProtocolError as exc:
            status = exc.error_status_hint or 400
            await self.fail(status, f"malformed request: {exc}", rid)
        except _Timeout:
            status = 408
            await self.fail(408, "request body not received in time", rid)
        except _TooLarge as exc:
            status = 413
            await self.fail(413, "request body too large", rid, exc.response)
        finally:
            if logged:
                access_log.info(
                    '%s "%s %s" %d %.1fms rid=%s',
                    self.peer,
                    request.method,
                    target,
                    status,
                    (time.perf_counter() - started) * 1000,
                    rid,
                )
        return not self.linger

    async def _exchange(self, request: Request) -> int:
        conn = self.h11
        try:
            admitted = self.server.app.admit(request)
        except Exception:
            log.exception(
                "HTTP admit failed for %s %s (ref %s)",
                request.method,
                request.path,
                request.request_id,
            )
            admitted = internal_error(request.request_id)
        if isinstance(admitted, Response):
            # Keep the connection only if the (small) unread body can be drained; a client
            # waiting for 100-continue may or may not send its body now, so close then.
            if conn.they_are_waiting_for_100_continue or not await self.discard_body(
                self.limits.drain_limit
            ):
                self.linger = True
            await self.write_response(request, admitted, request.request_id, close=self.linger)
            return admitted.status
        return await self._admitted(request, admitted)

    async def _admitted(self, request: Request, admitted: Admitted) -> int:
        conn = self.h11
        limit = self.limits.max_body_size
        if admitted.max_body is not None:
            limit = min(limit, admitted.max_body)
        declared = request.headers.get("content-length")
        if declared is not None and int(declared) > limit:
            # Never send 100 for a body we would refuse (RFC 9110 §10.1.1).
            raise _TooLarge(admitted.too_large)
        if conn.they_are_waiting_for_100_continue:
            await self.send(
                conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
            )
        # An upgrade request ends at EndOfMessage too (h11 then PAUSES until we answer).
        try:
            body = await self.read_body(limit)
        except _TooLarge:
            raise _TooLarge(admitted.too_large) from None
        request = request.with_body(body, admitted.path_params)
        reply = await self.call(admitted.handler, request)
        if isinstance(reply, Response):
            await self.write_response(request, reply, request.request_id)
            return reply.status
        if isinstance(reply, StreamingResponse):
            await self.write_stream(request, reply)
            return reply.status
        return await self.upgrade(request, reply)

    async def call(self, handler: Handler, request: Request) -> Reply:
        rid = request.request_id
        try:
            reply = await handler(request)
        except MailError as exc:
            log.info("HTTP %s %s failed: %s (ref %s)", request.method, request.path, exc, rid)
            return response_for_error(exc, rid)
        except Exception:
            log.exception(
                "HTTP handler failed for %s %s (ref %s)", request.method, request.path, rid
            )
            return internal_error(rid)
        if not isinstance(reply, Response | StreamingResponse | WebSocketUpgrade):
            log.error("HTTP handler for %s returned %r (ref %s)", request.path, reply, rid)
            return internal_error(rid)
        if not isinstance(reply, WebSocketUpgrade) and not 200 <= reply.status <= 599:
            log.error(
                "HTTP handler for %s returned status %d (ref %s)", request.path, reply.status, rid
            )
            return internal_error(rid)
        return reply

    # -- writing ---------------------------------------------------------------------------

    def cors_fields(
        self, request: Request | None, status: int, headers: Headers
    ) -> list[tuple[bytes, bytes]] | None:
        cors = self.server.cors
        if request is None or not cors.enabled:
            return None
        return encode_headers(
            cors.response_headers(request.headers, request.method, status, headers)
        )

    async def write_response(
        self, request: Request | None, response: Response, request_id: str, *, close: bool = False
    ) -> None:
        status = response.status
        headers = response.headers
        body = response.body or b""
        if status in NO_LENGTH_STATUS or status < 200:
            body = b""
        elif request is not None and len(body) >= self.limits.gzip_min_size:
            body, headers = await self.maybe_gzip(request, body, headers)
        heads = self.server.heads
        try:
            extra = self.cors_fields(request, status, headers)
            event = heads.head(status, headers, request_id, len(body), close=close, extra=extra)
        except (h11.LocalProtocolError, UnicodeEncodeError):
            log.exception("HTTP handler produced an invalid response head (ref %s)", request_id)
            fallback = internal_error(request_id)
            body = fallback.body or b""
            extra = self.cors_fields(request, 500, fallback.headers)
            event = heads.head(500, fallback.headers, request_id, len(body), extra=extra)
        conn = self.h11
        # One buffer, one send_all: the head, the body (passed through h11 without a copy) and
        # the end of message (empty for a Content-Length body).
        parts = conn.send_with_data_passthrough(event) or []
        if body and (request is None or request.method != "HEAD"):
            parts += conn.send_with_data_passthrough(h11.Data(data=body)) or []
        parts += conn.send_with_data_passthrough(_EOM) or []
        await self.send_parts(parts)

    async def maybe_gzip(
        self, request: Request, body: bytes, headers: Headers
    ) -> tuple[bytes, Headers]:
        if "content-encoding" in headers or not compressible(headers.get("content-type")):
            return body, headers
        headers = vary_on_encoding(headers)
        if not accepts_gzip(request.headers.get("accept-encoding")):
            return body, headers
        level = self.limits.gzip_level
        if len(body) > _GZIP_IN_THREAD:
            body = await trio.to_thread.run_sync(gzip_bytes, body, level)
        else:
            body = gzip_bytes(body, level)
        etag = headers.get("etag")
        if etag is not None and not etag.startswith("W/"):
            # A strong validator names one representation; the gzipped one differs (RFC 9110
            # §8.8.3), so weaken it.
            headers = headers.replace("etag", "W/" + etag)
        return body, headers.with_("content-encoding", "gzip")

    async def write_stream(self, request: Request, reply: StreamingResponse) -> None:
        conn = self.h11
        heads = self.server.heads
        pairs = heads.fields(
            reply.headers,
            request.request_id,
            self.cors_fields(request, reply.status, reply.headers),
        )
        await self.send(conn.send(response_event(reply.status, pairs)) or b"")
        chunks = reply.chunks
        if request.method == "HEAD":
            await _aclose_iterator(chunks)
            await self.send(conn.send(h11.EndOfMessage()) or b"")
            return
        outcome = "done"

        async def watch(cancel: trio.CancelScope) -> None:
            # Notice a client that goes away while the stream idles; keep pipelined bytes.
            nonlocal outcome
            buffered = 0
            while buffered <= self.limits.max_header_size:
                try:
                    data = await self.stream.receive_some(_RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                if not data:
                    self.eof = True
                    outcome = "disconnected"
                    cancel.cancel()
                    return
                buffered += len(data)
                conn.receive_data(bytes(data))
            await trio.sleep_forever()

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch, nursery.cancel_scope)
                try:
                    async for chunk in chunks:
                        if chunk:
                            await self.send(conn.send(h11.Data(data=chunk)) or b"")
                except _Closed:
                    outcome = "disconnected"
                except Exception:
                    outcome = "failed"
                    log.exception(
                        "HTTP stream for %s failed (ref %s)", request.path, request.request_id
                    )
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            await _aclose_iterator(chunks)
        if outcome != "done":
            # Abort: without the final chunk the client knows the body is incomplete.
            raise _Closed
        await self.send(conn.send(h11.EndOfMessage()) or b"")

    async def upgrade(self, request: Request, reply: WebSocketUpgrade) -> int:
        """The WebSocket opening handshake's server side (RFC 6455 §4.2.2), then the session."""
        conn = self.h11
        rid = request.request_id
        refusal = handshake_refusal(request, reply, conn.their_state is h11.MIGHT_SWITCH_PROTOCOL)
        if refusal is not None:
            await self.write_response(request, refusal, rid)
            return refusal.status
        pairs = accept_fields(request, reply, self.server.heads)
        await self.send(conn.send(h11.InformationalResponse(status_code=101, headers=pairs)) or b"")
        trailing, _ = conn.trailing_data
        core = WebSocketCore(self.limits.websocket_max_message, bytes(trailing))
        ws = TrioWebSocket(
            self.stream, request, reply.subprotocol, core, write_timeout=self.limits.write_timeout
        )
        try:
            await reply.handler(ws)
        except Exception:
            log.exception("WebSocket handler for %s failed (ref %s)", request.path, rid)
            if not ws.closed:
                await ws.close(INTERNAL_ERROR, f"internal error, reference {rid}")
        if not ws.closed:
            await ws.close(NORMAL_CLOSURE)
        return 101  # h11 is now SWITCHED_PROTOCOL, so run() closes the connection


class TrioWebSocket:
    """An open WebSocket as handlers see it: I/O around :class:`WebSocketCore`.

    One task may receive while others send; writes are serialised by a lock.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        request: Request,
        subprotocol: str | None,
        core: WebSocketCore,
        *,
        write_timeout: float = 60.0,
    ) -> None:
        self._stream = stream
        self._request = request
        self._subprotocol = subprotocol
        self._core = core
        self._write_timeout = write_timeout
        self._send_lock = trio.Lock()
        self._receiving = False
        self._broken = False

    @property
    def subprotocol(self) -> str | None:
        return self._subprotocol

    @property
    def request(self) -> Request:
        return self._request

    @property
    def closed(self) -> bool:
        return self._broken or self._core.finished

    @property
    def close_code(self) -> int | None:
        return self._core.close_code

    async def _flush(self) -> None:
        async with self._send_lock:
            data = self._core.data_to_send()
            if not data or self._broken:
                return
            with trio.move_on_after(self._write_timeout) as scope:
                try:
                    await self._stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._broken = True
            if scope.cancelled_caught:
                self._broken = True

    async def _fill(self) -> None:
        try:
            data = await self._stream.receive_some(_RECEIVE_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        self._core.receive_data(bytes(data) if data else None)

    async def receive(self) -> str | bytes | None:
        while True:
            message = self._core.next_message()
            await self._flush()  # pongs, close replies
            if message is not NEED_DATA:
                return message
            if self._broken:
                return None
            self._receiving = True
            try:
                await self._fill()
            finally:
                self._receiving = False

    async def send(self, message: str | bytes) -> None:
        if self._broken:
            raise trio.ClosedResourceError("the WebSocket connection is gone")
        try:
            self._core.send(message)
        except WebSocketClosed as exc:
            raise trio.ClosedResourceError(str(exc)) from exc
        await self._flush()

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Start (or finish) the closing handshake and wait briefly for the peer's Close."""
        self._core.close(code, reason)
        await self._flush()
        if self._receiving:
            return  # another task is reading: it will see the peer's Close
        # RFC 6455 §7.1.1: the server closes TCP after the closing handshake; give the client a
        # moment to answer our Close.
        with trio.move_on_after(2):
            while not self.closed:
                if self._core.next_message() is NEED_DATA:
                    await self._fill()
                await self._flush()
