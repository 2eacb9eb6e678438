"""SearchSnippet/get (RFC 8621 §5.1): highlighted subject and preview per email.

The full-text terms come from the filter's text conditions (``text``, ``from``, ``to``, ``cc``,
``bcc``, ``subject``, ``body``), wherever they sit in the tree except under ``NOT`` (an
excluded term has nothing to highlight).  Without any, subject and preview are null (§5:
"null if ... no text was matched").
"""

from __future__ import annotations

from typing import Any

from protocols.jmap.context import JmapContext
from protocols.jmap.core import (
    Filter,
    FilterOperator,
    MethodCall,
    MethodError,
    check_known,
    get_id_list,
    invalid_arguments,
    parse_filter,
)
from protocols.jmap.core import account_id as parse_account_id
from protocols.jmap.core.errors import REQUEST_TOO_LARGE
from store.fts import Or, Query, Text
from store.ids import parse_object_id

from .email_filter import TEXT_FIELDS, check_filter


def highlight_terms(node: Filter | None) -> list[Query]:
    if node is None:
        return []
    if isinstance(node, FilterOperator):
        if node.operator == "NOT":
            return []
        return [q for c in node.conditions for q in highlight_terms(c)]
    return [
        Text(TEXT_FIELDS[k], v)
        for k, v in node.fields.items()
        if k in TEXT_FIELDS and isinstance(v, str)
    ]


async def search_snippet_get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    ctx: JmapContext = call.context
    args = call.args
    check_known(args, {"accountId", "filter", "emailIds"})
    acct_id = parse_account_id(args)
    acct = ctx.account(acct_id)
    if "emailIds" not in args or args["emailIds"] is None:
        raise invalid_arguments("Argument 'emailIds' is required.", arguments=["emailIds"])
    email_ids = tuple(dict.fromkeys(get_id_list(args["emailIds"], "emailIds")))
    limit = ctx.services.limits.max_objects_in_get
    if len(email_ids) > limit:
        # §5.1: "requestTooLarge: The number of emailIds requested ... exceeds the maximum".
        raise MethodError(REQUEST_TOO_LARGE, f"{len(email_ids)} emailIds; the maximum is {limit}.")
    node = parse_filter(args.get("filter"))
    check_filter(node)
    terms = highlight_terms(node)
    query: Query | None = None
    if terms:
        query = terms[0] if len(terms) == 1 else Or(*terms)
    found: list[dict[str, Any]] = []
    not_found: list[str] = []
    for ident in email_ids:
        eid = parse_object_id("email", ident)
        if eid is None or ctx.services.mail.email(ctx.access, acct, eid) is None:
            not_found.append(ident)
            continue
        subject: str | None = None
        preview: str | None = None
        if query is not None:
            subject, preview = await ctx.services.snippet(acct, eid, query)
        found.append({"emailId": ident, "subject": subject, "preview": preview})
    return [
        (
            "SearchSnippet/get",
            {"accountId": acct_id, "list": found, "notFound": not_found or None},
        )
    ]
