"""SEARCH (RFC 9051 §6.4.4) with ESEARCH (RFC 4731), SEARCHRES (RFC 5182), WITHIN (RFC 5032),
CONDSTORE MODSEQ (RFC 7162 §3.1.5), OBJECTID (RFC 8474); SORT and THREAD (RFC 5256, 5957).

Text keys (BODY, TEXT, SUBJECT, FROM, TO, CC, BCC) are answered from the full-text index, so they
match words and their stems rather than arbitrary substrings, as with Dovecot's FTS plugins.
HEADER searches the stored header values as substrings (case-insensitive).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from protocols.mime import header_values
from store.fts import Query, Text
from store.ids import object_id
from store.models import Email

from .. import commands as C
from .. import sortthread
from ..flags import SYSTEM_TO_KEYWORD
from ..serializer import format_sequence_set
from ..session import CommandFailed, Done, ImapSession
from .fetch import Loader

_TEXT_FIELD = {
    "BODY": "body",
    "TEXT": "text",
    "SUBJECT": "subject",
    "FROM": "from",
    "TO": "to",
    "CC": "cc",
    "BCC": "bcc",
}


def _day(ts: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date()


class Evaluator:
    """Evaluates a search key against the selected mailbox's messages."""

    def __init__(self, s: ImapSession) -> None:
        self.s = s
        sel = s.selected
        assert sel is not None
        self.sel = sel
        self.text_hits: dict[tuple[str, str], set[int]] = {}
        self.max_modseq = 0
        self.now = s.ctx.now()

    async def prepare(self, key: C.SearchKey) -> None:
        """Runs the full-text queries the key needs, once each."""
        for sub in _walk(key):
            if isinstance(sub, C.SearchText) and sub.value.strip():
                cache_key = (sub.field, sub.value)
                if cache_key not in self.text_hits:
                    query: Query = Text(_TEXT_FIELD[sub.field], sub.value)
                    self.text_hits[cache_key] = await self.s.ctx.search_text(
                        self.s.account_id, query
                    )

    def matches(self, key: C.SearchKey, seq: int, uid: int, loader: Loader) -> bool:
        email = loader.email
        if isinstance(key, C.SearchAll):
            return True
        if isinstance(key, C.SearchAnd):
            return all(self.matches(k, seq, uid, loader) for k in key.keys)
        if isinstance(key, C.SearchOr):
            return self.matches(key.left, seq, uid, loader) or self.matches(
                key.right, seq, uid, loader
            )
        if isinstance(key, C.SearchNot):
            return not self.matches(key.key, seq, uid, loader)
        if isinstance(key, C.SearchFlag):
            return self._flag(key.flag, uid, email) == key.present
        if isinstance(key, C.SearchText):
            if not key.value.strip():
                return True  # the empty string is a substring of everything
            return email.id in self.text_hits[(key.field, key.value)]
        if isinstance(key, C.SearchHeader):
            values = header_values(loader.raw, loader.parsed.root, key.name)
            if not key.value:
                return bool(values)  # RFC 9051: empty string matches any message with it
            needle = key.value.casefold()
            return any(needle in v.casefold() for v in values)
        if isinstance(key, C.SearchDate):
            if key.sent:
                ts = loader.parsed.sent_at
                ts = email.received_at if ts is None else ts
            else:
                ts = email.received_at
            day = _day(ts)
            if key.op == "BEFORE":
                return day < key.date
            if key.op == "ON":
                return day == key.date
            return day >= key.date
        if isinstance(key, C.SearchSize):
            return email.size > key.size if key.op == "LARGER" else email.size < key.size
        if isinstance(key, C.SearchSeq):
            if key.set.saved:
                return uid in set(self.s.searchres)
            if key.uid:
                top = self.sel.uids[-1] if self.sel.uids else 1
                return key.set.contains(uid, top)
            return key.set.contains(seq, max(self.sel.exists, 1))
        if isinstance(key, C.SearchModSeq):
            if email.modseq >= key.modseq:
                self.max_modseq = max(self.max_modseq, email.modseq)
                return True
            return False
        if isinstance(key, C.SearchAge):
            age = self.now - email.received_at
            return age > key.seconds if key.op == "OLDER" else age <= key.seconds
        if isinstance(key, C.SearchObjectId):
            if key.kind == "EMAILID":
                return object_id("email", email.id) == key.id
            return object_id("thread", email.thread_id) == key.id
        raise CommandFailed("BAD", f"Unsupported search key {type(key).__name__}")

    def _flag(self, flag: str, uid: int, email: Email) -> bool:
        low = flag.lower()
        if low == "\\recent":
            return uid in self.sel.recent
        if low == "new":  # parser may hand NEW/OLD through as flags
            return uid in self.sel.recent and "$seen" not in email.keywords
        keyword = SYSTEM_TO_KEYWORD.get(low, low)
        return keyword in email.keywords


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


async def run_search(s: ImapSession, key: C.SearchKey) -> tuple[list[tuple[int, int, Loader]], int]:
    """Matching (seq, uid, loader) in mailbox order, and the highest MODSEQ seen by MODSEQ keys."""
    sel = s.selected
    assert sel is not None
    if any(isinstance(k, C.SearchModSeq) for k in _walk(key)):
        s.condstore = True
    ev = Evaluator(s)
    await ev.prepare(key)
    hits: list[tuple[int, int, Loader]] = []
    sel.poll()  # current flags; news found here is still reported after the command
    for seq, uid in enumerate(sel.uids, start=1):
        email = sel.record(uid)
        if email is None:
            continue
        loader = Loader(s, email)
        if ev.matches(key, seq, uid, loader):
            hits.append((seq, uid, loader))
    return hits, ev.max_modseq


async def search(s: ImapSession, cmd: C.Search, out: list[bytes]) -> Done:
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
        parts.append(b"MODSEQ %d" % max_modseq)
    out.append(b" ".join(parts) + b"\r\n")
    return Done("SEARCH completed")


def _sort_messages(hits: list[tuple[int, int, Loader]]) -> list[sortthread.SortMessage]:
    return [
        sortthread.SortMessage.from_parsed(
            loader.parsed,
            seq=seq,
            uid=uid,
            internal_date=loader.email.received_at,
            size=loader.email.size,
        )
        for seq, uid, loader in hits
    ]


async def sort(s: ImapSession, cmd: C.Sort, out: list[bytes]) -> Done:
    hits, _ = await run_search(s, cmd.search)
    ordered = sortthread.sort(_sort_messages(hits), [(c.key, c.reverse) for c in cmd.criteria])
    numbers = [m.uid if cmd.uid else m.seq for m in ordered]
    out.append(b"* SORT" + b"".join(b" %d" % n for n in numbers) + b"\r\n")
    return Done("SORT completed")


async def thread(s: ImapSession, cmd: C.Thread, out: list[bytes]) -> Done:
    hits, _ = await run_search(s, cmd.search)
    messages = _sort_messages(hits)
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
