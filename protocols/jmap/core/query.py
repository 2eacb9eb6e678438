"""/query (RFC 8620 §5.5) and /queryChanges (§5.6): arguments, the result window, and the
generic added/removed computation between two result lists.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .args import (
    account_id,
    check_known,
    get_bool,
    get_id,
    get_int,
    get_str,
    get_uint,
    optional,
    pick_extra,
)
from .errors import (
    ANCHOR_NOT_FOUND,
    TOO_MANY_CHANGES,
    UNSUPPORTED_FILTER,
    UNSUPPORTED_SORT,
    MethodError,
    invalid_arguments,
)

MAX_FILTER_DEPTH: Final = 32
OPERATORS: Final = frozenset({"AND", "OR", "NOT"})


@dataclass(frozen=True, slots=True)
class FilterCondition:
    """A method-specific condition object, kept raw for the method to interpret."""

    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FilterOperator:
    operator: str  # "AND" | "OR" | "NOT" (NOT = none of the conditions match)
    conditions: tuple[Filter, ...]


Filter = FilterOperator | FilterCondition


@dataclass(frozen=True, slots=True)
class Comparator:
    property: str
    is_ascending: bool = True
    collation: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. Email's "keyword"


def parse_filter(value: Any, *, max_depth: int = MAX_FILTER_DEPTH) -> Filter | None:
    """A FilterOperator / FilterCondition tree (§5.5 "filter"); ``None`` for ``null``."""
    if value is None:
        return None
    return _filter(value, max_depth)


def _filter(value: Any, depth: int) -> Filter:
    if not isinstance(value, dict):
        raise invalid_arguments("A filter must be an object.", arguments=["filter"])
    if "operator" not in value:
        return FilterCondition(value)
    if depth <= 0:
        raise MethodError(UNSUPPORTED_FILTER, "The filter is nested too deeply.")
    if set(value) != {"operator", "conditions"}:
        raise invalid_arguments(
            "A FilterOperator has exactly 'operator' and 'conditions'.", arguments=["filter"]
        )
    if value["operator"] not in OPERATORS:
        raise invalid_arguments(
            f"Filter operator {value['operator']!r} is not AND, OR or NOT.", arguments=["filter"]
        )
    if not isinstance(value["conditions"], list):
        raise invalid_arguments("Filter 'conditions' must be an array.", arguments=["filter"])
    return FilterOperator(
        value["operator"], tuple(_filter(c, depth - 1) for c in value["conditions"])
    )


def parse_sort(
    value: Any, *, collations: Collection[str] | None = None, extra: Collection[str] = ()
) -> tuple[Comparator, ...] | None:
    """A Comparator list (§5.5 "sort"); ``extra`` names method-specific comparator members."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid_arguments("'sort' must be an array of Comparators.", arguments=["sort"])
    out: list[Comparator] = []
    for item in value:
        if not isinstance(item, dict):
            raise invalid_arguments("A Comparator must be an object.", arguments=["sort"])
        # Unknown members are ignored: real clients send them (jmapc 0.4 puts anchorOffset,
        # calculateTotal and position in every Comparator), and RFC 8620 §5.5 defines no error.
        if "property" not in item:
            raise invalid_arguments("A Comparator needs 'property'.", arguments=["sort"])
        prop = get_str(item["property"], "sort")
        ascending = get_bool(item.get("isAscending", True), "sort")
        collation = None
        if item.get("collation") is not None:
            collation = get_str(item["collation"], "sort")
            if collations is not None and collation not in collations:
                raise MethodError(UNSUPPORTED_SORT, f"Unsupported collation {collation!r}.")
        out.append(Comparator(prop, ascending, collation, pick_extra(item, extra)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class QueryArgs:
    account_id: str
    filter: Filter | None
    sort: tuple[Comparator, ...] | None
    position: int
    anchor: str | None
    anchor_offset: int
    limit: int | None
    calculate_total: bool
    extra: Mapping[str, Any] = field(default_factory=dict)


_QUERY_ARGS: Final = frozenset(
    {"accountId", "filter", "sort", "position", "anchor", "anchorOffset", "limit", "calculateTotal"}
)
_QUERY_CHANGES_ARGS: Final = frozenset(
    {"accountId", "filter", "sort", "sinceQueryState", "maxChanges", "upToId", "calculateTotal"}
)


def parse_query(
    args: Mapping[str, Any],
    *,
    collations: Collection[str] | None = None,
    sort_extra: Collection[str] = (),
    extra: Collection[str] = (),
) -> QueryArgs:
    check_known(args, _QUERY_ARGS, extra)
    acct = account_id(args)
    anchor = None
    if args.get("anchor") is not None:
        anchor = get_id(args["anchor"], "anchor")
    limit = None
    if args.get("limit") is not None:
        # §5.5: "If a negative value is given, the call MUST be rejected with invalidArguments".
        limit = get_uint(args["limit"], "limit")
    return QueryArgs(
        account_id=acct,
        filter=parse_filter(args.get("filter")),
        sort=parse_sort(args.get("sort"), collations=collations, extra=sort_extra),
        position=get_int(optional(args, "position", 0), "position"),
        anchor=anchor,
        anchor_offset=get_int(optional(args, "anchorOffset", 0), "anchorOffset"),
        limit=limit,
        calculate_total=get_bool(optional(args, "calculateTotal", False), "calculateTotal"),
        extra=pick_extra(args, extra),
    )


@dataclass(frozen=True, slots=True)
class QueryWindow:
    position: int
    ids: tuple[str, ...]
    # Set when the server clamped the client's limit (§5.5: then "limit" is in the response).
    limit: int | None


def query_window(
    ids: Sequence[str], args: QueryArgs, *, max_limit: int | None = None
) -> QueryWindow:
    """Apply position / anchor / anchorOffset / limit to the full sorted result list (§5.5)."""
    start, end, clamped = _window(ids, args, max_limit)
    return QueryWindow(position=start, ids=tuple(ids[start:end]), limit=clamped)


def _window(
    ids: Sequence[str], args: QueryArgs, max_limit: int | None
) -> tuple[int, int, int | None]:
    """(start, end, the clamped limit or None) of the window §5.5 selects."""
    total = len(ids)
    if args.anchor is not None:
        try:
            index = ids.index(args.anchor)
        except ValueError:
            raise MethodError(ANCHOR_NOT_FOUND, "The anchor is not in the results.") from None
        start = max(index + args.anchor_offset, 0)
    else:
        start = args.position
        if start < 0:
            start = max(total + start, 0)
    limit = args.limit
    clamped = None
    if max_limit is not None and (limit is None or limit > max_limit):
        limit = clamped = max_limit
    end = total if limit is None else start + limit
    return start, end, clamped


def query_response(
    ids: Sequence[str], args: QueryArgs, query_state: str, *, max_limit: int | None = None
) -> dict[str, Any]:
    """The /query response (§5.5) for the full sorted result list ``ids``."""
    start, end, clamped = _window(ids, args, max_limit)
    window = ids[start:end]  # a new list when ids is one (or a sequence that slices to one)
    out: dict[str, Any] = {
        "accountId": args.account_id,
        "queryState": query_state,
        "canCalculateChanges": True,
        "position": start,
        "ids": window if isinstance(window, list) else list(window),
    }
    if args.calculate_total:
        out["total"] = len(ids)
    if clamped is not None:
        out["limit"] = clamped
    return out


# -- /queryChanges -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QueryChangesArgs:
    account_id: str
    filter: Filter | None
    sort: tuple[Comparator, ...] | None
    since_query_state: str
    max_changes: int | None
    up_to_id: str | None
    calculate_total: bool
    extra: Mapping[str, Any] = field(default_factory=dict)


def parse_query_changes(
    args: Mapping[str, Any],
    *,
    collations: Collection[str] | None = None,
    sort_extra: Collection[str] = (),
    extra: Collection[str] = (),
) -> QueryChangesArgs:
    check_known(args, _QUERY_CHANGES_ARGS, extra)
    acct = account_id(args)
    if "sinceQueryState" not in args:
        raise invalid_arguments(
            "Argument 'sinceQueryState' is required.", arguments=["sinceQueryState"]
        )
    max_changes = None
    if args.get("maxChanges") is not None:
        max_changes = get_uint(args["maxChanges"], "maxChanges", positive=True)
    up_to = None
    if args.get("upToId") is not None:
        up_to = get_id(args["upToId"], "upToId")
    return QueryChangesArgs(
        account_id=acct,
        filter=parse_filter(args.get("filter")),
        sort=parse_sort(args.get("sort"), collations=collations, extra=sort_extra),
        since_query_state=get_str(args["sinceQueryState"], "sinceQueryState"),
        max_changes=max_changes,
        up_to_id=up_to,
        calculate_total=get_bool(optional(args, "calculateTotal", False), "calculateTotal"),
        extra=pick_extra(args, extra),
    )


@dataclass(frozen=True, slots=True)
class AddedItem:
    id: str
    index: int


@dataclass(frozen=True, slots=True)
class QueryChanges:
    removed: tuple[str, ...]
    added: tuple[AddedItem, ...]

    def to_json(
        self, account_id: str, old_state: str, new_state: str, total: int | None = None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accountId": account_id,
            "oldQueryState": old_state,
            "newQueryState": new_state,
            "removed": list(self.removed),
            "added": [{"id": a.id, "index": a.index} for a in self.added],
        }
        if total is not None:
            out["total"] = total
        return out


def query_changes_response(
    args: QueryChangesArgs,
    new_state: str,
    removed: Sequence[str],
    added: Sequence[tuple[str, int]],
    total: int,
) -> dict[str, Any]:
    """The /queryChanges response (§5.6) from ``removed`` ids and ``(id, index)`` additions;
    ``tooManyChanges`` when they exceed the client's maxChanges."""
    if args.max_changes is not None and len(removed) + len(added) > args.max_changes:
        raise MethodError(
            TOO_MANY_CHANGES,
            f"{len(removed) + len(added)} changes; maxChanges is {args.max_changes}.",
        )
    changes = QueryChanges(tuple(removed), tuple(AddedItem(i, n) for i, n in added))
    return changes.to_json(
        args.account_id,
        args.since_query_state,
        new_state,
        total if args.calculate_total else None,
    )


def _kept(old: Sequence[str], new_index: Mapping[str, int]) -> set[str]:
    """Ids in both lists whose relative order did not change: a longest increasing subsequence
    of their new positions taken in old order (patience sorting, O(n log n))."""
    seq = [(new_index[i], i) for i in old if i in new_index]
    tails: list[int] = []  # tails[k] = index into seq of the smallest tail of a run of k+1
    parent: list[int] = [-1] * len(seq)
    tail_values: list[int] = []
    for k, (pos, _) in enumerate(seq):
        j = bisect.bisect_left(tail_values, pos)
        if j > 0:
            parent[k] = tails[j - 1]
        if j == len(tails):
            tails.append(k)
            tail_values.append(pos)
        else:
            tails[j] = k
            tail_values[j] = pos
    kept: set[str] = set()
    k = tails[-1] if tails else -1
    while k >= 0:
        kept.add(seq[k][1])
        k = parent[k]
    return kept


def query_changes(
    old: Sequence[str],
    new: Sequence[str],
    *,
    max_changes: int | None = None,
    up_to_id: str | None = None,
    immutable: bool = False,
) -> QueryChanges:
    """``removed`` and ``added`` turning the ``old`` result list into ``new`` (§5.6).

    The client removes every id in ``removed`` from its cached list, then inserts each ``added``
    id at its index in ascending index order.  An id that stays in the results but moved is in
    both lists (the RFC's "every record in the current results that was included in the
    removed array").  Only the moves needed are reported: ids whose relative order is unchanged
    (a longest common subsequence) stay put.

    With ``up_to_id`` and ``immutable`` (sort and filter only on immutable properties) changes
    after that id are omitted, as the RFC suggests.  More than ``max_changes`` removed + added
    entries is ``tooManyChanges``.
    """
    if up_to_id is not None and immutable and up_to_id in old and up_to_id in new:
        old = old[: list(old).index(up_to_id) + 1]
        new = new[: list(new).index(up_to_id) + 1]
    new_index = {ident: index for index, ident in enumerate(new)}
    kept = _kept(old, new_index)
    removed = tuple(i for i in old if i not in kept)
    added = tuple(AddedItem(i, index) for index, i in enumerate(new) if i not in kept)
    if max_changes is not None and len(removed) + len(added) > max_changes:
        raise MethodError(
            TOO_MANY_CHANGES,
            f"{len(removed) + len(added)} changes; maxChanges is {max_changes}.",
        )
    return QueryChanges(removed, added)
