"""The trio side of JMAP push: the store's change feed handed to trio, and PushSubscription
delivery (the objects and methods are in :mod:`.objects`).

- :class:`ChangeHub` subscribes once to the store's change feed.  Feed callbacks run on the
  store's writer thread; the hub hands each event to the trio loop with the loop's TrioToken and
  wakes the :class:`Listener` s of that account (EventSource streams and WebSocket push, keyed by
  the accounts their token may see, and the push sender, which listens to every account).  A
  listener coalesces: it keeps the set of changed types until its owner takes them.
- :class:`PushSender` POSTs PushVerification objects to new subscriptions and StateChange
  objects to verified ones (RFC 8620 §7.2), with bounded exponential backoff, from background
  tasks in the server's nursery.
- :func:`post_json` is the outbound HTTP/1.1 client: trio + h11, TLS verified for https.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import h11
import trio

from protocols.mail import AccessToken, MailService
from store import ChangeEvent, Store
from store.ids import object_id

from .objects import (
    TYPE_NAME,
    PushSubscription,
    dumps,
    filter_types,
    push_verification,
    state_change,
    stored_values,
    type_states,
)

log = logging.getLogger(__name__)

USER_AGENT = "stalwart-py-push"
# The sender acts for the server (RFC 8620 §7.2: it pushes to every account's subscriptions).
PUSH_TOKEN: Final = AccessToken.for_system("push")


class Listener:
    """Changed types of some accounts (of all, ``accounts`` None) since the last :meth:`take`."""

    def __init__(self, accounts: frozenset[int] | None) -> None:
        self.accounts = accounts
        self._pending: dict[int, set[str]] = {}
        self._event = trio.Event()

    def notify(self, event: ChangeEvent) -> None:
        self._pending.setdefault(event.account_id, set()).update(event.types)
        self._event.set()

    async def wait(self) -> dict[int, frozenset[str]]:
        """Blocks until something changed; returns account → changed types and resets."""
        await self._event.wait()
        return self.take()

    def take(self) -> dict[int, frozenset[str]]:
        pending, self._pending = self._pending, {}
        self._event = trio.Event()
        return {a: frozenset(t) for a, t in pending.items()}


class ChangeHub:
    """Fans the store's change feed out to trio listeners."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._listeners: dict[int | None, set[Listener]] = {}
        self._token: trio.lowlevel.TrioToken | None = None
        self._unsubscribe: object = None

    def start(self) -> None:
        """Call from the trio loop that will own the listeners."""
        self._token = trio.lowlevel.current_trio_token()
        self._unsubscribe = self.store.feed.subscribe(self._on_change)

    def stop(self) -> None:
        if callable(self._unsubscribe):
            self._unsubscribe()
        self._unsubscribe = None

    def _on_change(self, event: ChangeEvent) -> None:  # the writer thread
        token = self._token
        if token is None:
            return
        try:
            token.run_sync_soon(self._dispatch, event)
        except trio.RunFinishedError:
            pass

    def _dispatch(self, event: ChangeEvent) -> None:  # the trio loop
        for key in (event.account_id, None):
            for listener in self._listeners.get(key, ()):
                listener.notify(event)

    @contextmanager
    def listen(self, accounts: Collection[int] | None) -> Iterator[Listener]:
        listener = self.register(accounts)
        try:
            yield listener
        finally:
            self.unregister(listener)

    def register(self, accounts: Collection[int] | None) -> Listener:
        """A listener of changes to ``accounts`` (a token's: ``token.account_ids()``), or of
        every account (None)."""
        listener = Listener(None if accounts is None else frozenset(accounts))
        for key in _keys(listener):
            self._listeners.setdefault(key, set()).add(listener)
        return listener

    def unregister(self, listener: Listener) -> None:
        for key in _keys(listener):
            group = self._listeners.get(key)
            if group is not None:
                group.discard(listener)
                if not group:
                    del self._listeners[key]


def _keys(listener: Listener) -> tuple[int | None, ...]:
    return (None,) if listener.accounts is None else tuple(listener.accounts)


# -- the outbound HTTP client ------------------------------------------------------------------
class PushError(Exception):
    """The request could not be made or did not complete (worth retrying)."""


