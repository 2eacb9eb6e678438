"""The thin trio layer around :class:`LmtpConnection`: move bytes, time out, TLS, call the backend.

Guarantees:
- no traceback ever reaches the wire: a failing backend call answers ``451 4.3.0`` for the
  recipients concerned, and the exception is logged with an id that the reply also carries;
- a recipient is acknowledged (its per-recipient 250) only after ``backend.deliver`` returned,
  and ``deliver`` only ever sees a complete message;
- an idle client gets ``421 4.4.2`` and is disconnected after ``idle_timeout`` seconds.
"""

from __future__ import annotations

import logging
import socket
import ssl
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from store.errors import MailError

from .backend import Envelope, LmtpBackend
from .core import LmtpConnection, LmtpLimits
from .errors import reply_for_error
from .events import (
    NEED_DATA,
    ConnectionClosed,
    Lhlo,
    MailFrom,
    MessageComplete,
    Quit,
    RcptTo,
    Reset,
    StartTls,
    Vrfy,
)
from .replies import IDLE_TIMEOUT_TEXT, Reply

log = logging.getLogger(__name__)

_RECEIVE_SIZE = 65536
_T = TypeVar("_T")


class _Closed(Exception):
    """The transport is gone or timed out; stop serving this connection."""


def _internal_error(what: str, peer: str) -> Reply:
    ref = uuid.uuid4().hex[:12]
    log.exception("LMTP %s failed for %s (ref %s)", what, peer, ref)
    return Reply(451, "4.3.0", f"Internal error, try again later (ref {ref})")


async def _call(what: str, peer: str, fn: Callable[[], Awaitable[_T]]) -> _T | Reply:
    """Run one backend call; a failure becomes the reply to send instead."""
    try:
        return await fn()
    except MailError as exc:
        log.info("LMTP %s for %s: %s", what, peer, exc)
        return reply_for_error(exc)
    except Exception:
        return _internal_error(what, peer)


