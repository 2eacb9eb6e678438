"""Exact caches of the JMAP request path: encoded answers to repeated read-only requests, and
verified HTTP Basic credentials.

A mail client polls with the same request (the inbox: Mailbox/get + Email/query + Email/get)
far more often than its mail changes.  :class:`AnswerCache` keeps the encoded response of such a
request keyed by everything the answer depends on:

- the request body, byte for byte;
- who asks: the principal record (name, addresses, secret, quota ...) and the access token
  (its accounts and rights in each);
- the Session's base URL (the response's ``sessionState`` depends on it);
- the state of every account the token may see: the store's per-account modseq, which every
  write to an account moves (RFC 8620 §1.6 states are derived from it).

Only requests made solely of methods whose answer is a function of those are kept (the
read methods below; not ``*/changes``, whose answer also depends on how much change history
is kept, nor text search, which reads the full-text index), and only when no account moved
while the request ran and no method answered with an error.  A hit is the very bytes the
dispatcher would have produced.

:class:`LoginCache` keeps a verified ``Authorization`` header (the exact header) together with
the store's directory version: any directory write (a password change, an address moving, an
account removed) makes every entry miss, and an entry lives no longer than the login cache of
the password check itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from store import Store

from .core import Request as JmapRequest

_L = TypeVar("_L")

# Methods whose answer depends only on the account's data (its modseq), the token and the
# arguments (RFC 8620 §5.1 /get, §5.5 /query; RFC 8621 §2, §3, §4).
CACHEABLE_METHODS: Final = frozenset(
    {
        "Core/echo",
        "Mailbox/get",
        "Mailbox/query",
        "Thread/get",
        "Email/get",
        "Email/query",
    }
)
# Email/query filter conditions answered from the full-text index (RFC 8621 §4.4.1).
_INDEXED_CONDITIONS: Final = frozenset(
    {"text", "from", "to", "cc", "bcc", "subject", "body", "header"}
)
MAX_ENTRIES: Final = 1024  # the default bound of AnswerCache ([http] answer_cache_entries)
MAX_ANSWER: Final = 1024 * 1024  # larger answers are not kept
MAX_BYTES: Final = 64 * 1024 * 1024  # the default byte bound ([http] answer_cache_size)


def account_states(store: Store, accounts: Iterable[int]) -> tuple[int, ...]:
    """The modseq of each account (0 for a missing one): what a cached answer is valid for."""
    out = []
    for acct in accounts:
        state = store.account(acct)
        out.append(state.modseq if state is not None else -1)
    return tuple(out)


def cacheable(request: JmapRequest) -> bool:
    """Whether every method call of ``request`` may be answered from the cache."""
    for call in request.method_calls:
        if call.name not in CACHEABLE_METHODS:
            return False
        if call.name == "Email/query" and _uses_index(call.arguments.get("filter")):
            return False
    return True


def _uses_index(condition: Any) -> bool:
    if isinstance(condition, Mapping):
        if _INDEXED_CONDITIONS & condition.keys():
            return True
        return any(_uses_index(c) for c in condition.get("conditions") or ())
    return False


def answered_cleanly(result: Mapping[str, Any]) -> bool:
    """No method of the response is an error (a serverFail is not worth keeping)."""
    return all(inv[0] != "error" for inv in result.get("methodResponses", ()))


# (who: an object standing for one principal record and token, base URL, request body)
_Key = tuple[object, str, bytes]


@dataclass(frozen=True, slots=True)
class _Answer:
    states: tuple[int, ...]
    data: bytes


class AnswerCache:
    """Encoded answers of cacheable requests, bounded in entries and bytes (oldest out first).
    ``max_entries`` 0 (or ``max_bytes`` 0) keeps nothing: every request is computed."""

    def __init__(
        self, store: Store, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES
    ) -> None:
        self.store = store
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: dict[_Key, _Answer] = {}
        self._bytes = 0
        self.hits = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def get(self, key: _Key, accounts: Iterable[int]) -> bytes | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found.states != account_states(self.store, accounts):
            self._drop(key)
            return None
        self.hits += 1
        return found.data

    def put(self, key: _Key, states: tuple[int, ...], data: bytes) -> None:
        if len(data) > min(MAX_ANSWER, self.max_bytes) or not self.enabled:
            return
        self._drop(key)
        while self._entries and (
            len(self._entries) >= self.max_entries or self._bytes + len(data) > self.max_bytes
        ):
            self._drop(next(iter(self._entries)))
        self._entries[key] = _Answer(states, data)
        self._bytes += len(data)

    def _drop(self, key: _Key) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.data)


@dataclass(frozen=True, slots=True)
class _Login(Generic[_L]):
    login: _L
    directory_version: int
    expires: float


class LoginCache(Generic[_L]):
    """Verified ``Authorization`` headers → the login they gave, while the directory is
    unchanged and for at most ``ttl`` seconds."""

    def __init__(
        self, store: Store, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, _Login[_L]] = {}

    def get(self, header: str) -> _L | None:
        found = self._entries.get(header)
        if found is None:
            return None
        if found.directory_version != self.store.directory_version or found.expires <= (
            self.clock()
        ):
            del self._entries[header]
            return None
        return found.login

    def put(self, header: str, login: _L, directory_version: int) -> None:
        """``directory_version`` is the one read before the credentials were checked."""
        if self.ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[header] = _Login(login, directory_version, self.clock() + self.ttl)
