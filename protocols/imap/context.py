"""What an IMAP session needs from the application, injected once per listener."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

from protocols.mail import MailService
from protocols.mail.transaction import Writer
from store import Store
from store.models import Principal

from .records import RecordCache
from .selected import RecentTracker


@dataclass(frozen=True, slots=True)
class ImapLimits:
    max_line_length: int = 65536
    max_literal_size: int = 50 * 1024 * 1024  # also APPENDLIMIT (RFC 7889)
    idle_keepalive: float = 120.0  # "* OK Still here" during IDLE, keeps NAT paths open
    idle_timeout: float = 1800.0  # RFC 9051 §5.4: at least 30 minutes of inactivity
    command_timeout: float = 300.0  # a started command's literals/continuations must arrive
    max_connections_per_user: int = 50
    max_connections_per_ip: int = 200
    max_bad_commands: int = 20  # then BYE: a client in a loop of errors


class ConnectionCounter:
    """Connections per user and per IP, shared by every listener."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def acquire(self, key: str, limit: int) -> bool:
        with self._lock:
            n = self._counts.get(key, 0)
            if n >= limit:
                return False
            self._counts[key] = n + 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            n = self._counts.get(key, 0) - 1
            if n <= 0:
                self._counts.pop(key, None)
            else:
                self._counts[key] = n


@dataclass
class ImapContext:
    store: Store
    write: Writer  # the store's writer; only the mail service calls it
    authenticate: Callable[[str, str], Awaitable[Principal | None]]
    # (account, needle, body_only, emails or None for all) -> those of the emails whose text
    # contains the needle (SEARCH TEXT/BODY)
    search_substring: Callable[[int, str, bool, Collection[int] | None], Awaitable[set[int]]]
    now: Callable[[], int]
    hostname: str = "localhost"
    limits: ImapLimits = field(default_factory=ImapLimits)
    allow_plaintext_auth: bool = False
    tls_available: bool = True
    recent: RecentTracker = field(default_factory=RecentTracker)
    connections: ConnectionCounter = field(default_factory=ConnectionCounter)
    # Decoded email records shared by the sessions (see records.py); built from ``store``.
    records: RecordCache = field(init=False)
    # Every mail operation goes through the mail service (built from store, write and now).
    mail: MailService = field(init=False)

    def __post_init__(self) -> None:
        self.records = RecordCache(self.store)
        self.mail = MailService(self.store, self.write, self.now)
