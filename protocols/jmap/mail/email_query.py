"""Email/query (RFC 8621 §4.4) and Email/queryChanges (§4.5), over an in-memory account index.

The account index
-----------------
Queries, Mailbox counts and Thread/get need a few small fields of every email (thread, size,
receivedAt, keywords, mailboxes).  :func:`account_index` keeps them per account, in memory, and
brings them up to date from the store's change log on each use (an O(changes) step: every
change to these fields logs an ``Email`` entry), so a query over 10,000 messages does not
decode 10,000 records each time.  A state older than the change-log floor, or a first use,
reads every record once.  Fields that only come from the parsed message (sentAt, first
From/To, base subject, hasAttachment) are immutable per email and are filled lazily, once, when
a filter or sort needs them.

queryChanges
------------
Filters and sorts read only the email's own properties, except the thread-keyword ones and
``collapseThreads`` (which read the thread).  So between two states an email's membership and
relative position can only change if it, or (for those) an email of its thread, changed.
``removed`` is every such email; ``added`` every such email in the new results with its index:
exactly the §5.6 contract ("removed" may hold extra ids, "added" re-adds moved ones).
"""

from __future__ import annotations

import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, overload

from protocols.jmap.context import JmapContext
from protocols.jmap.core import (
    Changes,
    ChangesArgs,
    Comparator,
    Filter,
    FilterCondition,
    FilterOperator,
    MethodCall,
    MethodError,
    QueryArgs,
    QueryChangesArgs,
    check_since_state,
    compute_changes,
    invalid_arguments,
    parse_query,
    parse_query_changes,
    parse_state,
    query_changes_response,
    query_response,
)
from protocols.jmap.core.errors import UNSUPPORTED_FILTER, UNSUPPORTED_SORT
from protocols.mime import WIRE_VERSION, ParsedMessage
from store import Store
from store.codec import unpack
from store.fts import And, Query, Text
from store.ids import object_id, parse_object_id
from store.models import Email

from .email_render import HeaderProperty, header_property_value

MAX_CACHED_ACCOUNTS: Final = 64
MAX_DERIVED: Final = 1024  # entries of AccountIndex.derived between two changes
COLLATIONS: Final = frozenset({"i;ascii-casemap", "i;unicode-casemap"})


# -- the account index ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EmailRow:
    id: int
    thread_id: int
    size: int
    received_at: int
    keywords: frozenset[str]
    mailboxes: frozenset[int]
    blob: bytes

    @classmethod
    def of(cls, em: Email) -> EmailRow:
        return cls(
            em.id,
            em.thread_id,
            em.size,
            em.received_at,
            frozenset(em.keywords),
            frozenset(m for m, _ in em.mailboxes),
            em.blob,
        )


@dataclass(frozen=True, slots=True)
class ContentInfo:
    """Immutable per-email values from the parsed message, for filters and sorts."""

    sent_at: int
    from_key: str
    to_key: str
    subject_key: str
    has_attachment: bool


def _unread(row: EmailRow) -> bool:
    """RFC 8621 §2 unreadEmails: neither ``$seen`` nor ``$draft``."""
    kw = row.keywords
    return "$seen" not in kw and "$draft" not in kw


class _BoxStats:
    """One mailbox's members and the counts Mailbox/get reports, kept up to date row by row.

    ``members`` is replaced, never mutated, so a caller iterating an earlier set (a query that
    awaits the full-text index) is not disturbed by a change landing meanwhile."""

    __slots__ = ("members", "unread", "threads", "unread_threads")

    def __init__(self) -> None:
        self.members: frozenset[int] = frozenset()
        self.unread = 0
        self.threads: Counter[int] = Counter()  # thread id → member emails in that thread
        self.unread_threads: Counter[int] = Counter()

    def add(self, row: EmailRow, unread: bool) -> None:
        self.threads[row.thread_id] += 1
        if unread:
            self.unread += 1
            self.unread_threads[row.thread_id] += 1

    def discard(self, row: EmailRow, unread: bool) -> None:
        _decrement(self.threads, row.thread_id)
        if unread:
            self.unread -= 1
            _decrement(self.unread_threads, row.thread_id)


def _decrement(counter: Counter[int], key: int) -> None:
    n = counter[key] - 1
    if n > 0:
        counter[key] = n
    else:
        del counter[key]


