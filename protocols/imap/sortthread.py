"""SORT and THREAD (RFC 5256, with SORT=DISPLAY from RFC 5957): base subjects, sort keys, the
ORDEREDSUBJECT and REFERENCES threading algorithms, and the THREAD response syntax.

Pure functions over :class:`SortMessage` values that the handler builds from stored metadata
(:meth:`SortMessage.from_parsed`); nothing here touches the store or the network.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import TypeAlias

from protocols.mime import EnvelopeAddress, ParsedMessage, decode_header_value

__all__ = [
    "SORT_KEYS",
    "SortMessage",
    "ThreadNode",
    "ThreadTree",
    "base_subject",
    "casemap",
    "format_threads",
    "is_reply_or_forward",
    "sort",
    "subject_key",
    "thread_orderedsubject",
    "thread_references",
]

# --- base subject (RFC 5256 §2.1) -------------------------------------------------------------

_WSP_RUN = re.compile(r"[ \t\r\n]+")
# subj-trailer = "(fwd)" / WSP
_TRAILER = re.compile(r"(?:\(fwd\)|[ \t])$", re.IGNORECASE)
# subj-blob = "[" *BLOBCHAR "]" *WSP      (BLOBCHAR: any CHAR except "[" and "]")
_BLOB = r"\[[^\[\]]*\][ \t]*"
# subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
# subj-leader = (*subj-blob subj-refwd) / WSP
_LEADER = re.compile(rf"(?:(?:{_BLOB})*(?:re|fwd?)[ \t]*(?:{_BLOB})?:|[ \t])", re.IGNORECASE)
_BLOB_PREFIX = re.compile(_BLOB)
# subj-fwd-hdr = "[fwd:" ; subj-fwd-trl = "]"
_FWD_HDR = "[fwd:"


def _extract(subject: str) -> tuple[str, bool]:
    """The base subject and whether extraction removed a reply/forward marker."""
    # (1) Encoded words are already decoded by the caller; tabs and continuations become
    #     spaces and runs of spaces collapse to one.
    text = _WSP_RUN.sub(" ", subject)
    refwd = False
    while True:
        # (2) Remove trailing subj-trailer text, repeatedly.
        while True:
            m = _TRAILER.search(text)
            if m is None:
                break
            if m.group(0) != " " and m.group(0) != "\t":
                refwd = True  # a "(fwd)" trailer marks a forward
            text = text[: m.start()]
        # (3)-(5) Remove leaders, and a leading blob when something is left after it.
        while True:
            m = _LEADER.match(text)
            if m is not None and m.end() > 0:
                if m.group(0).strip(" \t"):
                    refwd = True
                text = text[m.end() :]
                continue
            m = _BLOB_PREFIX.match(text)
            if m is not None and text[m.end() :].strip(" \t"):
                text = text[m.end() :]
                continue
            break
        # (6) "[fwd: ... ]" wrapper: remove it and repeat from step (2).
        if text[: len(_FWD_HDR)].lower() == _FWD_HDR and text.endswith("]"):
            text = text[len(_FWD_HDR) : -1]
            refwd = True
            continue
        return text, refwd


def base_subject(subject: str | None) -> str:
    """The RFC 5256 §2.1 base subject of a decoded subject (case preserved; compare the
    result with :func:`casemap`, or use :func:`subject_key`)."""
    if not subject:
        return ""
    return _extract(subject)[0]


def is_reply_or_forward(subject: str | None) -> bool:
    """RFC 5256 §2.1: a message is a reply or forward when base subject extraction removed a
    subj-refwd leader, a "(fwd)" trailer or a "[fwd: ...]" wrapper."""
    if not subject:
        return False
    return _extract(subject)[1]


def casemap(text: str) -> str:
    """The comparison key of SORT and THREAD strings, compared by code point (which orders
    like their UTF-8 octets).

    For US-ASCII text it is exactly i;ascii-casemap (RFC 5256 §3, RFC 4790 §9.2): a-z become
    A-Z and nothing else changes, so the six characters 0x5B-0x60 ("[", backslash, "]", "^",
    "_", backquote) sort after every letter and before "{|}~".  Other text is also
    case-folded and decomposed (NFKD) as i;unicode-casemap (RFC 5051) folds case and
    compatibility forms, then mapped to upper case, so that it agrees with the ASCII rule.
    """
    if text.isascii():
        return text.upper()
    return unicodedata.normalize("NFKD", text.casefold().upper())


def subject_key(subject: str | None) -> str:
    """The comparison key of a subject for SORT SUBJECT and threading."""
    return casemap(base_subject(subject))


# --- sort (RFC 5256 §3, RFC 5957 §2) ----------------------------------------------------------


def _first_address(addrs: tuple[EnvelopeAddress, ...]) -> EnvelopeAddress | None:
    """The first real address, skipping group start/end markers (host NIL)."""
    for a in addrs:
        if a.host is not None and a.mailbox is not None:
            return a
    return None


def _first_mailbox(addrs: tuple[EnvelopeAddress, ...]) -> str:
    """RFC 5256 §3: the addr-mailbox of the first address *as ENVELOPE presents it*; for a
    list that starts with a group (``Cc: group: a@b;``) that is the group start marker, whose
    addr-mailbox is the group name (RFC 3501 §7.4.2).  No address sorts as ""."""
    return casemap(addrs[0].mailbox or "") if addrs else ""


def _display(addrs: tuple[EnvelopeAddress, ...]) -> str:
    """RFC 5957 §2: the decoded display-name of the first address, or its addr-spec when the
    display-name is absent or empty; the group name when the list starts with a group."""
    if not addrs:
        return ""
    first = addrs[0]
    if first.host is None:  # group start (NIL NIL "group" NIL)
        if first.mailbox:
            return casemap(decode_header_value(first.mailbox).strip())
        first_real = _first_address(addrs)
        if first_real is None:
            return ""
        first = first_real
    if first.name:
        name = decode_header_value(first.name).strip()
        if name:
            return casemap(name)
    spec = first.mailbox or ""
    if first.host:
        spec = f"{spec}@{first.host}"
    return casemap(spec)


@dataclass(frozen=True, slots=True)
class SortMessage:
    """What SORT and THREAD need of one message.

    ``sent`` is the Date: header in unix seconds, or the internal date when it is missing or
    invalid (RFC 5256 §2.2).  Address and subject keys are already case-mapped.
    ``message_id`` is the first valid id of Message-ID (None when there is none);
    ``references`` are the ids of References, or the first id of In-Reply-To when References
    holds none (RFC 5256 §4, REFERENCES step 1.A).
    """

    seq: int
    uid: int
    arrival: int
    sent: int
    size: int
    from_: str = ""
    to: str = ""
    cc: str = ""
    display_from: str = ""
    display_to: str = ""
    subject: str = ""
    is_reply: bool = False
    message_id: str | None = None
    references: tuple[str, ...] = ()

    @classmethod
    def from_parsed(
        cls, parsed: ParsedMessage, *, seq: int, uid: int, internal_date: int, size: int
    ) -> SortMessage:
        env = parsed.envelope
        subject = parsed.subject
        refs = parsed.references or parsed.in_reply_to[:1]
        return cls(
            seq=seq,
            uid=uid,
            arrival=internal_date,
            sent=parsed.sent_at if parsed.sent_at is not None else internal_date,
            size=size,
            from_=_first_mailbox(env.from_),
            to=_first_mailbox(env.to),
            cc=_first_mailbox(env.cc),
            display_from=_display(env.from_),
            display_to=_display(env.to),
            subject=subject_key(subject),
            is_reply=is_reply_or_forward(subject),
            message_id=parsed.message_id[0] if parsed.message_id else None,
            references=tuple(refs),
        )


SORT_KEYS: dict[str, str] = {
    "ARRIVAL": "arrival",
    "CC": "cc",
    "DATE": "sent",
    "FROM": "from_",
    "SIZE": "size",
    "SUBJECT": "subject",
    "TO": "to",
    "DISPLAYFROM": "display_from",
    "DISPLAYTO": "display_to",
}
"""SORT criterion name (RFC 5256 §3, RFC 5957 §3) → :class:`SortMessage` attribute."""


def sort(
    messages: Iterable[SortMessage], criteria: Sequence[tuple[str, bool]]
) -> list[SortMessage]:
    """Sort by ``criteria``: (key, reverse) pairs, most significant first, keys as in
    :data:`SORT_KEYS`.  REVERSE applies to its own key only; messages that compare equal on
    every key stay in sequence-number order (RFC 5256 §3)."""
    out = sorted(messages, key=lambda m: m.seq)
    for key, reverse in reversed(criteria):
        attr = SORT_KEYS[key.upper()]
        # list.sort is stable, also with reverse=True, so each pass keeps the earlier order
        # (less significant keys, then sequence numbers) among equal keys.
        out.sort(key=attrgetter(attr), reverse=reverse)
    return out


# --- threads ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadNode:
    """One thread member; ``message`` is None for a dummy (a missing parent kept to hold
    siblings together at the top level)."""

    message: SortMessage | None
    children: tuple[ThreadNode, ...] = ()


ThreadTree: TypeAlias = tuple[ThreadNode, ...]


def _date_key(m: SortMessage) -> tuple[int, int]:
    # RFC 5256 §2.2 sent date; ties keep sequence-number order.
    return (m.sent, m.seq)


def thread_orderedsubject(messages: Iterable[SortMessage]) -> ThreadTree:
    """ORDEREDSUBJECT (RFC 5256 §4): sort by base subject then sent date, split into threads
    of equal base subject, order threads by the sent date of their first message.  The first
    message is the root; every other message is its child (no grandchildren)."""
    ordered = sorted(messages, key=lambda m: (m.subject, m.sent, m.seq))
    groups: list[list[SortMessage]] = []
    for m in ordered:
        if groups and groups[-1][0].subject == m.subject:
            groups[-1].append(m)
        else:
            groups.append([m])
    groups.sort(key=lambda g: _date_key(g[0]))
    return tuple(ThreadNode(g[0], tuple(ThreadNode(m) for m in g[1:])) for g in groups)


class _Container:
    """A mutable REFERENCES thread container (a message or a dummy)."""

    __slots__ = ("children", "message", "parent")

    def __init__(self, message: SortMessage | None = None) -> None:
        self.message = message
        self.parent: _Container | None = None
        self.children: list[_Container] = []

    def has_descendant(self, other: _Container) -> bool:
        """True when ``other`` is this container or below it."""
        node: _Container | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False

    def unlink(self) -> None:
        if self.parent is not None:
            self.parent.children.remove(self)
            self.parent = None

    def add_child(self, child: _Container) -> None:
        child.unlink()
        child.parent = self
        self.children.append(child)

    def first_message(self) -> SortMessage | None:
        """This message, or the first child's for a dummy (used for sorting and subjects)."""
        node: _Container = self
        while node.message is None:
            if not node.children:
                return None
            node = node.children[0]
        return node.message


