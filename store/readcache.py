"""A cache of decoded records for the hottest point reads (account states, principals, name
and address lookups), kept exact by the writer thread.

Every protocol request reads its account's state several times (JMAP states, IMAP MODSEQs,
quota), and every login reads its principal: a LevelDB ``get`` plus a msgpack decode each time.
Records here are frozen values, so one decoded instance can be shared by every reader.

Exactness: the writer calls :meth:`ReadCache.invalidate` with every key of a group after the
group's ``WriteBatch`` is durable and before any of its writes is acknowledged, so a reader that
starts after an acknowledgement never sees an older value.  A reader that raced a commit (read
the database before it, inserts after it) must not re-insert what it read: :meth:`fill` only
inserts when no invalidation happened since the reader took its :meth:`ticket`, checked under the
same lock the writer holds while it invalidates.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, Final

MAX_ENTRIES: Final = 8192


class ReadCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._values: dict[bytes, Any] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, key: bytes) -> Any:
        """The cached value for ``key``, or None."""
        return self._values.get(key)

    def ticket(self) -> int:
        """Take before reading the database; hand to :meth:`fill` with what was read."""
        return self._generation

    def fill(self, ticket: int, key: bytes, value: Any) -> None:
        """Remember ``value`` (read from the database after ``ticket`` was taken) unless a
        commit has invalidated anything since: the read may predate that commit."""
        with self._lock:
            if ticket != self._generation:
                return
            if len(self._values) >= self._max:
                self._values.clear()
            self._values[key] = value

    def invalidate(self, keys: Iterable[bytes]) -> None:
        """Forget ``keys`` (the writer, after a commit, before acknowledging it)."""
        with self._lock:
            self._generation += 1
            values = self._values
            if values:
                for key in keys:
                    if key in values:
                        del values[key]

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._values.clear()