class AccountIndex:
    """Per-account email rows, current as of change-log modseq ``modseq``."""

    def __init__(self, modseq: int) -> None:
        self.modseq = modseq
        self.rows: dict[int, EmailRow] = {}
        self.content: dict[int, ContentInfo] = {}
        self._threads: dict[int, list[int]] | None = None
        # Built on first use, then maintained by put/remove (O(mailboxes of the row) per
        # change instead of a pass over every row).
        self._boxes: dict[int, _BoxStats] | None = None
        self.derived: dict[Any, Any] = {}  # caches valid until the next change

    def put(self, row: EmailRow) -> None:
        old = self.rows.get(row.id)
        self.rows[row.id] = row
        if self._boxes is not None:
            if old is not None:
                self._unplace(old)
            self._place(row)
        self._invalidate()

    def remove(self, eid: int) -> None:
        old = self.rows.pop(eid, None)
        self.content.pop(eid, None)
        if old is not None and self._boxes is not None:
            self._unplace(old)
        self._invalidate()

    def remember(self, key: Any, value: Any) -> None:
        """Keep ``value`` in :attr:`derived` until the next change, unless that cache is full
        (a client paging through many windows between two changes)."""
        if len(self.derived) < MAX_DERIVED:
            self.derived[key] = value

    def _invalidate(self) -> None:
        self._threads = None
        self.derived.clear()

    def _place(self, row: EmailRow) -> None:
        assert self._boxes is not None
        unread = _unread(row)
        for m in row.mailboxes:
            stats = self._boxes.get(m)
            if stats is None:
                stats = self._boxes[m] = _BoxStats()
            stats.members = stats.members | {row.id}
            stats.add(row, unread)

    def _unplace(self, row: EmailRow) -> None:
        assert self._boxes is not None
        unread = _unread(row)
        for m in row.mailboxes:
            stats = self._boxes.get(m)
            if stats is None or row.id not in stats.members:
                continue
            stats.members = stats.members - {row.id}
            stats.discard(row, unread)
            if not stats.members:
                del self._boxes[m]

    def _box_stats(self) -> dict[int, _BoxStats]:
        if self._boxes is None:
            boxes: dict[int, _BoxStats] = {}
            members: dict[int, set[int]] = {}
            for row in self.rows.values():
                unread = _unread(row)
                for m in row.mailboxes:
                    stats = boxes.get(m)
                    if stats is None:
                        stats = boxes[m] = _BoxStats()
                        members[m] = set()
                    members[m].add(row.id)
                    stats.add(row, unread)
            for m, ids in members.items():
                boxes[m].members = frozenset(ids)
            self._boxes = boxes
        return self._boxes

    def threads(self) -> dict[int, list[int]]:
        """Thread id → email ids in receivedAt order (RFC 8621 §3)."""
        if self._threads is None:
            threads: dict[int, list[int]] = {}
            for row in sorted(self.rows.values(), key=lambda r: (r.received_at, r.id)):
                threads.setdefault(row.thread_id, []).append(row.id)
            self._threads = threads
        return self._threads

    def mailbox_members(self) -> dict[int, frozenset[int]]:
        """Mailbox id → email ids (read-only: a snapshot that later changes do not touch)."""
        return {m: stats.members for m, stats in self._box_stats().items()}

    def mailbox_counts(self) -> dict[int, tuple[int, int, int, int]]:
        """Mailbox id → (emails, unread emails, threads, threads with an unread email): the
        RFC 8621 §2 counts, where a thread counts for a mailbox when one of its emails is in it
        ("the simplest solution" §2 describes)."""
        return {
            m: (len(s.members), s.unread, len(s.threads), len(s.unread_threads))
            for m, s in self._box_stats().items()
        }


_INDEXES: weakref.WeakKeyDictionary[Store, OrderedDict[int, AccountIndex]] = (
    weakref.WeakKeyDictionary()
)


def account_index(store: Store, acct: int) -> AccountIndex:
    """The account's index, brought up to date with the store's change log."""
    per_store = _INDEXES.get(store)
    if per_store is None:
        per_store = _INDEXES[store] = OrderedDict()
    state = store.account(acct)
    if state is None:
        per_store.pop(acct, None)
        return AccountIndex(0)
    index = per_store.get(acct)
    if index is None or index.modseq < state.changes_floor or index.modseq > state.modseq:
        # Read the modseq first: a write landing during the scan is re-read next time.
        index = AccountIndex(state.modseq)
        for em in store.emails(acct):
            index.rows[em.id] = EmailRow.of(em)
        per_store[acct] = index
    elif index.modseq < state.modseq:
        changed: dict[int, None] = {}
        last = index.modseq
        for modseq, entries in store.changes_since(acct, index.modseq):
            last = max(last, modseq)
            for e in entries:
                if e.type == "Email":
                    changed[e.id] = None
        for eid in changed:
            record = store.email(acct, eid)
            if record is None:
                index.remove(eid)
            else:
                index.put(EmailRow.of(record))
        index.modseq = last
    per_store.move_to_end(acct)
    while len(per_store) > MAX_CACHED_ACCOUNTS:
        per_store.popitem(last=False)
    return index


# -- parsed messages -----------------------------------------------------------------------------
_PARSED: OrderedDict[bytes, ParsedMessage] = OrderedDict()
MAX_CACHED_PARSED: Final = 1024


def parsed_message(store: Store, acct: int, eid: int) -> ParsedMessage | None:
    """The stored parse of an email (a pure function of its metadata: cached by it)."""
    meta = store.metadata(acct, eid)
    if meta is None:
        return None
    parsed = _PARSED.get(meta)
    if parsed is None:
        parsed = ParsedMessage.from_wire(unpack(meta))
        _PARSED[meta] = parsed
        if len(_PARSED) > MAX_CACHED_PARSED:
            _PARSED.popitem(last=False)
    else:
        _PARSED.move_to_end(meta)
    return parsed