def _sort_key(c: _Container) -> tuple[int, int]:
    m = c.first_message()
    return _date_key(m) if m is not None else (0, 0)


def _link_references(messages: list[SortMessage]) -> list[_Container]:
    """REFERENCES step 1: the id table and parent/child links.  Returns the containers that
    have no parent (step 2's children of the root)."""
    table: dict[str, _Container] = {}
    containers: list[_Container] = []
    for m in messages:
        # Missing or duplicate Message-ID: a unique id of its own (only the first message,
        # by sequence number, keeps a duplicated id).
        mid = m.message_id
        if mid is None or (mid in table and table[mid].message is not None):
            mid = f"\0unique:{m.seq}"
        box = table.get(mid)
        if box is None:
            box = table[mid] = _Container(m)
        else:
            box.message = m  # a dummy created by an earlier reference
        containers.append(box)

        # (1.A) Link the references as a chain: each is the parent of the next.
        refs = [table.setdefault(r, _Container()) for r in m.references]
        for parent, child in zip(refs, refs[1:], strict=False):
            if child.parent is not None:  # an existing link is not changed
                continue
            if child.has_descendant(parent):  # would introduce a loop
                continue
            parent.add_child(child)
        # (1.B) The last reference is the parent of this message; no references means no
        # parent.  An existing parent (another message's References put it there, "probably
        # the result of a truncated References") is broken *before* the new link is made,
        # and stays broken when the new link is refused for making a loop: a message's own
        # References outrank what others say about it, so a loop never joins this message to
        # the thread of a message it does not itself reference (Dovecot does the same).
        last = refs[-1] if refs else None
        if box.parent is not last:
            box.unlink()
            if last is not None and not box.has_descendant(last):
                last.add_child(box)
    seen: set[int] = set()
    roots: list[_Container] = []
    for box in table.values():
        if box.parent is None and id(box) not in seen:
            seen.add(id(box))
            roots.append(box)
    return roots


