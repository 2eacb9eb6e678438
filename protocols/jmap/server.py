"""The trio layer of JMAP over HTTP: :class:`JmapServer` is the HTTP application the HTTP
server (:mod:`protocols.http`) serves.  Request/response routes are the sans-IO
:class:`~.service.JmapCore`'s; this module adds what needs tasks and timers:

- ``GET /jmap/eventsource/?types=&closeafter=&ping=``: push over EventSource (RFC 8620 §7.3).
- ``GET /jmap/ws``: JMAP over WebSocket, subprotocol ``jmap`` (RFC 8887), with push.

Both are keyed by the accounts the request's token may see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final, TypeVar

import trio

from protocols.http import (
    Admitted,
    Request,
    Response,
    Router,
    StreamingResponse,
    WebSocket,
    WebSocketUpgrade,
    choose_subprotocol,
    problem,
)
from protocols.http.messages import Reply

from .context import JmapServices
from .core import Dispatcher, RequestProblem, request_too_large
from .push import (
    BadParameter,
    ChangeHub,
    Listener,
    PushSubscription,
    changed_states,
    parse_event_source,
    ping_event,
    push_state,
    sse_event,
    state_change,
    types_since,
)
from .responses import problem_response, upload_too_large
from .service import Authenticate, JmapCore, JmapOptions, Login
from .websocket import (
    PushDisable,
    PushEnable,
    WsRequest,
    decode_ws_message,
    ws_error,
    ws_message,
    ws_push,
    ws_response,
)

WS_SUBPROTOCOL: Final = "jmap"
_T = TypeVar("_T")


async def _in_thread(fn: Callable[[], _T]) -> _T:
    return await trio.to_thread.run_sync(fn)


class JmapServer:
    """The JMAP HTTP application of one server: the core's routes, EventSource and WebSocket."""

    def __init__(
        self,
        services: JmapServices,
        authenticate: Authenticate,
        options: JmapOptions,
        hub: ChangeHub,
        *,
        subscription_created: Callable[[int, PushSubscription], None] | None = None,
    ) -> None:
        self.core = JmapCore(
            services,
            authenticate,
            options,
            subscription_created=subscription_created,
            offload=_in_thread,
        )
        self.store = services.store
        self.hub = hub
        self.router = self._routes()

    @property
    def dispatcher(self) -> Dispatcher:
        return self.core.dispatcher

    def set_urls(self, public_url: str, ports: Mapping[str, int]) -> None:
        """Once the ports are bound: the public URL (a port 0 replaced) and the bound ports."""
        self.core.sessions.set_urls(public_url, ports)

    def _routes(self) -> Router:
        core = self.core
        limits = core.options.core
        r = Router()
        r.add("/.well-known/jmap", core.session_resource)
        r.add("/jmap/session", core.session_resource)
        # RFC 8620 §3.6.1: a body over maxSizeRequest, declared or chunked, gets the JMAP
        # `limit` problem; an upload over maxSizeUpload the same with limit maxSizeUpload.
        r.add(
            "/jmap/",
            core.api,
            ("POST",),
            max_body=limits.max_size_request,
            too_large=problem_response(request_too_large(limits)),
        )
        r.add(
            "/jmap/upload/{accountId}/",
            core.upload,
            ("POST",),
            max_body=limits.max_size_upload,
            too_large=upload_too_large(limits.max_size_upload),
        )
        r.add("/jmap/download/{accountId}/{blobId}/{name}", core.download)
        r.add("/jmap/eventsource/", self.event_source)
        r.add("/jmap/ws", self.websocket, max_body=0)
        return r

    def admit(self, request: Request) -> Admitted | Response:
        """The router (whose routes carry the body limits and their answers)."""
        return self.router.admit(request)

    # -- EventSource (§7.3) -----------------------------------------------------------------
    async def event_source(self, request: Request) -> Reply:
        login = await self.core.authenticate(request)
        if isinstance(login, Response):
            return login
        try:
            params = parse_event_source(dict(request.query))
        except BadParameter as exc:
            return problem(400, detail=str(exc))
        # Register before the response head goes out, so that no change after the client saw
        # the 200 can be missed.
        accounts = login.accounts
        listener = self.hub.register(accounts)
        stream = _EventStream(
            self, listener, accounts, params.types, params.close_after_state, params.ping
        )
        last = request.headers.get("last-event-id")
        if last is not None:
            stream.missed = types_since(self.store, accounts, last)
        return StreamingResponse.event_stream(stream)

    # -- WebSocket (RFC 8887) ---------------------------------------------------------------
    async def websocket(self, request: Request) -> Reply:
        login = await self.core.authenticate(request)
        if isinstance(login, Response):
            return login
        chosen = choose_subprotocol(request.websocket_offer, (WS_SUBPROTOCOL,))
        if chosen is None:
            # RFC 8887 §3: the client MUST offer "jmap"; refuse the handshake otherwise.
            return problem(400, detail="the WebSocket subprotocol 'jmap' is required")
        session = _WsSession(self, login, self.core.base_url(request))
        return WebSocketUpgrade(session.run, chosen)


