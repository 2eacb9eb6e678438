"""Email/query results and their cache in the account index (:attr:`AccountIndex.derived`)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, overload

from protocols.jmap.core import (
    Comparator,
    Filter,
    FilterCondition,
)
from store import Store
from store.ids import parse_object_id

from .account_index import AccountIndex
from .email_filter import TEXT_FIELDS, filter_uses


class EncodedIdList(list[str]):
    """Email ids ``e<digits>`` with their compact JSON encoding, which a response writer
    splices (``responses.encode_response``) instead of encoding the strings again: such an id
    needs no escaping, so the encoding is the ids joined.  An ordinary list to everything else
    (result references read it); treat it as read-only."""

    __slots__ = ("encoded",)

    def __init__(self, ids: list[str]) -> None:
        super().__init__(ids)
        self.encoded = ('["' + '","'.join(ids) + '"]').encode() if ids else b"[]"


class EmailIds(Sequence[str]):
    """The JMAP ids of a sorted list of email numbers, made only for the items read: a query
    result is sorted over the whole mailbox, and a response names a window of it."""

    __slots__ = ("numbers",)

    def __init__(self, numbers: tuple[int, ...]) -> None:
        self.numbers = numbers

    def __len__(self) -> int:
        return len(self.numbers)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        # store/ids.py object_id("email", n), without the call
        if isinstance(i, slice):
            return EncodedIdList([f"e{n}" for n in self.numbers[i]])
        return f"e{self.numbers[i]}"

    def __iter__(self) -> Iterator[str]:
        return (f"e{n}" for n in self.numbers)

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        number = parse_object_id("email", value) if isinstance(value, str) else None
        if number is None:
            raise ValueError(f"{value!r} is not in the results")
        end = len(self.numbers) if stop is None else stop
        return self.numbers.index(number, start, end)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The full sorted result of a query: email numbers and (lazily) their JMAP ids."""

    numbers: tuple[int, ...]

    @property
    def ids(self) -> EmailIds:
        return EmailIds(self.numbers)


# Conditions whose answer is not a function of the account index alone: the full-text index
# lags behind the store (it is fed from the change feed), so the same state can answer twice
# differently while it catches up.
_UNCACHEABLE: Final = frozenset(TEXT_FIELDS)


def query_cache_key(
    node: Filter | None, sort: Sequence[Comparator], collapse: bool, view: Hashable = None
) -> tuple[str, Hashable, Hashable, bool, Hashable] | None:
    """The key of a query's result in :attr:`AccountIndex.derived`, or None when the result
    may not be reused.  Every other condition and sort reads only the index rows and the
    immutable per-blob content, so a result stays exact until the next change to the rows
    (which clears ``derived``).  ``view`` (``JmapContext.view``: who asks, with which rights)
    keeps one token's results from another."""
    if filter_uses(node, _UNCACHEABLE):
        return None
    return ("query", _filter_key(node), _sort_key(sort), collapse, view)


def _filter_key(node: Filter | None) -> Hashable:
    """A value equal for two filters exactly when their trees are equal (as their ``repr``
    would be, at a fraction of the cost of the dataclass ``repr``)."""
    if node is None:
        return None
    if isinstance(node, FilterCondition):
        return repr(node.fields)
    return (node.operator, tuple(_filter_key(c) for c in node.conditions))


def _sort_key(sort: Sequence[Comparator]) -> Hashable:
    return tuple((c.property, c.is_ascending, c.collation, repr(c.extra)) for c in sort)


def account_index_if_current(store: Store, acct: int, index: AccountIndex) -> AccountIndex | None:
    """``index`` when nothing changed while a query was evaluated (it awaits the FTS thread
    for text conditions; a write may land meanwhile), so its result may be cached."""
    state = store.account(acct)
    return index if state is not None and state.modseq == index.modseq else None