def _descendants(roots: list[_Container]) -> list[_Container]:
    """Every container below ``roots`` in pre-order (iterative: threads can be very deep)."""
    out: list[_Container] = []
    stack = list(reversed(roots))
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(reversed(c.children))
    return out


def _prune_level(children: list[_Container], at_root: bool) -> list[_Container]:
    out: list[_Container] = []
    for c in children:
        if c.message is not None:
            out.append(c)
        elif not c.children:
            continue  # a dummy with no children is deleted
        elif not at_root or len(c.children) == 1:
            out.extend(c.children)  # promoted into the dummy's place
        else:
            out.append(c)
    return out


def _prune(roots: list[_Container]) -> list[_Container]:
    """REFERENCES step 3: drop empty dummies; splice a dummy's children into its siblings,
    except at the top level where that happens only for a single child.  Children are pruned
    before their parents (reverse pre-order), so a promoted set is already final."""
    for c in reversed(_descendants(roots)):
        c.children = _prune_level(c.children, at_root=False)
        for k in c.children:
            k.parent = c
    out = _prune_level(roots, at_root=True)
    for c in out:
        c.parent = None
    return out


def _merge_subjects(root: list[_Container]) -> list[_Container]:
    """REFERENCES step 5: gather top-level threads that share a base subject."""

    def thread_subject(c: _Container) -> str:
        m = c.first_message()
        return m.subject if m is not None else ""

    def is_reply(c: _Container) -> bool:
        return c.message is not None and c.message.is_reply

    table: dict[str, _Container] = {}
    for c in root:  # (5.B) one container per subject
        subject = thread_subject(c)
        if not subject:
            continue
        old = table.get(subject)
        if old is None:
            table[subject] = c
        elif old.message is not None and (c.message is None or (is_reply(old) and not is_reply(c))):
            table[subject] = c

    out: list[_Container] = []
    for c in root:  # (5.C) merge
        subject = thread_subject(c)
        if not subject:
            out.append(c)
            continue
        other = table[subject]
        if other is c:
            out.append(c)
            continue
        if other.message is None and c.message is None:
            for k in list(c.children):
                other.add_child(k)
        elif other.message is None:
            other.add_child(c)
        elif is_reply(c) and not is_reply(other):
            other.add_child(c)
        else:
            dummy = _Container()
            index = next((i for i, x in enumerate(out) if x is other), None)
            dummy.add_child(other)
            dummy.add_child(c)
            table[subject] = dummy
            if index is not None:
                out[index] = dummy
            else:  # ``other`` comes later in the list: it is replaced when reached
                out.append(dummy)
    # ``other`` containers placed under a dummy before their turn came must not appear twice.
    result: list[_Container] = []
    seen: set[int] = set()
    for c in out:
        if c.parent is None and id(c) not in seen:
            seen.add(id(c))
            result.append(c)
    return result