async def post_json(
    url: str,
    body: bytes,
    *,
    timeout: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> int:
    """POSTs ``body`` (JSON) to ``url`` and returns the response status.

    HTTPS uses ``ssl_context`` (default: the system trust store, hostname checked).  Raises
    :class:`PushError` on a connection, TLS or protocol failure or timeout.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    authority = parts.netloc.rpartition("@")[2]
    conn = h11.Connection(h11.CLIENT)
    headers = [
        ("Host", authority),
        ("User-Agent", USER_AGENT),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        *extra_headers,
    ]
    stream: trio.abc.Stream | None = None
    try:
        with trio.fail_after(timeout):
            stream = await trio.open_tcp_stream(host, port)
            if https:
                context = ssl_context or ssl.create_default_context()
                stream = trio.SSLStream(stream, context, server_hostname=host)
            data = conn.send(h11.Request(method="POST", target=target, headers=headers)) or b""
            data += conn.send(h11.Data(data=body)) or b""
            data += conn.send(h11.EndOfMessage()) or b""
            await stream.send_all(data)
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(bytes(await stream.receive_some(65536)))
                    continue
                if isinstance(event, h11.Response):
                    return int(event.status_code)
                if isinstance(event, h11.ConnectionClosed):
                    raise PushError("connection closed before a response")
    except trio.TooSlowError as exc:
        raise PushError("timed out") from exc
    except (OSError, trio.BrokenResourceError, h11.ProtocolError, ssl.SSLError) as exc:
        raise PushError(str(exc) or type(exc).__name__) from exc
    finally:
        if stream is not None:
            with trio.move_on_after(1) as scope:
                scope.shield = True
                try:
                    await stream.aclose()
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    pass


# -- PushSubscription delivery ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts ``attempts`` times, waiting ``base``, 2×``base``, ... (at most ``cap``) between."""

    attempts: int = 6
    base: float = 1.0
    cap: float = 60.0
    timeout: float = 10.0

    def delays(self) -> Iterator[float]:
        for n in range(self.attempts - 1):
            yield min(self.base * (2**n), self.cap)


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


class PushSender:
    """Sends PushVerification and StateChange objects to PushSubscription URLs.

    One delivery task per subscription at a time; changes arriving meanwhile are coalesced into
    the next StateChange.  Runs under :meth:`run` in the server nursery.
    """

    def __init__(
        self,
        mail: MailService,
        hub: ChangeHub,
        *,
        retry: RetryPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
        may_deliver: Callable[[], bool] = lambda: True,
    ) -> None:
        self.mail = mail
        # StateChange POSTs happen once per cluster: every node applies the change, only the
        # one this answers yes for pushes it (store.writelog.Effect.PUSH).
        self.may_deliver = may_deliver
        self.hub = hub
        self.retry = retry or RetryPolicy()
        self.ssl_context = ssl_context
        self._nursery: trio.Nursery | None = None
        self._pending: dict[tuple[int, int], set[str]] = {}
        self._running: set[tuple[int, int]] = set()
        self.sent = 0  # StateChange deliveries that succeeded
        self.failed = 0  # deliveries given up after the last retry

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            with self.hub.listen(None) as listener:
                task_status.started()
                while True:
                    changes = await listener.wait()
                    for account_id, types in changes.items():
                        self._changed(account_id, types)

    # -- verification ----------------------------------------------------------------------
    def verify(self, account_id: int, sub: PushSubscription) -> None:
        """Schedules the PushVerification POST for a new subscription (RFC 8620 §7.2.2)."""
        if self._nursery is None:
            log.warning("push sender not running; cannot verify subscription %d", sub.id)
            return
        body = dumps(push_verification(sub.public_id, sub.expected_code)).encode()
        self._nursery.start_soon(self._post, sub.url, body, f"verification of {sub.public_id}")

    # -- state changes ---------------------------------------------------------------------
    def _changed(self, account_id: int, types: frozenset[str]) -> None:
        if not filter_types(types, None) or not self.may_deliver():
            return
        now = self.mail.now()
        for oid, value in stored_values(self.mail, PUSH_TOKEN, account_id):
            try:
                sub = PushSubscription.from_value(oid, value)
            except (ValueError, KeyError, TypeError):
                log.warning("undecodable PushSubscription %d of account %d", oid, account_id)
                continue
            if sub.expires <= now:
                # §7.2: no requests after expiry; the server MAY destroy it.
                self._spawn(self._destroy, account_id, oid)
                continue
            if not sub.verified:
                continue  # §7.2.2: nothing is pushed before verification
            wanted = [t for t in types if sub.wants(t)]
            if not filter_types(wanted, None):
                continue
            key = (account_id, oid)
            self._pending.setdefault(key, set()).update(wanted)
            if key not in self._running:
                self._running.add(key)
                self._spawn(self._deliver, key)

    def _spawn(self, fn: object, *args: object) -> None:
        assert self._nursery is not None
        self._nursery.start_soon(fn, *args)  # type: ignore[arg-type]

    async def _destroy(self, account_id: int, oid: int) -> None:
        txn = self.mail.begin(PUSH_TOKEN)
        txn.destroy_object(account_id, TYPE_NAME, oid)
        await txn.commit()

    async def _deliver(self, key: tuple[int, int]) -> None:
        account_id, oid = key
        try:
            while self._pending.get(key):
                types = self._pending.pop(key)
                found = dict(stored_values(self.mail, PUSH_TOKEN, account_id)).get(oid)
                if found is None:
                    return  # destroyed meanwhile
                sub = PushSubscription.from_value(oid, found)
                states = type_states(self.mail.store, account_id, types, None)
                change = state_change({object_id("account", account_id): states})
                if await self._post(sub.url, dumps(change).encode(), f"push to {sub.public_id}"):
                    self.sent += 1
        finally:
            self._pending.pop(key, None)
            self._running.discard(key)

    async def _post(self, url: str, body: bytes, what: str) -> bool:
        """POSTs with retries; True once a 2xx arrived."""
        # RFC 8030 §5.2 (Web Push): TTL is required by push services; 12 hours.
        headers = (("TTL", "43200"),)
        delays = self.retry.delays()
        while True:
            try:
                status = await post_json(
                    url,
                    body,
                    timeout=self.retry.timeout,
                    ssl_context=self.ssl_context,
                    extra_headers=headers,
                )
                if 200 <= status < 300:
                    return True
                if not _retryable(status):
                    log.info("%s refused with HTTP %d; giving up", what, status)
                    self.failed += 1
                    return False
                reason = f"HTTP {status}"
            except PushError as exc:
                reason = str(exc)
            delay = next(delays, None)
            if delay is None:
                log.info(
                    "%s failed (%s); giving up after %d attempts", what, reason, self.retry.attempts
                )
                self.failed += 1
                return False
            log.debug("%s failed (%s); retrying in %.1f s", what, reason, delay)
            await trio.sleep(delay)
