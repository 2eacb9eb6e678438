"""An immutable, case-insensitive multi-map of HTTP header fields.

Field names are case-insensitive (RFC 9110 §5.1) and a field may occur several times (§5.3), so
headers are kept as an ordered tuple of ``(lowercase name, value)`` pairs.  Values are ``str``:
bytes off the wire are decoded as ISO-8859-1, which maps every octet (``obs-text`` included,
RFC 9110 §5.5) to one code point and back without loss.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

HeaderPairs = Iterable[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Headers:
    """Ordered ``(name, value)`` pairs; names are stored lowercase."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, source: Headers | Mapping[str, str] | HeaderPairs | None = None) -> Headers:
        """Build from a mapping, an iterable of pairs, or another :class:`Headers`."""
        if source is None:
            return _EMPTY
        if isinstance(source, Headers):
            return source
        items = source.items() if isinstance(source, Mapping) else source
        return cls(tuple((name.lower(), value) for name, value in items))

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """From h11's ``(lowercase name, value)`` byte pairs."""
        return cls(tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in raw))

    @classmethod
    def from_wire(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """From the ``(name as sent, value)`` byte pairs of h11's ``raw_items()``."""
        return cls(tuple((n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in raw))

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        key = name.lower()
        for n, v in self.pairs:
            if n == key:
                return v
        return default

    def get_all(self, name: str) -> tuple[str, ...]:
        key = name.lower()
        return tuple(v for n, v in self.pairs if n == key)

    def get_list(self, name: str) -> tuple[str, ...]:
        """The comma-separated list elements of every ``name`` field (RFC 9110 §5.6.1).

        Empty elements are dropped.  Not for fields whose values may contain commas inside quoted
        strings in a way the caller cares about (a naive split is enough for tokens).
        """
        out: list[str] = []
        for value in self.get_all(name):
            out.extend(part.strip() for part in value.split(",") if part.strip())
        return tuple(out)

    def has_token(self, name: str, token: str) -> bool:
        """Whether the list field ``name`` contains ``token`` (case-insensitively)."""
        token = token.lower()
        return any(item.lower() == token for item in self.get_list(name))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(n == key for n, _ in self.pairs)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def with_(self, name: str, value: str) -> Headers:
        """A copy with one more ``name: value`` field appended."""
        return Headers((*self.pairs, (name.lower(), value)))

    def replace(self, name: str, value: str | None) -> Headers:
        """A copy where every ``name`` field is removed and, unless ``value`` is None, one added."""
        key = name.lower()
        kept = tuple(p for p in self.pairs if p[0] != key)
        return Headers(kept if value is None else (*kept, (key, value)))

    def without(self, *names: str) -> Headers:
        keys = {n.lower() for n in names}
        return Headers(tuple(p for p in self.pairs if p[0] not in keys))


_EMPTY = Headers()
