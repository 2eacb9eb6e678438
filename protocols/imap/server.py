"""The thin trio layer of IMAP: sockets, TLS, COMPRESS, timeouts, IDLE wake-ups.

Everything protocol-shaped happens in the sans-IO framer and parser and in the session; this
module moves bytes, enforces time limits, and wakes IDLE when the store's change feed reports
a change to the session's account.
"""

from __future__ import annotations

import logging
import socket
import ssl
import uuid
import zlib

import trio

from store import ChangeEvent

from . import commands as C
from .context import ImapContext
from .errors import ImapParseError
from .framing import CLOSED, NEED_DATA, Frame, FrameError, FramingLimits, ImapFramer, LineFrame
from .parser import parse_command
from .serializer import tagged
from .session import Action, ImapSession, Outcome

log = logging.getLogger(__name__)

RECEIVE_SIZE = 65536
TLS_HANDSHAKE_TIMEOUT = 30.0
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only
# Commands that may scan the account's stored text (SEARCH TEXT/BODY, also inside SORT/THREAD).
_SCANNING = (C.Search, C.Sort, C.Thread)


class _Closed(Exception):
    pass


class DeflateStream(trio.abc.Stream):
    """COMPRESS=DEFLATE (RFC 4978): raw deflate both ways, flushed at every write."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self._compress = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._decompress = zlib.decompressobj(-15)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        out = self._compress.compress(bytes(data)) + self._compress.flush(zlib.Z_SYNC_FLUSH)
        await self.inner.send_all(out)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        while True:
            data = await self.inner.receive_some(RECEIVE_SIZE)
            if not data:
                return b""
            try:
                out = self._decompress.decompress(data)
            except zlib.error as exc:  # not a deflate stream: the peer broke RFC 4978
                raise _Closed from exc
            if out:
                return out

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Connection:
    def __init__(self, stream: trio.abc.Stream, session: ImapSession, ctx: ImapContext) -> None:
        self.stream = stream
        self.session = session
        self.ctx = ctx
        self.framer = self._new_framer()
        # IDLE writes from two tasks (news/keepalive and the reader's timeout BYE); outside
        # IDLE one task does everything, and taking the lock would cost a scheduler pass.
        self._send_lock = trio.Lock()
        self._idling = False
        # The TCP socket under any TLS/COMPRESS layers, for the delayed-ACK nudge in fill()
        # (None once that failed) and for noticing a hang-up during a long command.
        self._tcp: trio.socket.SocketType | None = getattr(stream, "socket", None)
        self._socket = self._tcp

    def _new_framer(self) -> ImapFramer:
        limits = self.ctx.limits
        return ImapFramer(
            FramingLimits(
                max_line_length=limits.max_line_length,
                max_literal_size=limits.max_literal_size,
                max_command_size=limits.max_literal_size * 4 + limits.max_line_length,
            )
        )

    async def send(self, data: bytes) -> None:
        if data:
            try:
                if self._idling:
                    async with self._send_lock:
                        await self.stream.send_all(data)
                else:
                    await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise _Closed from exc

    async def fill(self) -> None:
        """Reads more bytes into the framer, under the idle or command timeout."""
        limits = self.ctx.limits
        started = self.framer.mid_command
        if started:
            self._ack_now()
        timeout = limits.command_timeout if started else limits.idle_timeout
        with trio.move_on_after(timeout) as scope:
            try:
                data = await self.stream.receive_some(RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError) as exc:
                raise _Closed from exc
        if scope.cancelled_caught:
            await self.send(b"* BYE Idle timeout, closing connection\r\n")
            raise _Closed
        self.framer.receive_data(bytes(data))

    def _ack_now(self) -> None:
        """Mid-command (typically between a literal and the CRLF that ends its command line):
        acknowledge what arrived at once instead of after the kernel's delayed-ACK timer.

        Clients that write a literal and its closing CRLF in two writes (Python's imaplib,
        among others) with Nagle's algorithm on hold the CRLF back until the literal is
        acknowledged, and the server has nothing to send yet: every APPEND then stalls for the
        delayed ACK (40 ms on Linux).  Setting TCP_QUICKACK sends the pending ACK now (tcp(7));
        it is not sticky, hence once per partial read."""
        if self._tcp is None or _TCP_QUICKACK is None:
            return
        try:
            self._tcp.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
        except OSError:
            self._tcp = None  # not TCP (a socketpair in tests): nothing to nudge

    async def next_frame(self) -> Frame | LineFrame | FrameError | None:
        while True:
            frame = self.framer.next_frame()
            await self.send(self.framer.data_to_send())
            if frame is NEED_DATA:
                await self.fill()
                continue
            if frame is CLOSED:
                return None
            return frame  # type: ignore[return-value]

    # -- the command loop ----------------------------------------------------------------------
    async def run(self, tls_context: ssl.SSLContext | None) -> None:
        session = self.session
        await self.send(session.greeting())
        while True:
            frame = await self.next_frame()
            if frame is None:
                return
            if isinstance(frame, FrameError):
                session.bad_commands += 1
                await self.send(frame.to_bytes())
            elif isinstance(frame, LineFrame):
                await self.send(b"* BAD Unexpected continuation data\r\n")
            else:
                try:
                    cmd = parse_command(frame, utf8=session.utf8)
                except ImapParseError as err:
                    session.bad_commands += 1
                    await self.send(err.to_bytes())
                else:
                    outcome = await self.execute(cmd)
                    await self.send(outcome.data)
                    if not await self.act(outcome, cmd.tag, tls_context):
                        return
            if session.bad_commands > self.ctx.limits.max_bad_commands:
                await self.send(b"* BYE Too many invalid commands\r\n")
                return

    async def execute(self, cmd: C.Command) -> Outcome:
        """Runs one command; a search (which may scan the account's text for a while) is
        given up if the client hangs up meanwhile: the scan stops and the connection ends."""
        sock = self._socket
        if sock is None or not isinstance(cmd, _SCANNING):
            return await self.session.execute(cmd)
        gone = False
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                nonlocal gone
                if await _hung_up(sock):
                    gone = True
                    nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            outcome = await self.session.execute(cmd)
            nursery.cancel_scope.cancel()
        if gone:
            raise _Closed
        return outcome

    async def act(self, outcome: Outcome, tag: str, tls_context: ssl.SSLContext | None) -> bool:
        """Carries out a transport action; False ends the connection."""
        action = outcome.action
        while action is Action.AUTH_CONTINUE:
            self.framer.expect_line(tag)
            frame = await self.next_frame()
            if not isinstance(frame, LineFrame):
                return frame is not None
            outcome = await self.session.auth_line(tag, frame.line)
            await self.send(outcome.data)
            action = outcome.action
        if action is Action.LOGOUT:
            return False
        if action is Action.STARTTLS:
            assert tls_context is not None
            # Anything pipelined after STARTTLS is discarded (RFC 9051 §6.2.1 security note).
            ssl_stream = trio.SSLStream(self.stream, tls_context, server_side=True)
            with trio.move_on_after(TLS_HANDSHAKE_TIMEOUT) as scope:
                try:
                    await ssl_stream.do_handshake()
                except (trio.BrokenResourceError, ssl.SSLError):
                    return False
            if scope.cancelled_caught:
                return False
            self.stream = ssl_stream
            self.framer = self._new_framer()
            self.session.tls_active = True
        elif action is Action.COMPRESS:
            self.stream = DeflateStream(self.stream)
            self.session.compressed = True
        elif action is Action.IDLE:
            return await self.idle(tag)
        return True

    async def idle(self, tag: str) -> bool:
        """RFC 2177 / RFC 9051 §6.3.13: report changes as they happen until DONE."""
        session = self.session
        token = trio.lowlevel.current_trio_token()
        wake = [trio.Event()]
        # Woken by changes to any account the session's token may see (one today; the
        # accounts shared with it once ACLs grant them).
        accounts = session.accounts()

        def on_change(event: ChangeEvent) -> None:
            if event.account_id in accounts:
                try:
                    token.run_sync_soon(wake[0].set)
                except trio.RunFinishedError:
                    pass

        unsubscribe = self.ctx.store.feed.subscribe(on_change)
        done: list[bytes | None] = []
        self._idling = True
        try:
            await self.send(b"+ idling\r\n" + session.news(allow_expunge=True))
            self.framer.expect_line(tag)
            async with trio.open_nursery() as nursery:

                async def reader() -> None:
                    try:
                        frame = await self.next_frame()
                    except _Closed:
                        frame = None
                    done.append(frame.line if isinstance(frame, LineFrame) else None)
                    nursery.cancel_scope.cancel()

                async def notifier() -> None:
                    # A broken connection ends IDLE like a closed one (no exception group).
                    try:
                        await keep_telling()
                    except _Closed:
                        done.append(None)
                        nursery.cancel_scope.cancel()

                async def keep_telling() -> None:
                    idle_deadline = trio.current_time() + self.ctx.limits.idle_timeout
                    while True:
                        with trio.move_on_after(self.ctx.limits.idle_keepalive):
                            await wake[0].wait()
                        if wake[0].is_set():
                            wake[0] = trio.Event()
                            await self.send(session.news(allow_expunge=True))
                        else:
                            await self.send(b"* OK Still here\r\n")
                        if trio.current_time() > idle_deadline:
                            await self.send(b"* BYE IDLE timeout\r\n")
                            done.append(None)
                            nursery.cancel_scope.cancel()
                            return

                nursery.start_soon(reader)
                nursery.start_soon(notifier)
        finally:
            self._idling = False
            unsubscribe()
        line = done[0] if done else None
        if line is None:
            return False
        if line.strip().upper() != b"DONE":
            await self.send(tagged(tag, "BAD", "Expected DONE"))
            return True
        await self.send(session.news(allow_expunge=True) + tagged(tag, "OK", "IDLE terminated"))
        return True


async def serve_imap_connection(
    stream: trio.abc.Stream,
    ctx: ImapContext,
    *,
    tls_context: ssl.SSLContext | None,
    implicit_tls: bool = False,
    peer: str = "unknown",
) -> None:
    ip = peer.rsplit(":", 1)[0]
    ip_key = f"ip:{ip}"
    if not ctx.connections.acquire(ip_key, ctx.limits.max_connections_per_ip):
        try:
            await stream.send_all(b"* BYE Too many connections from your address\r\n")
        finally:
            await stream.aclose()
        return
    session = ImapSession(ctx, tls_active=implicit_tls, peer=peer)
    conn = _Connection(stream, session, ctx)
    try:
        if implicit_tls:
            assert tls_context is not None
            ssl_stream = trio.SSLStream(stream, tls_context, server_side=True)
            with trio.fail_after(TLS_HANDSHAKE_TIMEOUT):
                await ssl_stream.do_handshake()
            conn.stream = ssl_stream
        try:
            await conn.run(tls_context)
        except BaseException as exc:
            if _cancelled(exc):
                await _farewell(conn.stream)
            raise
    except (_Closed, trio.TooSlowError, ssl.SSLError, trio.BrokenResourceError):
        log.debug("IMAP connection from %s closed", peer)
    except Exception:
        ref = uuid.uuid4().hex[:12]
        log.exception("IMAP connection from %s failed (ref %s)", peer, ref)
        try:
            await conn.stream.send_all(f"* BYE Internal error, reference {ref}\r\n".encode())
        except Exception:  # noqa: BLE001 - best effort on a broken connection
            pass
    finally:
        ctx.connections.release(ip_key)
        if session.user_slot is not None:
            ctx.connections.release(session.user_slot)
        with trio.move_on_after(1) as cleanup:
            cleanup.shield = True
            try:
                await conn.stream.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError):
                pass


async def _hung_up(sock: trio.socket.SocketType) -> bool:
    """Waits for the peer: True once it has closed the connection (end of stream or reset),
    False as soon as it sent more (pipelined bytes stay queued for the framer: a peek).

    Under TLS a peer that sends close_notify before closing looks like one sending more: its
    search then runs to its end (or to ``search.scan_timeout``)."""
    try:
        return not await sock.recv(1, socket.MSG_PEEK)
    except OSError:  # ECONNRESET and the like
        return True


def _cancelled(exc: BaseException) -> bool:
    """A cancellation (server shutdown), naked or grouped by a nursery."""
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return False


async def _farewell(stream: trio.abc.Stream) -> None:
    """Server shutdown: say goodbye before closing (RFC 9051 §7.1.5 BYE)."""
    with trio.move_on_after(1) as scope:
        scope.shield = True
        try:
            await stream.send_all(b"* BYE Server shutting down\r\n")
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError):
            pass
        except ssl.SSLError:
            pass


def _peer(stream: trio.SocketStream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
    except OSError:
        return "unknown"
    return f"{host}:{port}"


async def serve_imap(
    ctx: ImapContext,
    host: str | None,
    port: int,
    *,
    tls_context: ssl.SSLContext | None,
    implicit_tls: bool = False,
    listeners: list[trio.SocketListener] | None = None,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve IMAP on ``host:port``, or on ``listeners`` already bound to it, until cancelled."""

    async def handler(stream: trio.SocketStream) -> None:
        await serve_imap_connection(
            stream, ctx, tls_context=tls_context, implicit_tls=implicit_tls, peer=_peer(stream)
        )

    if listeners is None:
        listeners = await trio.open_tcp_listeners(port, host=host)
    await trio.serve_listeners(handler, listeners, task_status=task_status)
