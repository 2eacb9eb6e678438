"""SEARCH (RFC 9051 §6.4.4) with ESEARCH (RFC 4731), SEARCHRES (RFC 5182), WITHIN (RFC 5032),
CONDSTORE MODSEQ (RFC 7162 §3.1.5), OBJECTID (RFC 8474); SORT and THREAD (RFC 5256, 5957).

A search key is compiled once into a predicate over (sequence number, UID, email record) and
run over the selected mailbox's records, which come from the server-wide record cache
(:mod:`protocols.imap.records`), so a search decodes nothing that did not change.

SUBJECT, FROM, TO, CC and BCC match a case-insensitive substring of the decoded field, as
§6.4.4 describes, from per-message header values cached by content
(:mod:`protocols.imap.headerinfo`).  BODY and TEXT match a case-insensitive substring of the
decoded text too (RFC 3501 §6.4.4 "contain the specified string"; IMAP4rev1 and IMAP4rev2
alike), answered by the indexer's substring index (:mod:`store.fts.substring`), which first
indexes the account's outstanding changes.  HEADER searches the stored header values as
substrings (case-insensitive).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from typing import Any

from protocols.mime import header_values
from store.ids import object_id
from store.models import Email

from .. import commands as C
from .. import sortthread
from ..connection import CommandFailed, Done, ImapConnection
from ..flags import SYSTEM_TO_KEYWORD
from ..headerinfo import HeaderInfo, header_info, header_info_of, header_info_of_wire
from ..serializer import format_sequence_set
from .fetch import Loader

# Keys answered by the substring index (the others are evaluated on the records).
_TEXT_FIELD = frozenset({"BODY", "TEXT"})
# The envelope text keys: HeaderInfo attribute of each.
_HEADER_ATTR = {"SUBJECT": "subject", "FROM": "from_", "TO": "to", "CC": "cc", "BCC": "bcc"}
_DAY = 86_400

Predicate = Callable[[int, int, Email], bool]  # (seq, uid, email) -> matches
Row = tuple[int, int, Email]  # (seq, uid, email)
Filter = Callable[[list[Row]], list[Row]]  # rows in mailbox order -> the matching ones


def _all(rows: list[Row]) -> list[Row]:
    return rows


def _day_start(day: dt.date) -> int:
    """Unix time of ``day`` 00:00 UTC: date keys compare whole UTC days."""
    return calendar.timegm(day.timetuple())


def _in_day_range(op: str, start: int) -> Callable[[int], bool]:
    """BEFORE / ON / SINCE a day, as a test on a timestamp (RFC 9051 §6.4.4: the time of day
    and the time zone are disregarded, i.e. whole days in UTC here)."""
    if op == "BEFORE":
        return lambda ts: ts < start
    if op == "ON":
        end = start + _DAY
        return lambda ts: start <= ts < end
    return lambda ts: ts >= start


class Evaluator:
    """Compiles a search key against the selected mailbox, and keeps what it needs: full-text
    hits, the highest MODSEQ a MODSEQ key saw, the per-message header values."""

    def __init__(self, s: ImapConnection) -> None:
        self.s = s
        sel = s.selected
        assert sel is not None
        self.sel = sel
        self.text_hits: dict[tuple[str, str], set[int]] = {}
        self.max_modseq = 0
        self.now = s.ctx.now()

    async def prepare(self, key: C.SearchKey) -> None:
        """Runs the substring searches the key needs, once each, over the mailbox's emails
        (a small mailbox in a large account reads just its own rows)."""
        emails: set[int] | None = None
        for sub in _walk(key):
            if isinstance(sub, C.SearchText) and sub.field in _TEXT_FIELD and sub.value:
                cache_key = (sub.field, sub.value)
                if cache_key not in self.text_hits:
                    if emails is None:  # a superset (not yet reported expunges) is fine
                        emails = set(self.sel.email_ids.values())
                    self.text_hits[cache_key] = await self.s.ctx.search_substring(
                        self.s.account_id, sub.value, sub.field == "BODY", emails
                    )

    def header_info(self, email: Email) -> HeaderInfo:
        return header_info(email.blob, lambda: _load_header_info(Loader(self.s, email)))

    def compile(self, key: C.SearchKey) -> Filter:
        """The key as a filter over the mailbox's rows (order kept).  AND narrows the rows key
        by key, OR tries its right side only on what the left side left out, NOT keeps what
        its key did not match: each key sees exactly the messages a per-message evaluation
        with short-circuits would show it.  The common leaves are list comprehensions; the
        rest apply a per-message predicate."""
        if isinstance(key, C.SearchAll):
            return _all
        if isinstance(key, C.SearchAnd):
            filters = [self.compile(k) for k in key.keys]
            if len(filters) == 1:
                return filters[0]

            def and_(rows: list[Row]) -> list[Row]:
                for f in filters:
                    if not rows:
                        break
                    rows = f(rows)
                return rows

            return and_
        if isinstance(key, C.SearchOr):
            left, right = self.compile(key.left), self.compile(key.right)

            def or_(rows: list[Row]) -> list[Row]:
                first = left(rows)
                if len(first) == len(rows):
                    return rows
                matched = {r[1] for r in first}
                second = right([r for r in rows if r[1] not in matched])
                if not second:
                    return first
                matched.update(r[1] for r in second)
                return [r for r in rows if r[1] in matched]

            return or_
        if isinstance(key, C.SearchNot):
            inner = self.compile(key.key)

            def not_(rows: list[Row]) -> list[Row]:
                hit = {r[1] for r in inner(rows)}
                return [r for r in rows if r[1] not in hit]

            return not_
        fast = self._fast_filter(key)
        if fast is not None:
            return fast
        pred = self.predicate(key)
        return lambda rows: [r for r in rows if pred(*r)]

    def _fast_filter(self, key: C.SearchKey) -> Filter | None:
        """Flags, internal dates and envelope text, the keys clients send most, without a
        function call per message."""
        if isinstance(key, C.SearchFlag):
            low = key.flag.lower()
            if low in ("\\recent", "new"):
                return None
            kw = SYSTEM_TO_KEYWORD.get(low, low)
            if key.present:
                return lambda rows: [r for r in rows if kw in r[2].keywords]
            return lambda rows: [r for r in rows if kw not in r[2].keywords]
        if isinstance(key, C.SearchDate) and not key.sent:
            start = _day_start(key.date)
            if key.op == "BEFORE":
                return lambda rows: [r for r in rows if r[2].received_at < start]
            if key.op == "ON":
                end = start + _DAY
                return lambda rows: [r for r in rows if start <= r[2].received_at < end]
            return lambda rows: [r for r in rows if r[2].received_at >= start]
        if isinstance(key, C.SearchText) and key.field not in _TEXT_FIELD and key.value:
            needle, attr = key.value.casefold(), _HEADER_ATTR[key.field]
            info = self.header_info
            return lambda rows: [r for r in rows if needle in getattr(info(r[2]), attr)]
        return None

    def predicate(self, key: C.SearchKey) -> Predicate:
        """One key as a per-message predicate (any key, AND/OR/NOT included)."""
        if isinstance(key, C.SearchAll):
            return lambda seq, uid, email: True
        if isinstance(key, C.SearchAnd):
            preds = [self.predicate(k) for k in key.keys]
            return lambda seq, uid, email: all(p(seq, uid, email) for p in preds)
        if isinstance(key, C.SearchOr):
            left, right = self.predicate(key.left), self.predicate(key.right)
            return lambda seq, uid, email: left(seq, uid, email) or right(seq, uid, email)
        if isinstance(key, C.SearchNot):
            inner = self.predicate(key.key)
            return lambda seq, uid, email: not inner(seq, uid, email)
        if isinstance(key, C.SearchFlag):
            return self._flag(key.flag, key.present)
        if isinstance(key, C.SearchText):
            return self._text(key)
        if isinstance(key, C.SearchHeader):
            return self._header(key)
        if isinstance(key, C.SearchDate):
            test = _in_day_range(key.op, _day_start(key.date))
            if not key.sent:
                return lambda seq, uid, email: test(email.received_at)

            def sent(seq: int, uid: int, email: Email) -> bool:
                # RFC 3501 §6.4.4 "disregarding time and timezone": the date as written in
                # the Date: header's own zone.  Without a parsable Date:, the internal date
                # (as Dovecot does), whose day is the UTC one INTERNALDATE shows.
                day = self.header_info(email).sent_day
                return test(email.received_at if day is None else day)

            return sent
        if isinstance(key, C.SearchSize):
            size = key.size
            if key.op == "LARGER":
                return lambda seq, uid, email: email.size > size
            return lambda seq, uid, email: email.size < size
        if isinstance(key, C.SearchSeq):
            return self._seq(key)
        if isinstance(key, C.SearchModSeq):
            floor = key.modseq

            def modseq(seq: int, uid: int, email: Email) -> bool:
                if email.modseq >= floor:
                    self.max_modseq = max(self.max_modseq, email.modseq)
                    return True
                return False

            return modseq
        if isinstance(key, C.SearchAge):
            now, seconds = self.now, key.seconds
            if key.op == "OLDER":
                return lambda seq, uid, email: now - email.received_at > seconds
            return lambda seq, uid, email: now - email.received_at <= seconds
        if isinstance(key, C.SearchObjectId):
            wanted = key.id
            if key.kind == "EMAILID":
                return lambda seq, uid, email: object_id("email", email.id) == wanted
            return lambda seq, uid, email: object_id("thread", email.thread_id) == wanted
        raise CommandFailed("BAD", f"Unsupported search key {type(key).__name__}")

    def _flag(self, flag: str, present: bool) -> Predicate:
        low = flag.lower()
        recent = self.sel.recent
        if low == "\\recent":
            return lambda seq, uid, email: (uid in recent) == present
        if low == "new":  # parser may hand NEW/OLD through as flags
            return lambda seq, uid, email: (
                (uid in recent and "$seen" not in email.keywords) == present
            )
        keyword = SYSTEM_TO_KEYWORD.get(low, low)
        if present:
            return lambda seq, uid, email: keyword in email.keywords
        return lambda seq, uid, email: keyword not in email.keywords

    def _text(self, key: C.SearchText) -> Predicate:
        if not key.value:
            return lambda seq, uid, email: True  # the empty string is in everything
        if key.field in _TEXT_FIELD:
            hits = self.text_hits[(key.field, key.value)]
            return lambda seq, uid, email: email.id in hits
        needle, field = key.value.casefold(), key.field
        return lambda seq, uid, email: needle in self.header_info(email).text(field)

    def _header(self, key: C.SearchHeader) -> Predicate:
        name, needle = key.name, key.value.casefold()

        def header(seq: int, uid: int, email: Email) -> bool:
            loader = Loader(self.s, email)
            values = header_values(loader.raw, loader.parsed.root, name)
            if not needle:
                return bool(values)  # RFC 9051: empty string matches any message with it
            return any(needle in v.casefold() for v in values)

        return header

    def _seq(self, key: C.SearchSeq) -> Predicate:
        sel = self.sel
        seqset = key.set
        if seqset.saved:
            saved = set(self.s.searchres)
            return lambda seq, uid, email: uid in saved
        if key.uid:
            top = sel.uids[-1] if sel.uids else 1
            return lambda seq, uid, email: seqset.contains(uid, top)
        exists = max(sel.exists, 1)
        return lambda seq, uid, email: seqset.contains(seq, exists)


def _load_header_info(loader: Loader) -> HeaderInfo:
    wire = loader.wire
    return header_info_of(loader.parsed) if wire is None else header_info_of_wire(wire)


def _walk(key: C.SearchKey) -> list[C.SearchKey]:
    out = [key]
    if isinstance(key, C.SearchAnd):
        for k in key.keys:
            out += _walk(k)
    elif isinstance(key, C.SearchOr):
        out += _walk(key.left) + _walk(key.right)
    elif isinstance(key, C.SearchNot):
        out += _walk(key.key)
    return out


async def run_search(
    s: ImapConnection, key: C.SearchKey
) -> tuple[list[tuple[int, int, Email]], int]:
    """Matching (seq, uid, email) in mailbox order, and the highest MODSEQ seen by MODSEQ keys."""
    sel = s.selected
    assert sel is not None
    if any(isinstance(k, C.SearchModSeq) for k in _walk(key)):
        s.condstore = True
    ev = Evaluator(s)
    await ev.prepare(key)
    sel.poll()  # current flags; news found here is still reported after the command
    hits = ev.compile(key)(sel.rows())
    if not ev.max_modseq:  # no MODSEQ key matched anything
        return hits, 0
    # RFC 7162 §3.1.5: the highest mod-sequence of the messages returned (a MODSEQ key inside
    # an AND also sees messages a later key drops).
    return hits, max((email.modseq for _, _, email in hits), default=0)


async def search(s: ImapConnection, cmd: C.Search, out: list[bytes]) -> Done:
    hits, max_modseq = await run_search(s, cmd.criteria)
    numbers = [uid if cmd.uid else seq for seq, uid, _ in hits]
    uids = [uid for _, uid, _ in hits]
    options = cmd.return_options
    if options is None and s.rev2:
        options = ("ALL",)  # IMAP4rev2 answers SEARCH with ESEARCH (RFC 9051 §7.3.4)
    if options is None:
        line = b"* SEARCH" + b"".join(b" %d" % n for n in numbers)
        if max_modseq and numbers:
            line += b" (MODSEQ %d)" % max_modseq
        out.append(line + b"\r\n")
        return Done("SEARCH completed")
    opts = {o.upper() for o in options} or {"ALL"}
    if opts == {"SAVE"} or not (opts - {"SAVE"}):
        result_opts: set[str] = set()
    else:
        result_opts = opts - {"SAVE"}
    if "SAVE" in opts:
        # RFC 5182 §2.4: with MIN or MAX (and not ALL/COUNT) only those are saved.
        if result_opts and result_opts <= {"MIN", "MAX"} and uids:
            saved = set()
            if "MIN" in result_opts:
                saved.add(uids[0])
            if "MAX" in result_opts:
                saved.add(uids[-1])
            s.searchres = sorted(saved)
        else:
            s.searchres = uids
    if not result_opts and "SAVE" in opts:
        return Done("SEARCH completed, result saved")
    parts: list[bytes] = [b'* ESEARCH (TAG "' + cmd.tag.encode() + b'")']
    if cmd.uid:
        parts.append(b"UID")
    if "MIN" in result_opts and numbers:
        parts.append(b"MIN %d" % numbers[0])
    if "MAX" in result_opts and numbers:
        parts.append(b"MAX %d" % numbers[-1])
    if "ALL" in result_opts and numbers:
        parts.append(b"ALL " + format_sequence_set(numbers).encode())
    if "COUNT" in result_opts:
        parts.append(b"COUNT %d" % len(numbers))
    if max_modseq and numbers:
        # RFC 4731 §3.2: the highest mod-sequence of the messages *returned*; with MIN and/or
        # MAX only (no ALL or COUNT), those are just the first and/or last match.
        if result_opts and result_opts <= {"MIN", "MAX"}:
            returned = [hits[0]] if "MIN" in result_opts else []
            if "MAX" in result_opts:
                returned.append(hits[-1])
            max_modseq = max(email.modseq for _, _, email in returned)
        parts.append(b"MODSEQ %d" % max_modseq)
    out.append(b" ".join(parts) + b"\r\n")
    return Done("SEARCH completed")


def _sort_messages(
    s: ImapConnection, hits: list[tuple[int, int, Email]]
) -> list[sortthread.SortMessage]:
    return [
        sortthread.SortMessage.from_parsed(
            Loader(s, email).parsed,
            seq=seq,
            uid=uid,
            internal_date=email.received_at,
            size=email.size,
        )
        for seq, uid, email in hits
    ]


async def sort(s: ImapConnection, cmd: C.Sort, out: list[bytes]) -> Done:
    hits, _ = await run_search(s, cmd.search)
    ordered = sortthread.sort(_sort_messages(s, hits), [(c.key, c.reverse) for c in cmd.criteria])
    numbers = [m.uid if cmd.uid else m.seq for m in ordered]
    out.append(b"* SORT" + b"".join(b" %d" % n for n in numbers) + b"\r\n")
    return Done("SORT completed")


async def thread(s: ImapConnection, cmd: C.Thread, out: list[bytes]) -> Done:
    hits, _ = await run_search(s, cmd.search)
    messages = _sort_messages(s, hits)
    if cmd.algorithm == "REFERENCES":
        tree = sortthread.thread_references(messages)
    elif cmd.algorithm == "ORDEREDSUBJECT":
        tree = sortthread.thread_orderedsubject(messages)
    else:
        raise CommandFailed("BAD", f"Unsupported threading algorithm {cmd.algorithm}")
    data = sortthread.format_threads(tree, use_uid=cmd.uid)
    out.append(b"* THREAD" + (b" " + data if data else b"") + b"\r\n")
    return Done("THREAD completed")


HANDLERS: dict[type[C.Command], Any] = {C.Search: search, C.Sort: sort, C.Thread: thread}
