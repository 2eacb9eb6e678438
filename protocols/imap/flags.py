"""IMAP system flags <-> the store's JMAP keywords (RFC 8621 §4.1.1 mapping)."""

from __future__ import annotations

from collections.abc import Iterable

from .serializer import encode_value
from .values import Atom

SYSTEM_TO_KEYWORD = {
    "\\seen": "$seen",
    "\\answered": "$answered",
    "\\flagged": "$flagged",
    "\\draft": "$draft",
    "\\deleted": "$deleted",
}
KEYWORD_TO_SYSTEM = {
    "$seen": "\\Seen",
    "$answered": "\\Answered",
    "$flagged": "\\Flagged",
    "$draft": "\\Draft",
    "$deleted": "\\Deleted",
}
# Advertised in FLAGS / PERMANENTFLAGS (\* : clients may create keywords).
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


class FlagError(ValueError):
    pass


def to_keywords(flags: Iterable[str]) -> tuple[str, ...]:
    """IMAP flags as store keywords; \\Recent cannot be stored (RFC 3501 §2.3.2)."""
    out = []
    for flag in flags:
        low = flag.lower()
        if low.startswith("\\"):
            if low == "\\recent":
                continue
            if low not in SYSTEM_TO_KEYWORD:
                raise FlagError(f"unknown system flag {flag}")
            out.append(SYSTEM_TO_KEYWORD[low])
        else:
            out.append(low)
    return tuple(dict.fromkeys(out))


def to_flags(keywords: Iterable[str]) -> list[str]:
    return [KEYWORD_TO_SYSTEM.get(k, k) for k in keywords]


# Encoded ``FLAGS (...)`` items by (keywords, \\Recent): a mailbox has few distinct flag sets,
# and FETCH 1:* or the FETCH FLAGS news after a STORE write the same ones over and over.
_FLAGS_ITEM_CACHE_SIZE = 4096
_flags_items: dict[tuple[tuple[str, ...], bool], bytes] = {}


def flags_item(keywords: tuple[str, ...], recent: bool) -> bytes:
    """``FLAGS (\\Seen $label)``: a record's keywords as the FETCH item, plus ``\\Recent``."""
    key = (keywords, recent)
    data = _flags_items.get(key)
    if data is None:
        flags = to_flags(keywords)
        if recent:
            flags.append("\\Recent")
        data = b"FLAGS " + encode_value([Atom(f) for f in flags])
        if len(_flags_items) >= _FLAGS_ITEM_CACHE_SIZE:
            _flags_items.clear()
        _flags_items[key] = data
    return data
