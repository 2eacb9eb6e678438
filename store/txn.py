"""Layered views used while applying batches.

``Overlay`` records writes in a dict on top of a parent view.  Applying a batch goes through three
layers: the database (committed), the group overlay (batches applied earlier in the same group
commit), and one overlay per operation, merged upwards only when the operation succeeds.  Reading
through the layers makes a group of batches produce exactly the same writes as applying them one by
one, which is what keeps group commit deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Protocol

_MISSING = object()
# Writes are indexed by this many leading key bytes (the key type and the account id) once an
# overlay holds more than _INDEX_ABOVE of them: a group commit's overlay is scanned by every
# batch of the group, and filtering all its keys each time made big groups quadratic.
_INDEX_PREFIX = 5
_INDEX_ABOVE = 64


class View(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def scan(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]: ...


class DbView:
    """Reads committed state from a plyvel database (or snapshot)."""

    __slots__ = ("_db",)

    def __init__(self, db: object) -> None:
        self._db = db

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)  # type: ignore[attr-defined,no-any-return]

    def scan(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        if start is None:
            return self._db.iterator(prefix=prefix)  # type: ignore[attr-defined,no-any-return]
        return self._db.iterator(  # type: ignore[attr-defined,no-any-return]
            start=start, stop=_prefix_end(prefix)
        )


def _prefix_end(prefix: bytes) -> bytes | None:
    b = bytearray(prefix)
    while b:
        if b[-1] < 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return None


class Overlay:
    __slots__ = ("parent", "writes", "_index", "_indexed")

    def __init__(self, parent: View) -> None:
        self.parent = parent
        self.writes: dict[bytes, bytes | None] = {}
        self._index: dict[bytes, list[bytes]] | None = None
        self._indexed = 0  # how many keys of ``writes`` (in insertion order) are in _index

    def get(self, key: bytes) -> bytes | None:
        value = self.writes.get(key, _MISSING)
        if value is _MISSING:
            return self.parent.get(key)
        return value  # type: ignore[return-value]

    def put(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value

    def delete(self, key: bytes) -> None:
        self.writes[key] = None

    def _keys_with(self, prefix: bytes, lo: bytes) -> list[bytes]:
        """This layer's written keys that start with ``prefix`` and are >= ``lo``, sorted."""
        writes = self.writes
        if len(writes) <= _INDEX_ABOVE or len(prefix) < _INDEX_PREFIX:
            candidates: Iterator[bytes] | list[bytes] = iter(writes)
        else:
            index = self._index
            if index is None:
                index = self._index = {}
            if self._indexed < len(writes):
                # Keys are never removed from ``writes`` (a delete stores None), so the keys
                # not indexed yet are the newest ones, in insertion order.
                for k in islice(writes, self._indexed, None):
                    index.setdefault(k[:_INDEX_PREFIX], []).append(k)
                self._indexed = len(writes)
            candidates = index.get(prefix[:_INDEX_PREFIX], [])
        return sorted(k for k in candidates if k.startswith(prefix) and k >= lo)

    def scan(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Merges the parent's keys with this layer's writes, in key order."""
        mine = self._keys_with(prefix, start if start is not None else prefix)
        if not mine:
            yield from self.parent.scan(prefix, start)
            return
        i = 0
        for key, value in self.parent.scan(prefix, start):
            while i < len(mine) and mine[i] < key:
                v = self.writes[mine[i]]
                if v is not None:
                    yield mine[i], v
                i += 1
            if i < len(mine) and mine[i] == key:
                v = self.writes[key]
                i += 1
                if v is not None:
                    yield key, v
                continue
            yield key, value
        for k in mine[i:]:
            v = self.writes[k]
            if v is not None:
                yield k, v

    def merge_into(self, parent: Overlay) -> None:
        parent.writes.update(self.writes)