class _Session:
    """One connection.  The idle timeout is kept by a watchdog task: socket calls only note
    when the session started waiting on the peer (two attribute writes), instead of opening a
    cancel scope or moving a deadline per call (that cost a tenth of the LMTP CPU).  Time
    the backend spends is never the peer's idle time."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        backend: LmtpBackend,
        conn: LmtpConnection,
        *,
        ssl_context: ssl.SSLContext | None,
        idle_timeout: float,
        peer: str,
    ) -> None:
        self.stream = stream
        self.backend = backend
        self.conn = conn
        self.ssl_context = ssl_context
        self.idle_timeout = idle_timeout
        self.peer = peer
        self._idle = trio.CancelScope()
        self._waiting_for = ""  # "receive" or "send" while waiting on the peer, else ""
        self._since = 0.0  # when that wait started (trio clock)
        self._timed_out = ""  # what the session was waiting for when the watchdog fired

    def _wait_on_peer(self, what: str) -> None:
        self._waiting_for = what
        self._since = trio.current_time()

    async def _watchdog(self) -> None:
        while True:
            now = trio.current_time()
            if self._waiting_for:
                due = self._since + self.idle_timeout
                if now >= due:
                    self._timed_out = self._waiting_for
                    self._idle.cancel()
                    return
            else:
                # The backend is working: look again soon, so that a wait on the peer that
                # starts meanwhile times out at most 1/8 of the timeout late.
                due = now + self.idle_timeout / 8
            await trio.sleep_until(due)

    async def flush(self) -> None:
        data = self.conn.data_to_send()
        if not data:
            return
        self._wait_on_peer("send")
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise _Closed from exc

    async def receive(self) -> bytes:
        """Bytes from the peer, b"" on EOF (an idle timeout cancels the session scope)."""
        self._wait_on_peer("receive")
        try:
            return bytes(await self.stream.receive_some(_RECEIVE_SIZE))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise _Closed from exc

    async def run(self) -> None:
        failure: Exception | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watchdog)
            try:
                with self._idle:
                    await self._loop()
            except Exception as exc:  # re-raised below, not wrapped in an exception group
                failure = exc
            finally:
                nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure
        if not self._idle.cancelled_caught:
            return
        if self._timed_out != "receive":
            raise _Closed  # the peer stopped reading our replies
        conn = self.conn
        conn.abort(Reply(421, "4.4.2", f"{conn.hostname} {IDLE_TIMEOUT_TEXT}"))
        data = conn.data_to_send()
        with trio.move_on_after(self.idle_timeout):
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise _Closed from exc

    async def _loop(self) -> None:
        conn = self.conn
        while True:
            event = conn.next_event()
            if event is NEED_DATA:
                await self.flush()
                conn.receive_data(await self.receive())
                continue
            if isinstance(event, Lhlo | MailFrom | Reset):
                continue
            self._waiting_for = ""  # the backend's time is not the peer's idle time
            if isinstance(event, RcptTo):
                await self.on_rcpt(event)
            elif isinstance(event, MessageComplete):
                await self.on_message(event)
            elif isinstance(event, Vrfy):
                await self.on_vrfy(event)
            elif isinstance(event, StartTls):
                await self.on_starttls()
            else:
                assert isinstance(event, Quit | ConnectionClosed)
                await self.flush()
                return

    async def on_rcpt(self, event: RcptTo) -> None:
        backend = self.backend
        result = await _call(
            "check_recipient", self.peer, lambda: backend.check_recipient(event.forward_path)
        )
        if result is None:
            self.conn.accept_rcpt()
        elif not isinstance(result, Reply):
            self.conn.reject_rcpt(_internal_reply("check_recipient", self.peer, result))
        elif result.code // 100 == 2:
            self.conn.accept_rcpt(result)
        elif result.code >= 400:
            self.conn.reject_rcpt(result)
        else:
            self.conn.reject_rcpt(_internal_reply("check_recipient", self.peer, result))

    async def on_message(self, event: MessageComplete) -> None:
        conn = self.conn
        envelope = Envelope(
            mail_from=conn.mail_from or "",
            params=conn.mail_params,
            recipients=conn.recipients,
            lhlo_host=conn.lhlo_host or "",
            peer=self.peer,
            tls_active=conn.tls_active,
        )
        backend = self.backend
        result = await _call("deliver", self.peer, lambda: backend.deliver(envelope, event.data))
        count = len(envelope.recipients)
        if isinstance(result, Reply):
            results = [result] * count
        elif not isinstance(result, list | tuple) or len(result) != count:
            bad = _internal_reply("deliver", self.peer, result)
            results = [bad] * count
        else:
            results = [
                r if isinstance(r, Reply) and r.code // 100 in (2, 4, 5) else _bad_item(self.peer)
                for r in result
            ]
        conn.send_delivery_results(results)

    async def on_vrfy(self, event: Vrfy) -> None:
        backend = self.backend
        result = await _call("verify", self.peer, lambda: backend.verify(event.arg))
        if not isinstance(result, Reply):
            result = _internal_reply("verify", self.peer, result)
        self.conn.answer_vrfy(result)

    async def on_starttls(self) -> None:
        await self.flush()  # the 220 goes out in plaintext
        assert self.ssl_context is not None
        tls = trio.SSLStream(self.stream, self.ssl_context, server_side=True)
        with trio.move_on_after(self.idle_timeout) as scope:
            try:
                await tls.do_handshake()
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                log.info("LMTP TLS handshake with %s failed: %s", self.peer, exc)
                raise _Closed from exc
        if scope.cancelled_caught:
            raise _Closed
        self.stream = tls
        self.conn.start_tls_done()


def _internal_reply(what: str, peer: str, value: Any) -> Reply:
    ref = uuid.uuid4().hex[:12]
    log.error("LMTP %s returned an invalid value for %s (ref %s): %r", what, peer, ref, value)
    return Reply(451, "4.3.0", f"Internal error, try again later (ref {ref})")


def _bad_item(peer: str) -> Reply:
    return _internal_reply("deliver", peer, "non-reply item")


async def serve_lmtp_connection(
    stream: trio.abc.Stream,
    backend: LmtpBackend,
    limits: LmtpLimits,
    *,
    hostname: str,
    ssl_context: ssl.SSLContext | None = None,
    idle_timeout: float = 300.0,
    peer: str = "unknown",
) -> None:
    """Serve one LMTP session on ``stream`` until QUIT, EOF, timeout or error; then close it."""
    conn = LmtpConnection(hostname, limits, tls_available=ssl_context is not None)
    session = _Session(
        stream, backend, conn, ssl_context=ssl_context, idle_timeout=idle_timeout, peer=peer
    )
    try:
        await session.run()
    except _Closed:
        log.debug("LMTP connection from %s closed by the peer or timed out", peer)
    except Exception:
        # Never a traceback on the wire: log it and drop the connection.
        ref = uuid.uuid4().hex[:12]
        log.exception("LMTP session with %s failed (ref %s)", peer, ref)
    finally:
        with trio.move_on_after(1) as cleanup:
            cleanup.shield = True
            try:
                await session.stream.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass


def _format_peer(stream: trio.SocketStream) -> str:
    try:
        addr = stream.socket.getpeername()
    except OSError:
        return "unknown"
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[0], addr[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(addr)


async def serve_lmtp(
    backend: LmtpBackend,
    limits: LmtpLimits,
    host: str | None,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    hostname: str | None = None,
    idle_timeout: float = 300.0,
    listeners: list[trio.SocketListener] | None = None,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``host:port`` (port 0 picks one), or serve on ``listeners`` already bound to
    it, and serve LMTP until cancelled.

    ``task_status.started`` receives the listeners, so ``await nursery.start(serve_lmtp, ...)``
    returns them and tests can read the bound port.
    """
    name = hostname or socket.gethostname()

    async def handler(stream: trio.SocketStream) -> None:
        await serve_lmtp_connection(
            stream,
            backend,
            limits,
            hostname=name,
            ssl_context=ssl_context,
            idle_timeout=idle_timeout,
            peer=_format_peer(stream),
        )

    if listeners is None:
        listeners = await trio.open_tcp_listeners(port, host=host)
    await trio.serve_listeners(handler, listeners, task_status=task_status)
