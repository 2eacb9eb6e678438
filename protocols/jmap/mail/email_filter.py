"""Email/query filters (RFC 8621 §4.4.1): checking a filter and evaluating it to email ids over
the account index (and the full-text index for the text conditions)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

from protocols.jmap.context import JmapContext
from protocols.jmap.core import (
    Filter,
    FilterCondition,
    FilterOperator,
    MethodError,
    invalid_arguments,
)
from protocols.jmap.core.errors import UNSUPPORTED_FILTER
from store.fts import And, Query, Text
from store.ids import parse_object_id

from .account_index import AccountIndex, EmailRow, content_info, parsed_message
from .email_render import HeaderProperty, header_property_value

TEXT_FIELDS: Final = {
    "text": "text",
    "from": "from",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
    "subject": "subject",
    "body": "body",
}
_CONDITIONS: Final = frozenset(
    {
        "inMailbox",
        "inMailboxOtherThan",
        "before",
        "after",
        "minSize",
        "maxSize",
        "allInThreadHaveKeyword",
        "someInThreadHaveKeyword",
        "noneInThreadHaveKeyword",
        "hasKeyword",
        "notKeyword",
        "hasAttachment",
        "header",
        *TEXT_FIELDS,
    }
)
THREAD_CONDITIONS: Final = frozenset(
    {"allInThreadHaveKeyword", "someInThreadHaveKeyword", "noneInThreadHaveKeyword"}
)


def _bad(name: str, what: str) -> MethodError:
    return invalid_arguments(f"Filter property {name!r} must be {what}.", arguments=["filter"])


def _utc(value: Any, name: str) -> int:
    """RFC 8620 §1.4 UTCDate → unix seconds."""
    if not isinstance(value, str) or not value.endswith("Z"):
        raise _bad(name, "a UTCDate")
    try:
        moment = datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise _bad(name, "a UTCDate") from None
    return int(moment.timestamp())


def _keyword(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255:
        raise _bad(name, "a keyword")
    return value.lower()


def _uint(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(name, "an UnsignedInt")
    return value


def check_filter(node: Filter | None) -> None:
    """unsupportedFilter for unknown conditions, invalidArguments for values of a wrong type."""
    if node is None:
        return
    if isinstance(node, FilterOperator):
        for child in node.conditions:
            check_filter(child)
        return
    for name, value in node.fields.items():
        if name not in _CONDITIONS:
            raise MethodError(UNSUPPORTED_FILTER, f"Unsupported filter condition {name!r}.")
        if name in ("inMailbox",):
            if not isinstance(value, str):
                raise _bad(name, "an Id")
        elif name == "inMailboxOtherThan":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _bad(name, "an array of Ids")
        elif name in ("before", "after"):
            _utc(value, name)
        elif name in ("minSize", "maxSize"):
            _uint(value, name)
        elif name in ("hasKeyword", "notKeyword", *THREAD_CONDITIONS):
            _keyword(value, name)
        elif name == "hasAttachment":
            if not isinstance(value, bool):
                raise _bad(name, "a boolean")
        elif name == "header":
            if (
                not isinstance(value, list)
                or not 1 <= len(value) <= 2
                or not all(isinstance(v, str) for v in value)
                or not value[0]
            ):
                raise _bad(name, "an array of one or two strings")
        elif not isinstance(value, str):
            raise _bad(name, "a string")


def filter_uses(node: Filter | None, names: Iterable[str]) -> bool:
    if node is None:
        return False
    if isinstance(node, FilterOperator):
        return any(filter_uses(c, names) for c in node.conditions)
    return any(n in node.fields for n in names)


class Evaluator:
    """Evaluates a filter tree to a set of email ids (RFC 8621 §4.4.1)."""

    def __init__(self, ctx: JmapContext, acct: int, index: AccountIndex) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.acct = acct
        self.index = index

    def all_ids(self) -> set[int]:
        return set(self.index.rows)

    async def matches(self, node: Filter | None, base: set[int] | None = None) -> set[int]:
        if node is None:
            return self.all_ids() if base is None else base
        if isinstance(node, FilterOperator):
            if node.operator == "AND":
                current = base
                for child in node.conditions:
                    current = await self.matches(child, current)
                    if not current:
                        return set()
                return self.all_ids() if current is None else current
            scope = self.all_ids() if base is None else base
            union: set[int] = set()
            for child in node.conditions:
                union |= await self.matches(child, scope)
            return union if node.operator == "OR" else scope - union
        return await self._condition(node, base)

    async def _condition(self, cond: FilterCondition, base: set[int] | None) -> set[int]:
        fields = cond.fields
        current = base
        if "inMailbox" in fields:
            mbox = parse_object_id("mailbox", fields["inMailbox"])
            members: frozenset[int] = frozenset()
            if mbox is not None:
                members = self.index.mailbox_members().get(mbox, frozenset())
            current = set(members) if current is None else current & members
        texts: list[Query] = [
            Text(TEXT_FIELDS[k], v) for k, v in fields.items() if k in TEXT_FIELDS
        ]
        if texts:
            query = texts[0] if len(texts) == 1 else And(*texts)
            found = await self.ctx.services.search_text(self.acct, query)
            current = set(found) if current is None else current & found
        if current is None:
            current = self.all_ids()
        predicates = self._predicates(fields)
        if predicates:
            rows = self.index.rows
            current = {
                eid
                for eid in current
                if (row := rows.get(eid)) is not None and all(p(row) for p in predicates)
            }
        else:
            # Only the rows' emails (a text search may name one the index has not seen yet).
            # Looking for the few strays is much cheaper than ``&= rows.keys()``, which builds
            # a new set of every email; ``current`` may be the caller's ``base``: not changed
            # in place.
            rows = self.index.rows
            strays = [eid for eid in current if eid not in rows]
            if strays:
                current = current.difference(strays)
        if "header" in fields and current:
            current = {eid for eid in current if self._header_matches(eid, fields["header"])}
        return current

    def _predicates(self, fields: Any) -> list[Callable[[EmailRow], bool]]:
        return [
            p for name, value in fields.items() if (p := self._predicate(name, value)) is not None
        ]

    def _predicate(self, name: str, value: Any) -> Callable[[EmailRow], bool] | None:
        """A test on one row for a condition that is not answered by a set (§4.4.1)."""
        if name == "inMailboxOtherThan":
            others = {parse_object_id("mailbox", v) for v in value}

            def other_mailbox(r: EmailRow) -> bool:
                return bool(r.mailboxes - others)

            return other_mailbox
        if name in ("before", "after"):
            t = _utc(value, name)
            if name == "before":
                return lambda r: r.received_at < t
            return lambda r: r.received_at >= t
        if name == "minSize":
            return lambda r: bool(r.size >= value)
        if name == "maxSize":
            return lambda r: bool(r.size < value)
        if name in ("hasKeyword", "notKeyword"):
            k = _keyword(value, name)
            if name == "hasKeyword":
                return lambda r: k in r.keywords
            return lambda r: k not in r.keywords
        if name in THREAD_CONDITIONS:
            return self._thread_predicate(name, _keyword(value, name))
        if name == "hasAttachment":
            store, acct, index = self.store, self.acct, self.index

            def attachment(r: EmailRow) -> bool:
                return content_info(store, acct, index, r.id).has_attachment == value

            return attachment
        return None

    def _thread_predicate(self, name: str, keyword: str) -> Callable[[EmailRow], bool]:
        threads = self.index.threads()
        rows = self.index.rows

        def flags(r: EmailRow) -> list[bool]:
            return [keyword in rows[e].keywords for e in threads.get(r.thread_id, [r.id])]

        if name == "allInThreadHaveKeyword":
            return lambda r: all(flags(r))
        if name == "someInThreadHaveKeyword":
            return lambda r: any(flags(r))
        return lambda r: not any(flags(r))

    def _header_matches(self, eid: int, spec: list[str]) -> bool:
        """§4.4.1 header: the field is present, and (with a value) one instance's Text form
        contains the value, case-insensitively."""
        parsed = parsed_message(self.store, self.acct, eid)
        row = self.index.rows.get(eid)
        if parsed is None or row is None:
            return False
        name = spec[0].lower()
        if not any(h.name.lower() == name for h in parsed.headers):
            return False
        if len(spec) == 1:
            return True
        raw = self.store.blob(row.blob) or b""
        values = header_property_value(raw, parsed.headers, HeaderProperty(name, "Text", True))
        needle = spec[1].casefold()
        return any(needle in str(v).casefold() for v in values)
