"""JMAP over HTTP (RFC 8620), sans-IO: what the server answers to each request.

Routes (all authenticated with HTTP Basic against the account password):

- ``GET /.well-known/jmap`` and ``GET /jmap/session``: the Session resource (§2, §2.2).
- ``POST /jmap/``: the API (§3); request-level errors are problem documents (§3.6.1).
- ``POST /jmap/upload/{accountId}/``: blob upload (§6.1), through the mail service.
- ``GET /jmap/download/{accountId}/{blobId}/{name}?accept=``: blob download (§6.2), with
  single byte ranges (RFC 9110 §14) and part blob ids of stored messages.

EventSource (§7.3) and WebSocket (RFC 8887) need tasks and timers: :mod:`.server` adds them
over this core, with the decisions they share (who is asking, which accounts, the parsing of
a WebSocket message) taken here.  Everything this core needs from the application (password
checks, delivery, search, the clock, running CPU work off the loop) is injected.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

from protocols.http import (
    BasicCredentials,
    BearerToken,
    Headers,
    MalformedAuthorization,
    Request,
    Response,
    parse_authorization,
    problem,
    unauthorized,
)
from protocols.http.messages import Reply
from protocols.mail import AccessToken, AuthMethod
from store.ids import blob_id, object_id, parse_blob_id, parse_object_id
from store.models import Principal

from .answers import (
    MAX_BYTES,
    MAX_ENTRIES,
    AnswerCache,
    LoginCache,
    account_states,
    answered_cleanly,
    cacheable,
)
from .context import JmapContext, JmapServices
from .core import CoreLimits, Dispatcher, RequestProblem, Session, check_content_type, parse_request
from .core import Request as JmapRequest
from .mail import register as register_mail
from .mail.email_render import parse_part_blob_id, part_content
from .push import PushHooks, PushSubscription
from .push import register as register_push
from .responses import (
    byte_range,
    concurrency_problem,
    content_disposition,
    encode_response,
    problem_response,
)
from .sessions import SessionOptions, Sessions

log = logging.getLogger("protocols.jmap")

_T = TypeVar("_T")
# A password check: the principal, or None when the credentials are not valid.
Authenticate = Callable[[str, str], Awaitable[Principal | None]]

_MEDIA_TYPE: Final = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}")
# Blobs never change (they are content-addressed), so a download may be cached as immutable.
_DOWNLOAD_CACHE: Final = "private, immutable, max-age=31536000"
_JSON_HEADERS: Final = Headers((("content-type", "application/json"),))
_SESSION_HEADERS: Final = Headers(
    (("content-type", "application/json"), ("cache-control", "no-cache, no-store"))
)


class Offload(Protocol):
    """Runs CPU-bound work (a part of a large message) off the event loop."""

    def __call__(self, fn: Callable[[], _T], /) -> Awaitable[_T]: ...


async def _inline(fn: Callable[[], _T]) -> _T:
    return fn()


@dataclass(frozen=True, slots=True)
class JmapOptions:
    public_url: str  # "" = each Session's URLs from its request's scheme and Host
    session: SessionOptions = field(default_factory=SessionOptions)
    upload_ttl: int = 86400
    login_cache_ttl: float = 300.0  # how long a verified Authorization header is trusted
    answer_cache_entries: int = MAX_ENTRIES  # AnswerCache bounds; 0 entries = no cache
    answer_cache_bytes: int = MAX_BYTES

    @property
    def hostname(self) -> str:
        return self.session.hostname

    @property
    def core(self) -> CoreLimits:
        return self.session.core


@dataclass(frozen=True, slots=True, eq=False)
class Login:
    """An authenticated request's principal and the token it acts with.  Compared (and
    hashed) by identity: one object per verified login, so a cache keyed by it is keyed by
    that exact principal record and token."""

    principal: Principal
    token: AccessToken
    # The accounts the token may see, the personal one first (push is keyed by them).
    accounts: tuple[int, ...]

    @classmethod
    def of(cls, principal: Principal, token: AccessToken) -> Login:
        return cls(principal, token, tuple(token.account_ids()))


class JmapCore:
    """The JMAP HTTP application of one server, without I/O of its own."""

    def __init__(
        self,
        services: JmapServices,
        authenticate: Authenticate,
        options: JmapOptions,
        *,
        subscription_created: Callable[[int, PushSubscription], None] | None = None,
        offload: Offload = _inline,
    ) -> None:
        self.services = services
        self.store = services.store
        self.mail = services.mail
        self._authenticate = authenticate
        self.options = options
        self.offload = offload
        self._subscription_created = subscription_created
        self.dispatcher = Dispatcher()
        register_mail(self.dispatcher)
        register_push(self.dispatcher, PushHooks(created=self._push_created))
        self._active: dict[tuple[str, int], int] = {}
        self._logins: LoginCache[Login] = LoginCache(self.store, options.login_cache_ttl)
        self.answers = AnswerCache(
            self.store, options.answer_cache_entries, options.answer_cache_bytes
        )
        self.sessions = Sessions(options.session, options.public_url, self.dispatcher, self.store)

    def _push_created(self, account_id: int, sub: PushSubscription) -> None:
        if self._subscription_created is not None:
            self._subscription_created(account_id, sub)

    # -- authentication ---------------------------------------------------------------------
    async def authenticate(self, request: Request) -> Login | Response:
        header = request.headers.get("authorization")
        if header is not None:
            cached = self._logins.get(header)
            if cached is not None:
                return cached
        version = self.store.directory_version
        try:
            creds = parse_authorization(header)
        except MalformedAuthorization:
            return unauthorized("malformed Authorization header")
        if isinstance(creds, BearerToken):
            return unauthorized("bearer tokens are not supported yet")
        if not isinstance(creds, BasicCredentials):
            return unauthorized()
        principal = await self._authenticate(creds.username, creds.password)
        if principal is None:
            log.info("JMAP login failed for %r from %s", creds.username, request.peer)
            return unauthorized("invalid credentials")
        login = Login.of(principal, self.mail.token_for(principal, AuthMethod.PASSWORD))
        if header is not None:
            self._logins.put(header, login, version)
        return login

    def _account(self, login: Login, account_id: str) -> int | None:
        """The numeric account of a URL's ``accountId`` if the token may see it (§6)."""
        number = parse_object_id("account", account_id)
        if number is None or not login.token.may_see(number) or self.store.account(number) is None:
            return None
        return number

    # -- session ----------------------------------------------------------------------------
    def session(self, login: Login, base: str) -> Session:
        return self.sessions.get(login.principal, login.token, base)

    def base_url(self, request: Request) -> str:
        return self.sessions.base_url(request)

    async def session_resource(self, request: Request) -> Reply:
        """§2: the Session object, served directly at the well-known URL (§2.2 allows it)."""
        login = await self.authenticate(request)
        if isinstance(login, Response):
            return login
        session = self.session(login, self.base_url(request))
        return Response(200, _SESSION_HEADERS, session.to_bytes())

    # -- API --------------------------------------------------------------------------------
    async def execute(self, login: Login, body: bytes, base: str) -> dict[str, Any]:
        """Runs one JMAP request; raises :class:`RequestProblem`.  ``base`` is the base URL of
        the Session the request belongs to (its ``state`` is the response's sessionState)."""
        return (await self._run(login, body, base))[1]

    async def _run(
        self, login: Login, body: bytes, base: str
    ) -> tuple[JmapRequest, dict[str, Any]]:
        session = self.session(login, base)
        jmap_request = parse_request(
            body, limits=self.options.core, capabilities=session.capabilities.keys()
        )
        ctx = JmapContext(self.services, login.principal, token=login.token)
        response = await self.dispatcher.execute(
            jmap_request, session_state=session.state, context=ctx
        )
        return jmap_request, response.to_json()

    async def answer(self, login: Login, body: bytes, base: str) -> bytes:
        """The encoded response to an API request, from :class:`AnswerCache` when the same
        request was answered at the accounts' current state; raises :class:`RequestProblem`."""
        if not self.answers.enabled:
            return encode_response((await self._run(login, body, base))[1])
        key = (login, base, body)
        found = self.answers.get(key, login.accounts)
        if found is not None:
            return found
        states = account_states(self.store, login.accounts)
        jmap_request, result = await self._run(login, body, base)
        data = encode_response(result)
        if (
            cacheable(jmap_request)
            and answered_cleanly(result)
            and account_states(self.store, login.accounts) == states
        ):
            self.answers.put(key, states, data)
        return data

    async def api(self, request: Request) -> Reply:
        login = await self.authenticate(request)
        if isinstance(login, Response):
            return login
        core = self.options.core
        with self._slot(login, "api", core.max_concurrent_requests) as ok:
            if not ok:
                return problem_response(concurrency_problem("maxConcurrentRequests"))
            try:
                check_content_type(request.headers.get("content-type"))
                data = await self.answer(login, request.body, self.base_url(request))
            except RequestProblem as exc:
                return problem_response(exc)
        return Response(200, _JSON_HEADERS, data)

    def _slot(self, login: Login, kind: str, limit: int) -> _Slot:
        return _Slot(self._active, (kind, login.principal.id), limit)

    # -- upload and download (§6) -----------------------------------------------------------
    async def upload(self, request: Request) -> Reply:
        login = await self.authenticate(request)
        if isinstance(login, Response):
            return login
        acct = self._account(login, request.path_params["accountId"])
        if acct is None:
            return problem(404, detail="no such account")
        data = request.body
        core = self.options.core
        with self._slot(login, "upload", core.max_concurrent_upload) as ok:
            if not ok:
                return problem_response(concurrency_problem("maxConcurrentUpload"))
            sha = hashlib.sha256(data).digest()
            txn = self.mail.begin(login.token)
            ref = txn.upload_blob(acct, sha, data, txn.now + self.options.upload_ttl)
            error = (await txn.commit())[ref].error
            if error is not None:
                raise error
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

    async def _blob_bytes(self, token: AccessToken, acct: int, text: str) -> bytes | None:
        sha = parse_blob_id(text)
        if sha is not None:
            return self.mail.blob(token, acct, sha)
        parsed = parse_part_blob_id(text)
        if parsed is None:
            return None
        sha, path = parsed
        raw = self.mail.blob(token, acct, sha)
        if raw is None:
            return None
        found = await self.offload(lambda: part_content(raw, path))
        return None if found is None else bytes(found[0])

    async def download(self, request: Request) -> Reply:
        login = await self.authenticate(request)
        if isinstance(login, Response):
            return login
        params = request.path_params
        acct = self._account(login, params["accountId"])
        data = None if acct is None else await self._blob_bytes(login.token, acct, params["blobId"])
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


__all__ = ["Authenticate", "JmapCore", "JmapOptions", "Login", "Offload"]
