"""JMAP over HTTP (RFC 8620): the application glue between the HTTP layer, the JMAP core and the
store.

Routes (all authenticated with HTTP Basic against the account password):

- ``GET /.well-known/jmap`` and ``GET /jmap/session``: the Session resource (§2, §2.2).
- ``POST /jmap/``: the API (§3); request-level errors are problem documents (§3.6.1).
- ``POST /jmap/upload/{accountId}/``: blob upload (§6.1).
- ``GET /jmap/download/{accountId}/{blobId}/{name}?accept=``: blob download (§6.2), with
  single byte ranges (RFC 9110 §14) and part blob ids of stored messages.
- ``GET /jmap/eventsource/?types=&closeafter=&ping=``: push over EventSource (§7.3).
- ``GET /jmap/ws``: JMAP over WebSocket, subprotocol ``jmap`` (RFC 8887), with push.

Method handlers come from :mod:`protocols.jmap.mail` when it is importable (the glue does not
depend on which methods exist: a capability is advertised once some method of it is
registered), plus Core/echo and PushSubscription/get|set.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import trio

from protocols.http import (
    Admitted,
    BasicCredentials,
    BearerToken,
    Headers,
    MalformedAuthorization,
    Request,
    Response,
    Router,
    StreamingResponse,
    WebSocket,
    WebSocketUpgrade,
    choose_subprotocol,
    parse_authorization,
    problem,
    unauthorized,
)
from protocols.http.messages import Reply
from protocols.jmap.context import JmapContext, JmapLimits, JmapServices, SubmissionRecipient
from protocols.jmap.core import (
    BLOB,
    MAIL,
    QUOTA,
    SUBMISSION,
    VACATION_RESPONSE,
    WEBSOCKET,
    CoreLimits,
    Dispatcher,
    RequestProblem,
    Session,
    SessionAccount,
    SessionUrls,
    build_session,
    check_content_type,
    check_request_size,
    jsonio,
    parse_request,
    request_too_large,
    websocket_capability,
)
from protocols.jmap.push import (
    BadParameter,
    PushHooks,
    filter_types,
    parse_event_source,
    ping_event,
    sse_event,
    state_change,
)
from protocols.jmap.push import register as register_push
from store import ApplyResult, Batch, Store
from store.batch import UploadBlob
from store.fts import Query
from store.ids import blob_id, object_id, parse_blob_id, parse_object_id
from store.models import Principal

from . import clock
from .auth import Authenticator
from .delivery import Delivery, Envelope
from .indexer import Indexer
from .jmap_http import (
    byte_range,
    concurrency_problem,
    content_disposition,
    encode_response,
    problem_response,
    request_base_url,
    upload_too_large,
)
from .push import ChangeHub, Listener, PushSender, type_states
from .storage import write

log = logging.getLogger(__name__)

WS_SUBPROTOCOL: Final = "jmap"
_MEDIA_TYPE: Final = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}")
# Blobs never change (they are content-addressed), so a download may be cached as immutable.
_DOWNLOAD_CACHE: Final = "private, immutable, max-age=31536000"
_MAX_CACHED_SESSIONS: Final = 4096
_JSON_HEADERS: Final = Headers((("content-type", "application/json"),))
SORT_OPTIONS: Final = (
    "receivedAt",
    "sentAt",
    "size",
    "from",
    "to",
    "subject",
    "hasKeyword",
    "allInThreadHaveKeyword",
    "someInThreadHaveKeyword",
)


@dataclass(frozen=True, slots=True)
class JmapOptions:
    public_url: str  # "" = each Session's URLs from its request's scheme and Host
    hostname: str = "localhost"
    core: CoreLimits = field(default_factory=CoreLimits)
    upload_ttl: int = 86400
    max_mailbox_depth: int = 10
    max_mailbox_name: int = 255
    max_mailboxes_per_email: int = 128
    max_attachments_size: int = 50_000_000


class JmapService:
    """The JMAP HTTP application of one server."""

    def __init__(
        self,
        store: Store,
        authenticator: Authenticator,
        delivery: Delivery,
        indexer: Indexer,
        options: JmapOptions,
        hub: ChangeHub,
        push: PushSender | None = None,
    ) -> None:
        self.store = store
        self.authenticator = authenticator
        self.delivery = delivery
        self.indexer = indexer
        self.options = options
        self.public_url = options.public_url
        # The ports bound per scheme (set by the server): the fallback for a missing Host.
        self.ports: Mapping[str, int] = {}
        self.hub = hub
        self.push = push
        core = options.core
        self.services = JmapServices(
            store=store,
            write=self._write,
            search_text=self._search_text,
            snippet=self._snippet,
            submit=self._submit,
            now=clock.now,
            hostname=options.hostname,
            limits=JmapLimits(
                max_objects_in_get=core.max_objects_in_get,
                max_objects_in_set=core.max_objects_in_set,
                max_size_upload=core.max_size_upload,
                upload_ttl=options.upload_ttl,
            ),
        )
        self.dispatcher = Dispatcher()
        register_mail(self.dispatcher)
        self.mail_loaded = MAIL in self.dispatcher.capabilities
        register_push(self.dispatcher, PushHooks(created=self._push_created))
        self._active: dict[tuple[str, int], int] = {}
        # The Session object depends only on the principal, the base URL (RFC 8620 §2: the
        # URLs are absolute) and this service's fixed options and registered methods, so it is
        # built once per (principal, base) (a changed principal, e.g. a new alias or password,
        # is a different key).
        self._sessions: dict[tuple[Principal, str], Session] = {}
        self.router = self._routes()

    # -- services ---------------------------------------------------------------------------
    async def _write(self, batch: Batch) -> ApplyResult:
        return await write(self.store, batch)

    async def _search_text(self, account_id: int, query: Query) -> set[int]:
        return await trio.to_thread.run_sync(self.indexer.search, account_id, query)

    async def _snippet(
        self, account_id: int, email_id: int, query: Query
    ) -> tuple[str | None, str | None]:
        return await trio.to_thread.run_sync(self.indexer.snippet, account_id, email_id, query)

    async def _submit(
        self, account_id: int, mail_from: str, rcpts: tuple[str, ...], data: bytes
    ) -> list[SubmissionRecipient]:
        """Delivery to addresses of this server through the LMTP delivery path, with each
        recipient's real outcome.  There is no outbound relay: EmailSubmission refuses remote
        recipients before it calls this (RFC 8621 §7.5 forbiddenToSend)."""
        env = Envelope(
            mail_from=mail_from, recipients=rcpts, helo=self.options.hostname, protocol="ESMTPA"
        )
        results = await self.delivery.deliver(env, data)
        return [
            SubmissionRecipient(rcpt, "delivered" if err is None else "failed", err)
            for rcpt, err in zip(rcpts, results, strict=True)
        ]

    def _push_created(self, account_id: int, sub: Any) -> None:
        if self.push is not None:
            self.push.verify(account_id, sub)

    # -- routing ----------------------------------------------------------------------------
    def _routes(self) -> Router:
        core = self.options.core
        r = Router()
        r.add("/.well-known/jmap", self.session_resource)
        r.add("/jmap/session", self.session_resource)
        # RFC 8620 §3.6.1: a body over maxSizeRequest, declared or chunked, gets the JMAP
        # `limit` problem; an upload over maxSizeUpload the same with limit maxSizeUpload.
        r.add(
            "/jmap/",
            self.api,
            ("POST",),
            max_body=core.max_size_request,
            too_large=problem_response(request_too_large(core)),
        )
        r.add(
            "/jmap/upload/{accountId}/",
            self.upload,
            ("POST",),
            max_body=core.max_size_upload,
            too_large=upload_too_large(core.max_size_upload),
        )
        r.add("/jmap/download/{accountId}/{blobId}/{name}", self.download)
        r.add("/jmap/eventsource/", self.event_source)
        r.add("/jmap/ws", self.websocket, max_body=0)
        return r

    def admit(self, request: Request) -> Admitted | Response:
        """The router (whose routes carry the body limits and their answers)."""
        return self.router.admit(request)

    # -- authentication ---------------------------------------------------------------------
    async def authenticate(self, request: Request) -> Principal | Response:
        try:
            creds = parse_authorization(request)
        except MalformedAuthorization:
            return unauthorized("malformed Authorization header")
        if isinstance(creds, BearerToken):
            return unauthorized("bearer tokens are not supported yet")
        if not isinstance(creds, BasicCredentials):
            return unauthorized()
        principal = await self.authenticator.authenticate(creds.username, creds.password)
        if principal is None:
            log.info("JMAP login failed for %r from %s", creds.username, request.peer)
            return unauthorized("invalid credentials")
        return principal

    def _own_account(self, principal: Principal, account_id: str) -> int | None:
        number = parse_object_id("account", account_id)
        if number is None or number != principal.id or self.store.account(number) is None:
            return None
        return number

    # -- session ----------------------------------------------------------------------------
    def base_url(self, request: Request) -> str:
        return request_base_url(request, self.public_url, self.ports, self.options.hostname)

    def session(self, principal: Principal, base: str) -> Session:
        key = (principal, base)
        cached = self._sessions.get(key)
        if cached is None:
            if len(self._sessions) >= _MAX_CACHED_SESSIONS:
                self._sessions.clear()
            cached = self._sessions[key] = self._build_session(principal, base)
        return cached

    def _build_session(self, principal: Principal, base: str) -> Session:
        o = self.options
        registered = self.dispatcher.capabilities
        offered: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
            MAIL: (
                {},
                {
                    "maxMailboxesPerEmail": o.max_mailboxes_per_email,
                    "maxMailboxDepth": o.max_mailbox_depth,
                    "maxSizeMailboxName": o.max_mailbox_name,
                    "maxSizeAttachmentsPerEmail": o.max_attachments_size,
                    "emailQuerySortOptions": list(SORT_OPTIONS),
                    "mayCreateTopLevelMailbox": True,
                },
            ),
            SUBMISSION: ({}, {"maxDelayedSend": 0, "submissionExtensions": {}}),
            VACATION_RESPONSE: ({}, {}),
            QUOTA: ({}, {}),  # RFC 9425 §3
            BLOB: (  # RFC 9404 §4
                {},
                {
                    "maxSizeBlobSet": o.core.max_size_upload,
                    "maxDataSources": 64,
                    "supportedTypeNames": ["Email", "Mailbox", "Thread"],
                    "supportedDigestAlgorithms": ["sha", "sha-256"],
                },
            ),
        }
        server_caps: dict[str, dict[str, Any]] = {}
        account_caps: dict[str, dict[str, Any]] = {}
        for uri, (server_obj, account_obj) in offered.items():
            if uri in registered:
                server_caps[uri] = server_obj
                account_caps[uri] = account_obj
        server_caps[WEBSOCKET] = websocket_capability(base)
        acct = object_id("account", principal.id)
        name = principal.emails[0] if principal.emails else principal.name
        return build_session(
            username=principal.name,
            accounts=[SessionAccount(acct, name, capabilities=account_caps)],
            limits=o.core,
            urls=SessionUrls.from_base(base),
            capabilities=server_caps,
            primary_accounts=dict.fromkeys(account_caps, acct),
        )

    async def session_resource(self, request: Request) -> Reply:
        """§2: the Session object, served directly at the well-known URL (§2.2 allows it)."""
        principal = await self.authenticate(request)
        if isinstance(principal, Response):
            return principal
        session = self.session(principal, self.base_url(request))
        return Response(
            200,
            Headers(
                (("content-type", "application/json"), ("cache-control", "no-cache, no-store"))
            ),
            session.to_bytes(),
        )

    # -- API --------------------------------------------------------------------------------
    async def execute(self, principal: Principal, body: bytes, base: str) -> dict[str, Any]:
        """Runs one JMAP request; raises :class:`RequestProblem`.  ``base`` is the base URL of
        the Session the request belongs to (its ``state`` is the response's sessionState)."""
        session = self.session(principal, base)
        jmap_request = parse_request(
            body, limits=self.options.core, capabilities=session.capabilities.keys()
        )
        ctx = JmapContext(self.services, principal)
        response = await self.dispatcher.execute(
            jmap_request, session_state=session.state, context=ctx
        )
        return response.to_json()

    async def api(self, request: Request) -> Reply:
        principal = await self.authenticate(request)
        if isinstance(principal, Response):
            return principal
        core = self.options.core
        with self._slot(principal, "api", core.max_concurrent_requests) as ok:
            if not ok:
                return problem_response(concurrency_problem("maxConcurrentRequests"))
            try:
                check_content_type(request.headers.get("content-type"))
                result = await self.execute(principal, request.body, self.base_url(request))
            except RequestProblem as exc:
                return problem_response(exc)
        return Response(200, _JSON_HEADERS, encode_response(result))

    def _slot(self, principal: Principal, kind: str, limit: int) -> _Slot:
        return _Slot(self._active, (kind, principal.id), limit)

    # -- upload and download (§6) -----------------------------------------------------------
    async def upload(self, request: Request) -> Reply:
        principal = await self.authenticate(request)
        if isinstance(principal, Response):
            return principal
        acct = self._own_account(principal, request.path_params["accountId"])
        if acct is None:
            return problem(404, detail="no such account")
        core = self.options.core
        data = request.body
        if len(data) > core.max_size_upload:
            return upload_too_large(core.max_size_upload)
        with self._slot(principal, "upload", core.max_concurrent_upload) as ok:
            if not ok:
                return problem_response(concurrency_problem("maxConcurrentUpload"))
            sha = hashlib.sha256(data).digest()
            now = clock.now()
            op = UploadBlob(acct, sha, data, now + self.options.upload_ttl)
            result = (await self._write(Batch((op,), now=now)))[0]
            if result.error is not None:
                raise result.error
        content_type = request.headers.get("content-type") or "application/octet-stream"
        return Response.json(
            {
                "accountId": object_id("account", acct),
                "blobId": blob_id(sha),
                "type": content_type,
                "size": len(data),
            },
            status=201,
        )

    async def _blob_bytes(self, acct: int, text: str) -> bytes | None:
        now = clock.now()
        sha = parse_blob_id(text)
        if sha is not None:
            if not self.store.blob_accessible(acct, sha, now):
                return None
            return self.store.blob(sha)
        try:
            render = importlib.import_module("protocols.jmap.mail.email_render")
        except ImportError:
            return None
        parsed = render.parse_part_blob_id(text)
        if parsed is None:
            return None
        sha, path = parsed
        if not self.store.blob_accessible(acct, sha, now):
            return None
        raw = self.store.blob(sha)
        if raw is None:
            return None
        found = await trio.to_thread.run_sync(render.part_content, raw, path)
        return None if found is None else bytes(found[0])

    async def download(self, request: Request) -> Reply:
        principal = await self.authenticate(request)
        if isinstance(principal, Response):
            return principal
        params = request.path_params
        acct = self._own_account(principal, params["accountId"])
        data = None if acct is None else await self._blob_bytes(acct, params["blobId"])
        if data is None:
            return problem(404, detail="no such blob")
        accept = request.query_get("accept") or ""
        content_type = accept if _MEDIA_TYPE.fullmatch(accept) else "application/octet-stream"
        headers = Headers(
            (
                ("content-disposition", content_disposition(params["name"])),
                ("cache-control", _DOWNLOAD_CACHE),
                ("accept-ranges", "bytes"),
                ("etag", f'"{params["blobId"]}"'),
            )
        )
        spec = request.headers.get("range")
        if spec is None or request.headers.get("if-range") not in (None, f'"{params["blobId"]}"'):
            return Response.binary(data, content_type, headers=headers)
        window = byte_range(spec, len(data))
        if window is None:  # not a single byte range we serve: ignore it (RFC 9110 §14.2)
            return Response.binary(data, content_type, headers=headers)
        if window == (0, -1):
            # RFC 9110 §15.5.17: unsatisfiable; Content-Range names the current length.
            return problem(
                416,
                detail="range not satisfiable",
                headers=Headers((("content-range", f"bytes */{len(data)}"),)),
            )
        first, last = window
        headers = headers.with_("content-range", f"bytes {first}-{last}/{len(data)}")
        return Response.binary(data[first : last + 1], content_type, status=206, headers=headers)

    # -- EventSource (§7.3) -----------------------------------------------------------------
    async def event_source(self, request: Request) -> Reply:
        principal = await self.authenticate(request)
        if isinstance(principal, Response):
            return principal
        try:
            params = parse_event_source(dict(request.query))
        except BadParameter as exc:
            return problem(400, detail=str(exc))
        acct = principal.id
        # Register before the response head goes out, so that no change after the client saw
        # the 200 can be missed.
        listener = self.hub.register(acct)
        stream = _EventStream(
            self, listener, acct, params.types, params.close_after_state, params.ping
        )
        last = request.headers.get("last-event-id")
        if last is not None and last.isdigit():
            stream.resume_from(int(last))
        return StreamingResponse.event_stream(stream)

    def changed_states(
        self, acct: int, types: frozenset[str], wanted: frozenset[str] | None
    ) -> dict[str, str]:
        return type_states(self.store, acct, set(filter_types(types, wanted)))

    def types_since(self, acct: int, modseq: int) -> frozenset[str]:
        """Types whose state moved past ``modseq`` (for a client resuming from that point)."""
        state = self.store.account(acct)
        if state is None:
            return frozenset()
        return frozenset(t for t, m in state.type_states if m > modseq)

    # -- WebSocket (RFC 8887) ---------------------------------------------------------------
    async def websocket(self, request: Request) -> Reply:
        principal = await self.authenticate(request)
        if isinstance(principal, Response):
            return principal
        chosen = choose_subprotocol(request.websocket_offer, (WS_SUBPROTOCOL,))
        if chosen is None:
            # RFC 8887 §3: the client MUST offer "jmap"; refuse the handshake otherwise.
            return problem(400, detail="the WebSocket subprotocol 'jmap' is required")
        session = _WsSession(self, principal, self.base_url(request))
        return WebSocketUpgrade(session.run, chosen)


class _Slot:
    """A per-user concurrency slot (maxConcurrentRequests / maxConcurrentUpload, §2)."""

    def __init__(self, table: dict[tuple[str, int], int], key: tuple[str, int], limit: int) -> None:
        self.table, self.key, self.limit = table, key, limit
        self.taken = False

    def __enter__(self) -> bool:
        if self.table.get(self.key, 0) >= self.limit:
            return False
        self.table[self.key] = self.table.get(self.key, 0) + 1
        self.taken = True
        return True

    def __exit__(self, *exc: object) -> None:
        if self.taken:
            left = self.table[self.key] - 1
            if left:
                self.table[self.key] = left
            else:
                del self.table[self.key]


class _EventStream:
    """The body of one EventSource response: ``state`` and ``ping`` events (§7.3).

    Event ids are the account's modseq, so a reconnecting client's ``Last-Event-ID`` tells us
    which types changed while it was away; those are sent at once.
    """

    def __init__(
        self,
        service: JmapService,
        listener: Listener,
        acct: int,
        wanted: frozenset[str] | None,
        close_after_state: bool,
        ping: int,
    ) -> None:
        self.service = service
        self.listener = listener
        self.acct = acct
        self.wanted = wanted
        self.close_after_state = close_after_state
        self.ping = ping
        self.missed: frozenset[str] = frozenset()
        self.next_ping = trio.current_time() + ping
        self.done = False
        self.closed = False

    def resume_from(self, modseq: int) -> None:
        self.missed = self.service.types_since(self.acct, modseq)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self.done:
            await self.aclose()
            raise StopAsyncIteration
        while True:
            types = self.missed
            self.missed = frozenset()
            if not types:
                if self.ping:
                    with trio.move_on_at(self.next_ping) as scope:
                        types = (await self.listener.wait()).get(self.acct, frozenset())
                    if scope.cancelled_caught:
                        self.next_ping = trio.current_time() + self.ping
                        return ping_event(self.ping)
                else:
                    types = (await self.listener.wait()).get(self.acct, frozenset())
            states = self.service.changed_states(self.acct, types, self.wanted)
            if not states:
                continue
            account = self.service.store.account(self.acct)
            modseq = account.modseq if account is not None else 0
            change = state_change({object_id("account", self.acct): states})
            # §7.3: with closeafter=state the response ends after one state event.
            self.done = self.close_after_state
            self.next_ping = trio.current_time() + self.ping
            return sse_event("state", change, event_id=str(modseq))

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self.service.hub.unregister(self.listener)


class _WsSession:
    """One JMAP WebSocket connection (RFC 8887 §4)."""

    def __init__(self, service: JmapService, principal: Principal, base: str) -> None:
        self.service = service
        self.principal = principal
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
        try:
            if isinstance(message, bytes):
                # RFC 8887 §4.2: JMAP messages are sent in text frames.
                raise RequestProblem.not_json("JMAP messages must be sent as text frames.")
            data = message.encode()
            check_request_size(len(data), self.service.options.core)
            try:
                obj = jsonio.loads(data)
            except jsonio.JsonError as exc:
                raise RequestProblem.not_json(
                    f"The message did not parse as I-JSON: {exc}"
                ) from None
            if not isinstance(obj, dict):
                raise RequestProblem.not_request("A message must be a JSON object.")
            request_id = obj.get("id")
            kind = obj.get("@type")
            if kind == "Request":
                # Extra members (@type, id) are ignored by parse_request.
                result = await self.service.execute(self.principal, data, self.base)
                out: dict[str, Any] = {"@type": "Response"}
                if isinstance(request_id, str):
                    out["requestId"] = request_id
                out.update(result)
                await ws.send(jsonio.dumps(out).decode())
            elif kind == "WebSocketPushEnable":
                self.enable_push(ws, obj, nursery)
            elif kind == "WebSocketPushDisable":
                self.disable_push()
            else:
                raise RequestProblem.not_request(
                    "@type must be Request, WebSocketPushEnable or WebSocketPushDisable."
                )
        except RequestProblem as exc:
            # RFC 8887 §4.3.4: a RequestError carries the problem details and the request id.
            error: dict[str, Any] = {"@type": "RequestError"}
            if isinstance(request_id, str):
                error["requestId"] = request_id
            error.update(exc.to_json())
            await ws.send(jsonio.dumps(error).decode())

    def enable_push(self, ws: WebSocket, obj: dict[str, Any], nursery: trio.Nursery) -> None:
        """RFC 8887 §4.3.5: replaces any earlier push configuration."""
        types = obj.get("dataTypes")
        if types is not None and (
            not isinstance(types, list) or not all(isinstance(t, str) for t in types)
        ):
            raise RequestProblem.not_request("dataTypes must be null or an array of type names.")
        push_state = obj.get("pushState")
        if push_state is not None and not isinstance(push_state, str):
            raise RequestProblem.not_request("pushState must be a string.")
        self.disable_push()
        wanted = frozenset(types) if types is not None else None
        acct = self.principal.id
        listener = self.service.hub.register(acct)
        missed: frozenset[str] = frozenset()
        if push_state is not None and push_state.isdigit():
            missed = self.service.types_since(acct, int(push_state))
        scope = trio.CancelScope()
        self.push_scope = scope
        nursery.start_soon(self._push, ws, listener, wanted, missed, scope)

    def disable_push(self) -> None:
        if self.push_scope is not None:
            self.push_scope.cancel()
            self.push_scope = None

    async def _push(
        self,
        ws: WebSocket,
        listener: Listener,
        wanted: frozenset[str] | None,
        missed: frozenset[str],
        scope: trio.CancelScope,
    ) -> None:
        service = self.service
        acct = self.principal.id
        try:
            with scope:
                types = missed
                while True:
                    states = service.changed_states(acct, types, wanted)
                    if states:
                        account = service.store.account(acct)
                        push_state = str(account.modseq if account is not None else 0)
                        change = state_change(
                            {object_id("account", acct): states}, push_state=push_state
                        )
                        await ws.send(jsonio.dumps(change).decode())
                    types = (await listener.wait()).get(acct, frozenset())
        except trio.ClosedResourceError:
            pass
        finally:
            service.hub.unregister(listener)


# -- helpers ---------------------------------------------------------------------------------
def register_mail(dispatcher: Dispatcher) -> bool:
    """Registers the Mail methods when :mod:`protocols.jmap.mail` provides ``register``."""
    try:
        module = importlib.import_module("protocols.jmap.mail")
    except ImportError:
        log.warning("JMAP Mail methods are not available")
        return False
    register: Callable[[Dispatcher], None] | None = getattr(module, "register", None)
    if register is None:
        log.warning("protocols.jmap.mail has no register(); JMAP Mail methods are not available")
        return False
    try:
        register(dispatcher)
    except ImportError:
        log.exception("registering the JMAP Mail methods failed part-way")
        return False
    return True


__all__ = ["JmapOptions", "JmapService", "register_mail"]