def _sort_siblings(roots: list[_Container]) -> None:
    """REFERENCES steps 4 and 6: sort every set of siblings by sent date, the top level last
    (a top-level dummy sorts by its first child, which must be sorted first)."""
    for c in _descendants(roots):
        c.children.sort(key=_sort_key)
    roots.sort(key=_sort_key)


def _freeze(roots: list[_Container]) -> ThreadTree:
    built: dict[int, ThreadNode] = {}
    for c in reversed(_descendants(roots)):
        built[id(c)] = ThreadNode(c.message, tuple(built.pop(id(k)) for k in c.children))
    return tuple(built[id(c)] for c in roots)


def thread_references(messages: Iterable[SortMessage]) -> ThreadTree:
    """REFERENCES (RFC 5256 §4): link messages by References/In-Reply-To through a
    Message-ID table, gather parentless messages under a root, prune dummies, sort, merge
    top-level threads with the same base subject, and sort every sibling set by sent date."""
    ordered = sorted(messages, key=lambda m: m.seq)
    roots = _link_references(ordered)  # steps 1-2
    roots = _prune(roots)  # step 3
    _sort_siblings(roots)  # step 4 (children sorted too, harmless: step 6 sorts them again)
    roots = _merge_subjects(roots)  # step 5
    _sort_siblings(roots)  # step 6
    return _freeze(roots)


def format_threads(tree: ThreadTree, use_uid: bool = False) -> bytes:
    """The THREAD response data: ``(1 2)(3 (4)(5))`` (RFC 5256 §4 thread-list), with
    sequence numbers or, for UID THREAD, UIDs."""
    # thread-list    = "(" (thread-members / thread-nested) ")"
    # thread-members = nz-number *(SP nz-number) [SP thread-nested]
    # thread-nested  = 2*thread-list
    out: list[str] = []
    # A stack of pending work: a node to open, or a ")" to close (iterative: no depth limit).
    stack: list[ThreadNode | str] = [n for node in reversed(tree) for n in (")", node)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        node = item
        out.append("(")
        numbers: list[str] = []
        while True:  # a chain of only children is written as numbers in one list
            if node.message is not None:
                numbers.append(str(node.message.uid if use_uid else node.message.seq))
            if len(node.children) != 1:
                break
            node = node.children[0]
        out.append(" ".join(numbers))
        if node.children and numbers:
            out.append(" ")
        for child in reversed(node.children):
            stack.append(")")
            stack.append(child)
    return "".join(out).encode("ascii")
