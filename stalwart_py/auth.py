"""Password authentication shared by IMAP, JMAP and ManageSieve.

argon2 verification is slow by design (≈0.2 s with default cost), so it runs in a worker thread
under a limiter, and successful logins are cached for ``[auth] login_cache_ttl`` (keyed by a
salted digest of the password, never the password itself).  A failed login costs the same time
whether or not the account exists.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Awaitable, Callable

import trio

from store import Store
from store.models import INDIVIDUAL, Principal

from .passwords import Passwords

VERIFY_LIMITER = trio.CapacityLimiter(4)


class Authenticator:
    """``on_login`` is awaited after each successful password check (not for logins answered
    from the cache); the server uses it to retire a first-start password once it is used."""

    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        *,
        cache_ttl: float = 300.0,
        on_login: Callable[[Principal], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.passwords = passwords
        self.cache_ttl = cache_ttl
        self.on_login = on_login
        self._salt = os.urandom(16)
        self._cache: dict[bytes, tuple[int, str, float]] = {}  # digest -> (pid, secret, expiry)
        self._dummy = passwords.hash(os.urandom(8).hex())

    def _principal(self, username: str) -> Principal | None:
        p = self.store.principal_by_name(username) or self.store.principal_by_address(username)
        return p if p is not None and p.kind == INDIVIDUAL else None

    async def authenticate(self, username: str, password: str) -> Principal | None:
        principal = self._principal(username)
        digest = hashlib.blake2b(
            f"{username}\0{password}".encode("utf-8", "surrogatepass"), key=self._salt
        ).digest()
        cached = self._cache.get(digest)
        now = time.monotonic()
        if (
            cached is not None
            and principal is not None
            and cached[0] == principal.id
            and cached[1] == principal.secret  # a password change invalidates the cache
            and cached[2] > now
        ):
            return principal
        secret = principal.secret if principal is not None else self._dummy
        ok = await trio.to_thread.run_sync(
            self.passwords.verify, secret, password, limiter=VERIFY_LIMITER
        )
        if not ok or principal is None:
            return None
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if v[2] > now}
        self._cache[digest] = (principal.id, principal.secret, now + self.cache_ttl)
        if self.on_login is not None:
            await self.on_login(principal)
        return principal