class _EventStream:
    """The body of one EventSource response: ``state`` and ``ping`` events (§7.3).

    Event ids are the accounts' push state (:func:`push_state`: one account, its modseq), so a
    reconnecting client's ``Last-Event-ID`` tells us which types changed while it was away;
    those are sent at once.
    """

    def __init__(
        self,
        server: JmapServer,
        listener: Listener,
        accounts: tuple[int, ...],
        wanted: frozenset[str] | None,
        close_after_state: bool,
        ping: int,
    ) -> None:
        self.server = server
        self.listener = listener
        self.accounts = accounts
        self.wanted = wanted
        self.close_after_state = close_after_state
        self.ping = ping
        self.missed: Mapping[int, frozenset[str]] = {}
        self.next_ping = trio.current_time() + ping
        self.done = False
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self.done:
            await self.aclose()
            raise StopAsyncIteration
        store = self.server.store
        while True:
            changes, self.missed = self.missed, {}
            if not changes:
                if self.ping:
                    with trio.move_on_at(self.next_ping) as scope:
                        changes = await self.listener.wait()
                    if scope.cancelled_caught:
                        self.next_ping = trio.current_time() + self.ping
                        return ping_event(self.ping)
                else:
                    changes = await self.listener.wait()
            changed = changed_states(store, changes, self.accounts, self.wanted)
            if not changed:
                continue
            event_id = push_state(store, self.accounts)
            # §7.3: with closeafter=state the response ends after one state event.
            self.done = self.close_after_state
            self.next_ping = trio.current_time() + self.ping
            return sse_event("state", state_change(changed), event_id=event_id)

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self.server.hub.unregister(self.listener)


class _WsSession:
    """One JMAP WebSocket connection (RFC 8887 §4)."""

    def __init__(self, server: JmapServer, login: Login, base: str) -> None:
        self.server = server
        self.login = login
        self.base = base
        self.push_scope: trio.CancelScope | None = None

    async def run(self, ws: WebSocket) -> None:
        async with trio.open_nursery() as nursery:
            try:
                while True:
                    message = await ws.receive()
                    if message is None:
                        break
                    await self.handle(ws, message, nursery)
            finally:
                nursery.cancel_scope.cancel()

    async def handle(self, ws: WebSocket, message: str | bytes, nursery: trio.Nursery) -> None:
        request_id: Any = None
        core = self.server.core
        try:
            obj, data = decode_ws_message(message, core.options.core)
            request_id = obj.get("id")
            parsed = ws_message(obj, data)
            if isinstance(parsed, WsRequest):
                # Extra members (@type, id) are ignored by parse_request.
                result = await core.execute(self.login, parsed.data, self.base)
                await ws.send(ws_response(result, request_id))
            elif isinstance(parsed, PushEnable):
                self.enable_push(ws, parsed, nursery)
            elif isinstance(parsed, PushDisable):
                self.disable_push()
        except RequestProblem as exc:
            await ws.send(ws_error(exc, request_id))

    def enable_push(self, ws: WebSocket, enable: PushEnable, nursery: trio.Nursery) -> None:
        """RFC 8887 §4.3.5: replaces any earlier push configuration."""
        self.disable_push()
        accounts = self.login.accounts
        listener = self.server.hub.register(accounts)
        missed: Mapping[int, frozenset[str]] = {}
        if enable.push_state is not None:
            missed = types_since(self.server.store, accounts, enable.push_state)
        scope = trio.CancelScope()
        self.push_scope = scope
        nursery.start_soon(self._push, ws, listener, enable.types, missed, scope)

    def disable_push(self) -> None:
        if self.push_scope is not None:
            self.push_scope.cancel()
            self.push_scope = None

    async def _push(
        self,
        ws: WebSocket,
        listener: Listener,
        wanted: frozenset[str] | None,
        missed: Mapping[int, frozenset[str]],
        scope: trio.CancelScope,
    ) -> None:
        store = self.server.store
        accounts = self.login.accounts
        try:
            with scope:
                changes = missed
                while True:
                    changed = changed_states(store, changes, accounts, wanted)
                    if changed:
                        change = state_change(changed, push_state=push_state(store, accounts))
                        await ws.send(ws_push(change))
                    changes = await listener.wait()
        except trio.ClosedResourceError:
            pass
        finally:
            self.server.hub.unregister(listener)


__all__ = ["JmapOptions", "JmapServer"]
