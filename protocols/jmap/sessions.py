"""The Session resource (RFC 8620 §2) of a token: its accounts, the capabilities the registered
methods provide, and absolute URLs from the server's public URL or the request's Host."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from protocols.http import Request
from protocols.mail import AccessToken
from store import Store
from store.ids import object_id
from store.models import Principal

from .core import (
    BLOB,
    MAIL,
    QUOTA,
    SUBMISSION,
    VACATION_RESPONSE,
    WEBSOCKET,
    CoreLimits,
    Dispatcher,
    Session,
    SessionAccount,
    SessionUrls,
    build_session,
    websocket_capability,
)
from .responses import request_base_url

_MAX_CACHED_SESSIONS: Final = 4096
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
class SessionOptions:
    hostname: str = "localhost"
    core: CoreLimits = field(default_factory=CoreLimits)
    max_mailbox_depth: int = 10
    max_mailbox_name: int = 255
    max_mailboxes_per_email: int = 128
    max_attachments_size: int = 50_000_000


class Sessions:
    """Session objects, built once per (principal, token, base URL).

    A Session depends only on these and on this server's fixed options and registered methods
    (a changed principal, e.g. a new alias or password, or a token with other accounts is a
    different key), so a cached one is exactly the one that would be built."""

    def __init__(
        self, options: SessionOptions, public_url: str, dispatcher: Dispatcher, store: Store
    ) -> None:
        self.options = options
        self.public_url = public_url
        # The ports bound per scheme (set by the server): the fallback for a missing Host.
        self.ports: Mapping[str, int] = {}
        self.dispatcher = dispatcher
        self.store = store
        self._cache: dict[tuple[Principal, AccessToken, str], Session] = {}
        self._bases: dict[tuple[bool, str | None], str] = {}

    def base_url(self, request: Request) -> str:
        """The base URL for ``request``: a function of its TLS flag and Host header while the
        public URL and ports stay (memoised)."""
        key = (request.tls, request.headers.get("host"))
        found = self._bases.get(key)
        if found is None:
            found = request_base_url(request, self.public_url, self.ports, self.options.hostname)
            if len(self._bases) >= _MAX_CACHED_SESSIONS:
                self._bases.clear()
            self._bases[key] = found
        return found

    def set_urls(self, public_url: str, ports: Mapping[str, int]) -> None:
        self.public_url = public_url
        self.ports = ports
        self._bases.clear()

    def get(self, principal: Principal, token: AccessToken, base: str) -> Session:
        key = (principal, token, base)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= _MAX_CACHED_SESSIONS:
                self._cache.clear()
            cached = self._cache[key] = self._build(principal, token, base)
        return cached

    def _capabilities(self) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """(server, account) capability objects of every capability we may offer."""
        o = self.options
        return {
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

    def _account_name(self, principal: Principal, acct: int) -> str:
        owner = principal if acct == principal.id else self.store.principal(acct)
        if owner is None:
            return object_id("account", acct)
        return owner.emails[0] if owner.emails else owner.name

    def _build(self, principal: Principal, token: AccessToken, base: str) -> Session:
        registered = self.dispatcher.capabilities
        server_caps: dict[str, dict[str, Any]] = {}
        account_caps: dict[str, dict[str, Any]] = {}
        for uri, (server_obj, account_obj) in self._capabilities().items():
            if uri in registered:
                server_caps[uri] = server_obj
                account_caps[uri] = account_obj
        server_caps[WEBSOCKET] = websocket_capability(base)
        # §2: every account the token may see; the personal one is the primary account.
        accounts = [
            SessionAccount(
                object_id("account", acct),
                self._account_name(principal, acct),
                is_personal=acct == principal.id,
                capabilities=account_caps,
            )
            for acct in token.account_ids()
        ]
        primary = object_id("account", token.account_id)
        return build_session(
            username=principal.name,
            accounts=accounts,
            limits=self.options.core,
            urls=SessionUrls.from_base(base),
            capabilities=server_caps,
            primary_accounts=dict.fromkeys(account_caps, primary),
        )
