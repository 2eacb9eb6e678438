"""IMAP system flags <-> the store's JMAP keywords (RFC 8621 §4.1.1 mapping)."""

from __future__ import annotations

from collections.abc import Iterable

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
