"""Email/query (RFC 8621 §4.4) and Email/queryChanges (§4.5), over the in-memory account index
(:mod:`.account_index`), with filters (:mod:`.email_filter`), sorting and collapseThreads
(:mod:`.email_sort`) and a result cache (:mod:`.query_cache`).

queryChanges
------------
Filters and sorts read only the email's own properties, except the thread-keyword ones and
``collapseThreads`` (which read the thread).  So between two states an email's membership and
relative position can only change if it, or (for those) an email of its thread, changed.
``removed`` is every such email; ``added`` every such email in the new results with its index:
exactly the §5.6 contract ("removed" may hold extra ids, "added" re-adds moved ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protocols.jmap.context import JmapContext
from protocols.jmap.core import (
    Comparator,
    Filter,
    MethodCall,
    MethodError,
    QueryArgs,
    QueryChangesArgs,
    check_since_state,
    invalid_arguments,
    parse_query,
    parse_query_changes,
    query_changes_response,
    query_response,
)
from store.ids import object_id

from .account_index import AccountIndex, account_index
from .email_filter import THREAD_CONDITIONS, Evaluator, check_filter, filter_uses
from .email_sort import COLLATIONS, THREAD_SORTS, check_sort, collapse_threads, sort_ids
from .mail_changes import email_state
from .query_cache import QueryResult, account_index_if_current, query_cache_key


def _parse(args: dict[str, Any], changes: bool = False) -> Any:
    extra = ("collapseThreads",)
    q: QueryArgs | QueryChangesArgs
    if changes:
        q = parse_query_changes(args, collations=COLLATIONS, sort_extra=("keyword",), extra=extra)
    else:
        q = parse_query(args, collations=COLLATIONS, sort_extra=("keyword",), extra=extra)
    check_filter(q.filter)
    sort = q.sort or ()
    check_sort(sort)
    collapse = q.extra.get("collapseThreads", False)
    if collapse is None:
        collapse = False
    if not isinstance(collapse, bool):
        raise invalid_arguments(
            "'collapseThreads' must be a boolean.", arguments=["collapseThreads"]
        )
    return q, sort, collapse


def uses_threads(node: Filter | None, sort: Sequence[Comparator], collapse: bool) -> bool:
    if collapse or any(c.property in THREAD_SORTS for c in sort):
        return True
    return filter_uses(node, THREAD_CONDITIONS)


async def run_query(
    ctx: JmapContext,
    acct: int,
    node: Filter | None,
    sort: Sequence[Comparator],
    collapse: bool,
) -> tuple[QueryResult, AccountIndex]:
    """The full sorted result list of email ids (cached per index state and view when exact);
    none for a token that may not read the account's emails."""
    index = account_index(ctx.store, acct)
    if not ctx.may_read(acct):
        return QueryResult(()), index
    key = query_cache_key(node, sort, collapse, ctx.view(acct))
    if key is not None:
        cached = index.derived.get(key)
        if isinstance(cached, QueryResult):
            return cached, index
    ev = Evaluator(ctx, acct, index)
    found = await ev.matches(node)
    ordered = sort_ids(found, sort, ev)
    if collapse:
        ordered = collapse_threads(ordered, index.rows)
    result = QueryResult(tuple(ordered))
    if key is not None and index is account_index_if_current(ctx.store, acct, index):
        index.remember(key, result)
    return result, index


async def email_query(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx: JmapContext = call.context
    q, sort, collapse = _parse(call.args)
    acct = ctx.account(q.account_id)
    state = email_state(ctx.store, acct)
    result, _ = await run_query(ctx, acct, q.filter, sort, collapse)
    ids = result.ids
    out = query_response(ids, q, str(state), max_limit=ctx.services.limits.max_query_limit)
    return [("Email/query", out)]


async def email_query_changes(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx: JmapContext = call.context
    q, sort, collapse = _parse(call.args, changes=True)
    acct = ctx.account(q.account_id)
    store = ctx.store
    account = store.account(acct)
    assert account is not None
    current = account.type_state("Email")
    position = check_since_state(q.since_query_state, current=current, floor=account.changes_floor)
    if position.skip:
        # We never issue intermediate states as query states.
        raise MethodError("cannotCalculateChanges", "Not a query state of this server.")
    changed: set[int] = set()
    created: set[int] = set()  # new since the old state: cannot have been in its results
    threads_touched: set[int] = set()
    for modseq, entries in store.changes_since(acct, position.modseq):
        if modseq > current:
            break
        for e in entries:
            if e.type == "Email":
                if e.op == "c" and e.id not in changed:
                    created.add(e.id)
                changed.add(e.id)
            elif e.type == "Thread":
                threads_touched.add(e.id)
    result, index = await run_query(ctx, acct, q.filter, sort, collapse)
    ordered = result.numbers
    if changed and uses_threads(q.filter, sort, collapse):
        threads = index.threads()
        threads_touched |= {index.rows[e].thread_id for e in changed if e in index.rows}
        for tid in threads_touched:
            changed.update(threads.get(tid, ()))
    removed = [object_id("email", e) for e in sorted(changed - created)]
    added = [(object_id("email", e), i) for i, e in enumerate(ordered) if e in changed]
    out = query_changes_response(q, str(current), removed, added, len(ordered))
    return [("Email/queryChanges", out)]
