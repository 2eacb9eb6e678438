"""IMAP system flags <-> the store's JMAP keywords (RFC 8621 §4.1.1 mapping)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

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


def spellings(flags: Iterable[str]) -> tuple[str, ...]:
    """The keywords of ``flags`` as the client spelled them (the first spelling of each within
    the command), without system flags or the keywords IMAP shows as system flags."""
    out: dict[str, str] = {}
    for flag in flags:
        low = flag.lower()
        if not low.startswith("\\") and low not in KEYWORD_TO_SYSTEM:
            out.setdefault(low, flag)
    return tuple(out.values())


class FlagNames:
    """Stored keywords as IMAP flags, for one command: the system keywords as system flags,
    every other keyword as an IMAP client first spelled it in the account (``spelling``:
    store/keywords.py, through the shared cache), else as stored (lower case).  Keywords match
    case-insensitively (RFC 3501 §2.3.2, RFC 9051 §2.3.2); only what is shown keeps the case.
    Memoised per distinct keyword set, so FETCH 1:* asks the store once per keyword at most."""

    __slots__ = ("_spelling", "_memo")

    def __init__(self, spelling: Callable[[str], str | None]) -> None:
        self._spelling = spelling
        self._memo: dict[tuple[str, ...], tuple[str, ...]] = {}

    def flag(self, keyword: str) -> str:
        system = KEYWORD_TO_SYSTEM.get(keyword)
        if system is not None:
            return system
        return self._spelling(keyword) or keyword

    def flags(self, keywords: tuple[str, ...]) -> tuple[str, ...]:
        found = self._memo.get(keywords)
        if found is None:
            found = self._memo[keywords] = tuple(self.flag(k) for k in keywords)
        return found


# Encoded ``FLAGS (...)`` items by (flags, \\Recent): a mailbox has few distinct flag sets,
# and FETCH 1:* or the FETCH FLAGS news after a STORE write the same ones over and over.
_FLAGS_ITEM_CACHE_SIZE = 4096
_flags_items: dict[tuple[tuple[str, ...], bool], bytes] = {}


def flags_item(flags: tuple[str, ...], recent: bool) -> bytes:
    """``FLAGS (\\Seen $Label)``: a record's flags (:meth:`FlagNames.flags`) as the FETCH item,
    plus ``\\Recent``."""
    key = (flags, recent)
    data = _flags_items.get(key)
    if data is None:
        shown = [*flags, "\\Recent"] if recent else flags
        data = b"FLAGS " + encode_value([Atom(f) for f in shown])
        if len(_flags_items) >= _FLAGS_ITEM_CACHE_SIZE:
            _flags_items.clear()
        _flags_items[key] = data
    return data
