"""Quota/get, Quota/changes, Quota/query and Quota/queryChanges (RFC 9425 §4).

An account whose principal has a storage limit has exactly one quota: id ``"mail"``, octets,
scope ``account``, types ``["Mail"]``, ``used`` = the bytes of its emails.  The state string
is ``<Email state>.<limit>``: ``used`` only changes with emails, the limit only with the
principal, so Quota/changes can say exactly what changed (RFC 9425 §4.2 ``updatedProperties``
is ``["used"]`` when only usage moved).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from protocols.jmap.context import JmapContext, get_call
from protocols.jmap.core import (
    Comparator,
    Filter,
    FilterOperator,
    MethodCall,
    MethodError,
    invalid_arguments,
    parse_changes,
    parse_query,
    parse_query_changes,
    query_changes_response,
    query_response,
)
from protocols.jmap.core.errors import (
    CANNOT_CALCULATE_CHANGES,
    UNSUPPORTED_FILTER,
    UNSUPPORTED_SORT,
)

QUOTA_ID: Final = "mail"
PROPERTIES: Final = (
    "id",
    "resourceType",
    "used",
    "hardLimit",
    "scope",
    "name",
    "types",
    "warnLimit",
    "softLimit",
    "description",
)
_STATE: Final = re.compile(r"(0|[1-9][0-9]{0,19})\.(0|[1-9][0-9]{0,19})")


def _quota(ctx: JmapContext, acct: int) -> tuple[str, dict[str, Any] | None]:
    """(state, the quota object or None)."""
    account = ctx.store.account(acct)
    principal = ctx.store.principal(acct)
    modseq = account.type_state("Email") if account is not None else 0
    limit = principal.quota if principal is not None else 0
    state = f"{modseq}.{limit}"
    if not limit:
        return state, None
    return state, {
        "id": QUOTA_ID,
        "resourceType": "octets",
        "used": account.used_bytes if account is not None else 0,
        "hardLimit": limit,
        "scope": "account",
        "name": f"Mail storage of {principal.name}" if principal is not None else "Mail storage",
        "types": ["Mail"],
        "warnLimit": None,
        "softLimit": None,
        "description": None,
    }


async def quota_get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx, args, acct = get_call(call, PROPERTIES)
    state, quota = _quota(ctx, acct)
    properties = args.properties if args.properties is not None else PROPERTIES
    if "id" not in properties:
        properties = ("id", *properties)
    wanted = [QUOTA_ID] if args.ids is None and quota is not None else list(args.ids or ())
    found = [{p: quota[p] for p in properties} for i in wanted if quota and i == QUOTA_ID]
    not_found = [i for i in wanted if quota is None or i != QUOTA_ID]
    return [
        (
            "Quota/get",
            {"accountId": args.account_id, "state": state, "list": found, "notFound": not_found},
        )
    ]


def _parse_state(text: str) -> tuple[int, int] | None:
    m = _STATE.fullmatch(text)
    return None if m is None else (int(m[1]), int(m[2]))


async def quota_changes(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx: JmapContext = call.context
    args = parse_changes(call.args)
    acct = ctx.account(args.account_id)
    state, quota = _quota(ctx, acct)
    old = _parse_state(args.since_state)
    new = _parse_state(state)
    assert new is not None
    if old is None or old[0] > new[0]:
        raise MethodError(CANNOT_CALCULATE_CHANGES, f"{args.since_state!r} is not a valid state.")
    created: list[str] = []
    updated: list[str] = []
    destroyed: list[str] = []
    was, now = old[1] > 0, new[1] > 0
    if was and not now:
        destroyed.append(QUOTA_ID)
    elif now and not was:
        created.append(QUOTA_ID)
    elif now and old != new:
        updated.append(QUOTA_ID)
    only_used = bool(updated) and old[1] == new[1]
    return [
        (
            "Quota/changes",
            {
                "accountId": args.account_id,
                "oldState": args.since_state,
                "newState": state,
                "hasMoreChanges": False,
                "created": created,
                "updated": updated,
                "destroyed": destroyed,
                "updatedProperties": ["used"] if only_used else None,
            },
        )
    ]


# -- query ---------------------------------------------------------------------------------------
_CONDITIONS: Final = frozenset({"name", "scope", "resourceType", "type"})
_SORTS: Final = frozenset({"name", "used"})


def _matches(node: Filter | None, quota: dict[str, Any]) -> bool:
    """RFC 9425 §4.3 FilterCondition."""
    if node is None:
        return True
    if isinstance(node, FilterOperator):
        results = [_matches(c, quota) for c in node.conditions]
        if node.operator == "AND":
            return all(results)
        return any(results) if node.operator == "OR" else not any(results)
    for name, value in node.fields.items():
        if name not in _CONDITIONS:
            raise MethodError(UNSUPPORTED_FILTER, f"Unsupported filter condition {name!r}.")
        if not isinstance(value, str):
            raise invalid_arguments(f"Filter {name!r} must be a string.", arguments=["filter"])
        if name == "name" and value.casefold() not in quota["name"].casefold():
            return False
        if name == "scope" and value != quota["scope"]:
            return False
        if name == "resourceType" and value != quota["resourceType"]:
            return False
        if name == "type" and value not in quota["types"]:
            return False
    return True


def _results(
    quota: dict[str, Any] | None, node: Filter | None, sort: Sequence[Comparator]
) -> list[str]:
    for c in sort:
        if c.property not in _SORTS:
            raise MethodError(UNSUPPORTED_SORT, f"Unsupported sort property {c.property!r}.")
    # Check the filter even when there is nothing to match it against.
    probe = quota or {"name": "", "scope": "", "resourceType": "", "types": []}
    ok = _matches(node, probe)
    return [QUOTA_ID] if quota is not None and ok else []


async def quota_query(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx: JmapContext = call.context
    q = parse_query(call.args)
    acct = ctx.account(q.account_id)
    state, quota = _quota(ctx, acct)
    ids = _results(quota, q.filter, q.sort or ())
    out = query_response(ids, q, state, max_limit=ctx.services.limits.max_query_limit)
    return [("Quota/query", out)]


async def quota_query_changes(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    """With at most one quota whose filterable properties never change, a result list can only
    change by the quota appearing or disappearing, which the state records."""
    ctx: JmapContext = call.context
    q = parse_query_changes(call.args)
    acct = ctx.account(q.account_id)
    state, quota = _quota(ctx, acct)
    old = _parse_state(q.since_query_state)
    new = _parse_state(state)
    assert new is not None
    if old is None or old[0] > new[0]:
        raise MethodError(
            CANNOT_CALCULATE_CHANGES, f"{q.since_query_state!r} is not a valid state."
        )
    ids = _results(quota, q.filter, q.sort or ())
    removed: list[str] = []
    added: list[tuple[str, int]] = []
    if (old[1] > 0) != (new[1] > 0):
        removed = [QUOTA_ID] if old[1] > 0 else []
        added = [(i, n) for n, i in enumerate(ids)]
    out = query_changes_response(q, state, removed, added, len(ids))
    return [("Quota/queryChanges", out)]
