"""The IMAP command AST (RFC 9051 §6 plus the extensions we support).

Every command is a frozen dataclass whose first field is the ``tag``.  Values are normalised by
the parser: command options and keywords upper-cased, system flags capitalised (``\\Seen``),
mailbox names decoded from modified UTF-7 and ``INBOX`` in any case spelled ``INBOX``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal as TLiteral
from typing import TypeAlias

from .section import Partial, SectionSpec

# --------------------------------------------------------------------------- sequence sets


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A sequence set (RFC 9051 §9 ``sequence-set``).

    ``ranges`` holds ``(start, end)`` pairs as written (either order, RFC 9051 §9: "2:4" and
    "4:2" are equal); ``None`` stands for ``*``.  ``saved=True`` is the SEARCHRES ``$``
    reference (RFC 5182 §2.1), which the session replaces by the saved result.
    """

    ranges: tuple[tuple[int | None, int | None], ...] = ()
    saved: bool = False

    @classmethod
    def of(cls, *numbers: int) -> SequenceSet:
        return cls(tuple((n, n) for n in numbers))

    @property
    def has_star(self) -> bool:
        return any(a is None or b is None for a, b in self.ranges)

    def normalized(self, maximum: int) -> tuple[tuple[int, int], ...]:
        """Sorted, merged, inclusive ranges within ``1..maximum`` (``*`` is ``maximum``).

        Numbers above ``maximum`` name nothing and are dropped; a range reaching past it is cut
        (so ``UID FETCH 5:*`` on a mailbox whose highest UID is 3 gives 3, RFC 9051 §6.4.8).
        """
        if self.saved:
            raise ValueError("the $ reference must be replaced by the saved result first")
        spans: list[tuple[int, int]] = []
        for start, end in self.ranges:
            a = maximum if start is None else start
            b = maximum if end is None else end
            lo, hi = min(a, b), max(a, b)
            hi = min(hi, maximum)
            if lo <= hi and hi >= 1:
                spans.append((max(lo, 1), hi))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        return tuple(merged)

    def iter(self, maximum: int) -> Iterator[int]:
        for lo, hi in self.normalized(maximum):
            yield from range(lo, hi + 1)

    def resolve(self, maximum: int) -> list[int]:
        """The numbers named, sorted and unique, against the largest number in use."""
        return list(self.iter(maximum))

    def contains(self, number: int, maximum: int) -> bool:
        return any(lo <= number <= hi for lo, hi in self.normalized(maximum))

    def __str__(self) -> str:
        if self.saved:
            return "$"

        def one(n: int | None) -> str:
            return "*" if n is None else str(n)

        return ",".join(one(a) if a == b else f"{one(a)}:{one(b)}" for a, b in self.ranges)


# --------------------------------------------------------------------------- search keys


@dataclass(frozen=True, slots=True)
class SearchAll:
    pass


@dataclass(frozen=True, slots=True)
class SearchFlag:
    """ANSWERED/UNANSWERED ... KEYWORD/UNKEYWORD, RECENT/UNRECENT: the flag is set or not."""

    flag: str
    present: bool = True


SearchTextField = TLiteral["BCC", "CC", "FROM", "SUBJECT", "TO", "BODY", "TEXT"]


@dataclass(frozen=True, slots=True)
class SearchText:
    field: SearchTextField
    value: str


@dataclass(frozen=True, slots=True)
class SearchHeader:
    name: str  # upper-cased field name
    value: str


@dataclass(frozen=True, slots=True)
class SearchDate:
    """BEFORE/ON/SINCE (internal date) and SENTBEFORE/SENTON/SENTSINCE (Date: header)."""

    sent: bool
    op: TLiteral["BEFORE", "ON", "SINCE"]
    date: dt.date


@dataclass(frozen=True, slots=True)
class SearchSize:
    op: TLiteral["LARGER", "SMALLER"]
    size: int


@dataclass(frozen=True, slots=True)
class SearchSeq:
    """A bare sequence set (``uid=False``) or ``UID set``."""

    set: SequenceSet
    uid: bool = False