def _first_address_key(items: list[Any]) -> str:
    if not items:
        return ""
    name, email = items[0][0], items[0][1]
    return str(name or email or "").casefold()


def content_info(store: Store, acct: int, index: AccountIndex, eid: int) -> ContentInfo:
    info = index.content.get(eid)
    if info is not None:
        return info
    meta = store.metadata(acct, eid)
    wire = unpack(meta) if meta is not None else None
    if wire and wire[0] == WIRE_VERSION:
        # The ParsedMessage wire list (protocols/mime/model.py): read the few top-level fields
        # directly instead of rebuilding the whole MIME tree.
        sent_at, from_, to, has_att, subject = wire[7], wire[9], wire[12], wire[18], wire[20]
        info = ContentInfo(
            sent_at if isinstance(sent_at, int) else 0,
            _first_address_key(from_),
            _first_address_key(to),
            str(subject or "").casefold(),
            bool(has_att),
        )
    else:
        info = ContentInfo(0, "", "", "", False)
    index.content[eid] = info
    return info


# -- /changes shared by the mail types -----------------------------------------------------------
def type_changes(
    ctx: JmapContext, acct: int, type_name: str, kind: str, args: ChangesArgs
) -> Changes:
    """RFC 8620 §5.2 for one store type (``kind`` names the id prefix in store/ids.py)."""
    store = ctx.store
    state = store.account(acct)
    if state is None:
        raise MethodError("accountNotFound")
    current = state.type_state(type_name)
    position = parse_state(args.since_state)
    log = store.changes_since(acct, position.modseq) if position is not None else []
    return compute_changes(
        type_name,
        args.since_state,
        current=current,
        floor=state.changes_floor,
        log=log,
        max_changes=args.max_changes,
        id_of=lambda n: object_id(kind, n),
    )


def email_state(store: Store, acct: int) -> int:
    state = store.account(acct)
    return 0 if state is None else state.type_state("Email")


# -- filters -------------------------------------------------------------------------------------
_TEXT_FIELDS: Final = {
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
        *_TEXT_FIELDS,
    }
)
_THREAD_CONDITIONS: Final = frozenset(
    {"allInThreadHaveKeyword", "someInThreadHaveKeyword", "noneInThreadHaveKeyword"}
)
_THREAD_SORTS: Final = frozenset({"allInThreadHaveKeyword", "someInThreadHaveKeyword"})
_SORTS: Final = frozenset(
    {"receivedAt", "size", "from", "to", "subject", "sentAt", "hasKeyword", *_THREAD_SORTS}
)
_KEYWORD_SORTS: Final = frozenset({"hasKeyword", *_THREAD_SORTS})


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
        elif name in ("hasKeyword", "notKeyword", *_THREAD_CONDITIONS):
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


def uses_threads(node: Filter | None, sort: Sequence[Comparator], collapse: bool) -> bool:
    if collapse or any(c.property in _THREAD_SORTS for c in sort):
        return True
    return _filter_uses(node, _THREAD_CONDITIONS)


def _filter_uses(node: Filter | None, names: Iterable[str]) -> bool:
    if node is None:
        return False
    if isinstance(node, FilterOperator):
        return any(_filter_uses(c, names) for c in node.conditions)
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
            Text(_TEXT_FIELDS[k], v) for k, v in fields.items() if k in _TEXT_FIELDS
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
            current &= self.index.rows.keys()
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
        if name in _THREAD_CONDITIONS:
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


# -- sorting -------------------------------------------------------------------------------------
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


# -- the methods ---------------------------------------------------------------------------------
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
            return [f"e{n}" for n in self.numbers[i]]
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
_UNCACHEABLE: Final = frozenset(_TEXT_FIELDS)


def query_cache_key(
    node: Filter | None, sort: Sequence[Comparator], collapse: bool
) -> tuple[str, str, str, bool] | None:
    """The key of a query's result in :attr:`AccountIndex.derived`, or None when the result
    may not be reused.  Every other condition and sort reads only the index rows and the
    immutable per-blob content, so a result stays exact until the next change to the rows
    (which clears ``derived``)."""
    if _filter_uses(node, _UNCACHEABLE):
        return None
    return ("query", repr(node), repr(tuple(sort)), collapse)


async def run_query(
    ctx: JmapContext,
    acct: int,
    node: Filter | None,
    sort: Sequence[Comparator],
    collapse: bool,
) -> tuple[QueryResult, AccountIndex]:
    """The full sorted result list of email ids (cached per index state when exact)."""
    index = account_index(ctx.store, acct)
    key = query_cache_key(node, sort, collapse)
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


def account_index_if_current(store: Store, acct: int, index: AccountIndex) -> AccountIndex | None:
    """``index`` when nothing changed while a query was evaluated (it awaits the FTS thread
    for text conditions; a write may land meanwhile), so its result may be cached."""
    state = store.account(acct)
    return index if state is not None and state.modseq == index.modseq else None


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
