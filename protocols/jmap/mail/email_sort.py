"""Email/query sorting (RFC 8621 §4.4.2) and collapseThreads (§4.4.3)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from protocols.jmap.core import (
    Comparator,
    MethodError,
    invalid_arguments,
)
from protocols.jmap.core.errors import UNSUPPORTED_SORT

from .account_index import EmailRow, content_info
from .email_filter import Evaluator

COLLATIONS: Final = frozenset({"i;ascii-casemap", "i;unicode-casemap"})
THREAD_SORTS: Final = frozenset({"allInThreadHaveKeyword", "someInThreadHaveKeyword"})
_SORTS: Final = frozenset(
    {"receivedAt", "size", "from", "to", "subject", "sentAt", "hasKeyword", *THREAD_SORTS}
)
_KEYWORD_SORTS: Final = frozenset({"hasKeyword", *THREAD_SORTS})


def check_sort(sort: Sequence[Comparator]) -> None:
    for c in sort:
        if c.property not in _SORTS:
            raise MethodError(UNSUPPORTED_SORT, f"Unsupported sort property {c.property!r}.")
        if c.property in _KEYWORD_SORTS:
            kw = c.extra.get("keyword")
            if not isinstance(kw, str) or not kw:
                raise invalid_arguments(
                    f"Sorting on {c.property!r} needs a 'keyword'.", arguments=["sort"]
                )


def sort_ids(ids: Iterable[int], sort: Sequence[Comparator], ev: Evaluator) -> list[int]:
    """Stable multi-key sort: ids ascending as the final tie-break, then each comparator from
    the last to the first (Python's sort is stable, also with ``reverse``)."""
    rows = ev.index.rows
    out = sorted(ids)
    for c in reversed(sort):
        key = _sort_key(c, ev, rows)
        out.sort(key=key, reverse=not c.is_ascending)
    return out


def _sort_key(c: Comparator, ev: Evaluator, rows: dict[int, EmailRow]) -> Callable[[int], Any]:
    prop = c.property
    if prop == "receivedAt":
        return lambda e: rows[e].received_at
    if prop == "size":
        return lambda e: rows[e].size
    if prop in ("from", "to", "subject", "sentAt"):
        attr = {"from": "from_key", "to": "to_key", "subject": "subject_key"}.get(prop, "sent_at")
        store, acct, index = ev.store, ev.acct, ev.index
        # Both collations we offer compare case-insensitively (RFC 4790 §9.2, RFC 5051).
        return lambda e: getattr(content_info(store, acct, index, e), attr)
    kw = str(c.extra["keyword"]).lower()
    if prop == "hasKeyword":
        return lambda e: kw in rows[e].keywords
    threads = ev.index.threads()
    if prop == "allInThreadHaveKeyword":
        return lambda e: all(kw in rows[x].keywords for x in threads.get(rows[e].thread_id, [e]))
    return lambda e: any(kw in rows[x].keywords for x in threads.get(rows[e].thread_id, [e]))


def collapse_threads(ids: Iterable[int], rows: dict[int, EmailRow]) -> list[int]:
    """§4.4.3 collapseThreads: only the first email of each thread in the sorted results."""
    seen: set[int] = set()
    out: list[int] = []
    for eid in ids:
        tid = rows[eid].thread_id
        if tid not in seen:
            seen.add(tid)
            out.append(eid)
    return out