@dataclass(frozen=True, slots=True)
class SearchModSeq:
    """``MODSEQ ["/flags/\\Seen" all] n`` (RFC 7162 §3.1.5)."""

    modseq: int
    entry: str | None = None
    entry_type: TLiteral["PRIV", "SHARED", "ALL"] | None = None


@dataclass(frozen=True, slots=True)
class SearchAge:
    """``OLDER n`` / ``YOUNGER n`` seconds (RFC 5032)."""

    op: TLiteral["OLDER", "YOUNGER"]
    seconds: int


@dataclass(frozen=True, slots=True)
class SearchObjectId:
    """``EMAILID id`` / ``THREADID id`` (RFC 8474 §6)."""

    kind: TLiteral["EMAILID", "THREADID"]
    id: str


@dataclass(frozen=True, slots=True)
class SearchNot:
    key: SearchKey


@dataclass(frozen=True, slots=True)
class SearchOr:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class SearchAnd:
    """Several keys that must all match: the top level and parenthesised groups."""

    keys: tuple[SearchKey, ...]


SearchKey: TypeAlias = (
    SearchAll
    | SearchFlag
    | SearchText
    | SearchHeader
    | SearchDate
    | SearchSize
    | SearchSeq
    | SearchModSeq
    | SearchAge
    | SearchObjectId
    | SearchNot
    | SearchOr
    | SearchAnd
)

# --------------------------------------------------------------------------- fetch items


@dataclass(frozen=True, slots=True)
class FetchItem:
    """One fetch attribute.

    ``name`` is one of ENVELOPE FLAGS INTERNALDATE RFC822.SIZE BODY BODYSTRUCTURE UID RFC822
    RFC822.HEADER RFC822.TEXT BINARY BINARY.SIZE MODSEQ EMAILID THREADID PREVIEW.  ``BODY`` with
    a ``section`` is ``BODY[...]`` (``peek`` for BODY.PEEK); without one it is the
    non-extensible BODYSTRUCTURE.  ``BINARY``/``BINARY.SIZE`` always carry a section (part only).
    """

    name: str
    section: SectionSpec | None = None
    partial: Partial | None = None
    peek: bool = False
    lazy: bool = False  # PREVIEW (LAZY), RFC 8970 §3.1


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Command:
    tag: str


@dataclass(frozen=True, slots=True)
class Capability(Command):
    pass


@dataclass(frozen=True, slots=True)
class Noop(Command):
    pass


@dataclass(frozen=True, slots=True)
class Logout(Command):
    pass


@dataclass(frozen=True, slots=True)
class StartTls(Command):
    pass


@dataclass(frozen=True, slots=True)
class Authenticate(Command):
    """``initial_response`` is the decoded SASL-IR (RFC 4959): ``b""`` for ``=``, None if absent."""

    mechanism: str
    initial_response: bytes | None = None


