"""The JMAP Session resource (RFC 8620 §2).

:func:`build_session` assembles capabilities, accounts, primary accounts and the endpoint URLs
(absolute, from the public base URL; the RFC 6570 level-1 template variables are left
unencoded) and computes ``state``: a hash of everything else, so it changes whenever the
session's content (e.g. the set of accessible accounts) does (§2: "If this changes, the client
should refetch the session").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .capabilities import CORE, WEBSOCKET, CoreLimits


@dataclass(frozen=True, slots=True)
class SessionUrls:
    """Endpoint URLs; the templates must keep their variables (§2)."""

    api: str
    download: str
    upload: str
    event_source: str

    @classmethod
    def from_base(cls, base_url: str, *, prefix: str = "/jmap") -> SessionUrls:
        """Absolute URLs under ``base_url`` (``https://mail.example.org``)."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the public base URL must be absolute http(s): {base_url!r}")
        root = base_url.rstrip("/") + "/" + prefix.strip("/")
        return cls(
            api=f"{root}/",
            download=f"{root}/download/{{accountId}}/{{blobId}}/{{name}}?accept={{type}}",
            upload=f"{root}/upload/{{accountId}}/",
            event_source=f"{root}/eventsource/?types={{types}}&closeafter={{closeafter}}"
            "&ping={ping}",
        )


def websocket_capability(
    base_url: str, *, path: str = "/jmap/ws", push: bool = True
) -> dict[str, Any]:
    """The ``urn:ietf:params:jmap:websocket`` capability object (RFC 8887 §4)."""
    parts = urlsplit(base_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"the public base URL must be absolute http(s): {base_url!r}")
    url = urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, "", ""))
    return {"url": url, "supportsPush": push}


@dataclass(frozen=True, slots=True)
class SessionAccount:
    id: str
    name: str
    is_personal: bool = True
    is_read_only: bool = False
    # capability URI → account capability object (e.g. mail's maxMailboxDepth, ...).
    capabilities: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "isPersonal": self.is_personal,
            "isReadOnly": self.is_read_only,
            "accountCapabilities": {k: dict(v) for k, v in self.capabilities.items()},
        }


@dataclass(frozen=True, slots=True)
class Session:
    capabilities: Mapping[str, Mapping[str, Any]]
    accounts: tuple[SessionAccount, ...]
    primary_accounts: Mapping[str, str]
    username: str
    urls: SessionUrls
    state: str

    @property
    def core_limits(self) -> Mapping[str, Any]:
        return self.capabilities[CORE]

    def account(self, account_id: str) -> SessionAccount | None:
        for account in self.accounts:
            if account.id == account_id:
                return account
        return None

    def to_json(self) -> dict[str, Any]:
        out = _body(
            self.capabilities, self.accounts, self.primary_accounts, self.username, self.urls
        )
        out["state"] = self.state
        return out

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()


def _body(
    capabilities: Mapping[str, Mapping[str, Any]],
    accounts: Sequence[SessionAccount],
    primary: Mapping[str, str],
    username: str,
    urls: SessionUrls,
) -> dict[str, Any]:
    return {
        "capabilities": {k: dict(v) for k, v in capabilities.items()},
        "accounts": {a.id: a.to_json() for a in accounts},
        "primaryAccounts": dict(primary),
        "username": username,
        "apiUrl": urls.api,
        "downloadUrl": urls.download,
        "uploadUrl": urls.upload,
        "eventSourceUrl": urls.event_source,
    }


def session_state(body: Mapping[str, Any]) -> str:
    """A short stable hash of the session content (key order does not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def build_session(
    *,
    username: str,
    accounts: Sequence[SessionAccount],
    limits: CoreLimits,
    urls: SessionUrls,
    capabilities: Mapping[str, Mapping[str, Any]] | None = None,
    primary_accounts: Mapping[str, str] | None = None,
) -> Session:
    """The Session for ``username``.

    ``capabilities`` are the server capabilities other than core (mail, submission, ...), given
    by the caller; core is built from ``limits``.  ``primary_accounts`` defaults to, for each
    capability some account has, the first *personal* account that has it.
    """
    caps: dict[str, Mapping[str, Any]] = {CORE: limits.to_json()}
    for uri, obj in (capabilities or {}).items():
        if uri == CORE:
            raise ValueError("the core capability is built from CoreLimits")
        caps[uri] = obj
    ids = [a.id for a in accounts]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate account ids")
    if primary_accounts is None:
        primary: dict[str, str] = {}
        for account in accounts:
            if not account.is_personal:
                continue
            for uri in account.capabilities:
                primary.setdefault(uri, account.id)
    else:
        primary = dict(primary_accounts)
        for uri, account_id in primary.items():
            if account_id not in ids:
                raise ValueError(f"primary account {account_id!r} for {uri} is not an account")
    if WEBSOCKET in caps and "url" not in caps[WEBSOCKET]:
        raise ValueError("the websocket capability needs a url (RFC 8887 §4)")
    body = _body(caps, accounts, primary, username, urls)
    return Session(
        capabilities=caps,
        accounts=tuple(accounts),
        primary_accounts=primary,
        username=username,
        urls=urls,
        state=session_state(body),
    )
