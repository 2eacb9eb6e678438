"""Thread/get (RFC 8621 §3.1) and Thread/changes (§3.2).

A thread's ``emailIds`` are in receivedAt order (oldest first), ties by email id, as §3 asks
("sorted by the receivedAt date of the Email, oldest first").
"""

from __future__ import annotations

from typing import Any, Final

from protocols.jmap.context import JmapContext, get_call
from protocols.jmap.core import MethodCall, MethodError, parse_changes
from protocols.jmap.core.errors import REQUEST_TOO_LARGE
from store.ids import object_id, parse_object_id

from .account_index import account_index
from .mail_changes import type_changes

PROPERTIES: Final = ("id", "emailIds")


async def thread_get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx, args, acct = get_call(call, PROPERTIES)
    limits = ctx.services.limits
    account = ctx.store.account(acct)
    state = account.type_state("Thread") if account is not None else 0
    # A token without the read right sees no email, so no thread (JmapContext.may_read: one
    # check per call while rights are per account).
    threads = account_index(ctx.store, acct).threads() if ctx.may_read(acct) else {}
    properties = args.properties if args.properties is not None else PROPERTIES
    if "id" not in properties:
        properties = ("id", *properties)
    if args.ids is None:
        if len(threads) > limits.max_objects_in_get:
            raise MethodError(
                REQUEST_TOO_LARGE,
                f"{len(threads)} threads; maxObjectsInGet is {limits.max_objects_in_get}.",
            )
        wanted = [object_id("thread", t) for t in sorted(threads)]
    else:
        wanted = list(args.ids)
    found: list[dict[str, Any]] = []
    not_found: list[str] = []
    for ident in wanted:
        tid = parse_object_id("thread", ident)
        emails = threads.get(tid) if tid is not None else None
        if not emails:
            not_found.append(ident)
            continue
        values = {"id": ident, "emailIds": [object_id("email", e) for e in emails]}
        found.append({p: values[p] for p in properties})
    return [
        (
            "Thread/get",
            {
                "accountId": args.account_id,
                "state": str(state),
                "list": found,
                "notFound": not_found,
            },
        )
    ]


async def thread_changes(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx: JmapContext = call.context
    args = parse_changes(call.args)
    acct = ctx.account(args.account_id)
    changes = type_changes(ctx, acct, "Thread", "thread", args)
    return [("Thread/changes", changes.to_json(args.account_id))]