@dataclass(frozen=True, slots=True)
class Login(Command):
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class Enable(Command):
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QResync:
    """``QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]])`` (RFC 7162 §3.2.5)."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


class UnusableName(str):
    """A mailbox name (or LIST pattern) that is valid syntax but names no possible mailbox:
    modified UTF-7 that does not decode in an IMAP4rev1 session (``&`` that opens no valid
    base64 run, RFC 3501 §5.1.3), or a control character.  It holds the text as sent; BAD is
    only for syntax errors (RFC 9051 §7.1), so commands naming it answer NO and a LIST pattern
    of it matches nothing."""

    reason: str

    def __new__(cls, text: str, reason: str) -> UnusableName:
        self = super().__new__(cls, text)
        self.reason = reason
        return self


@dataclass(frozen=True, slots=True)
class Select(Command):
    """SELECT, or EXAMINE when ``readonly``."""

    mailbox: str
    readonly: bool = False
    condstore: bool = False
    qresync: QResync | None = None


@dataclass(frozen=True, slots=True)
class Create(Command):
    mailbox: str
    special_use: tuple[str, ...] = ()  # RFC 6154 §3 ``(USE (\Drafts))``


@dataclass(frozen=True, slots=True)
class Delete(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class Rename(Command):
    mailbox: str
    new_name: str


@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class Unsubscribe(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class ListReturn:
    """RETURN options (RFC 5258 §3.2, RFC 6154, RFC 5819)."""

    subscribed: bool = False
    children: bool = False
    special_use: bool = False
    status: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class List(Command):
    """LIST, basic or extended (RFC 5258).  ``selection`` holds the upper-cased options."""

    reference: str
    patterns: tuple[str, ...]
    selection: frozenset[str] = frozenset()
    returns: ListReturn = field(default_factory=ListReturn)
    extended: bool = False


@dataclass(frozen=True, slots=True)
class Lsub(Command):
    reference: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Namespace(Command):
    pass


@dataclass(frozen=True, slots=True)
class Status(Command):
    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AppendMessage:
    data: bytes
    flags: tuple[str, ...] = ()
    date_time: dt.datetime | None = None
    binary: bool = False  # sent as literal8 (RFC 3516)
    utf8: bool = False  # ``UTF8 (literal)`` (RFC 6855 §4)


@dataclass(frozen=True, slots=True)
class Append(Command):
    """APPEND with one or more messages (MULTIAPPEND, RFC 3502)."""

    mailbox: str
    messages: tuple[AppendMessage, ...]


@dataclass(frozen=True, slots=True)
class Idle(Command):
    pass


@dataclass(frozen=True, slots=True)
class Check(Command):
    pass


@dataclass(frozen=True, slots=True)
class Close(Command):
    pass


@dataclass(frozen=True, slots=True)
class Unselect(Command):
    pass


@dataclass(frozen=True, slots=True)
class Expunge(Command):
    """EXPUNGE, or UID EXPUNGE (RFC 9051 §6.4.9) when ``uids`` is set."""

    uids: SequenceSet | None = None


@dataclass(frozen=True, slots=True)
class Search(Command):
    """``return_options`` is None without RETURN (plain ``* SEARCH``), else the ESEARCH options
    (``()`` means ALL, RFC 4731 §3.1)."""

    criteria: SearchKey
    uid: bool = False
    charset: str | None = None
    return_options: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Fetch(Command):
    sequence_set: SequenceSet
    items: tuple[FetchItem, ...]
    uid: bool = False
    changed_since: int | None = None  # RFC 7162 §3.1.4
    vanished: bool = False  # RFC 7162 §3.2.6


@dataclass(frozen=True, slots=True)
class Store(Command):
    sequence_set: SequenceSet
    mode: TLiteral["SET", "ADD", "REMOVE"]
    flags: tuple[str, ...]
    silent: bool = False
    uid: bool = False
    unchanged_since: int | None = None  # RFC 7162 §3.1.3


@dataclass(frozen=True, slots=True)
class Copy(Command):
    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Move(Command):
    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class SortCriterion:
    key: str  # ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Sort(Command):
    criteria: tuple[SortCriterion, ...]
    charset: str
    search: SearchKey
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Thread(Command):
    algorithm: str  # REFERENCES, ORDEREDSUBJECT
    charset: str
    search: SearchKey
    uid: bool = False


@dataclass(frozen=True, slots=True)
class GetQuota(Command):
    root: str


@dataclass(frozen=True, slots=True)
class GetQuotaRoot(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class SetQuota(Command):
    root: str
    limits: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Id(Command):
    """RFC 2971; ``params`` is None for ``ID NIL``."""

    params: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True, slots=True)
class Compress(Command):
    mechanism: str  # DEFLATE (RFC 4978)


AnyCommand: TypeAlias = (
    Capability
    | Noop
    | Logout
    | StartTls
    | Authenticate
    | Login
    | Enable
    | Select
    | Create
    | Delete
    | Rename
    | Subscribe
    | Unsubscribe
    | List
    | Lsub
    | Namespace
    | Status
    | Append
    | Idle
    | Check
    | Close
    | Unselect
    | Expunge
    | Search
    | Fetch
    | Store
    | Copy
    | Move
    | Sort
    | Thread
    | GetQuota
    | GetQuotaRoot
    | SetQuota
    | Id
    | Compress
)
