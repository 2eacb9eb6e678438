"""FETCH and UID FETCH (RFC 9051 §6.4.5), with CONDSTORE/QRESYNC modifiers (RFC 7162),
BINARY (RFC 3516), OBJECTID (RFC 8474) and PREVIEW (RFC 8970)."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from protocols.mail.messages import decode_metadata_wire
from protocols.mime import WIRE_VERSION, Envelope, ParsedMessage, parse_message
from store import ErrorKind, MailError
from store.ids import object_id
from store.models import KEYWORD_SEEN, Email

from .. import commands as C
from .. import render
from ..connection import CommandFailed, Done, ImapConnection
from ..flags import FlagNames, flags_item
from ..section import SectionSpec
from ..serializer import encode_value, format_sequence_set
from ..values import Atom, Literal, Raw

# Rendered ENVELOPE / BODY / BODYSTRUCTURE by blob digest: blobs are content-addressed, so the
# same bytes always render the same, and a hit skips decoding the stored metadata too.
RENDER_CACHE_SIZE = 50_000
_render_cache: OrderedDict[tuple[bytes, str], Raw] = OrderedDict()


def _rendered(loader: Loader, kind: str, build: Callable[[Loader], Raw]) -> Raw:
    key = (loader.email.blob, kind)
    value = _render_cache.get(key)
    if value is None:
        value = _render_cache[key] = build(loader)
        if len(_render_cache) > RENDER_CACHE_SIZE:
            _render_cache.popitem(last=False)
    else:
        _render_cache.move_to_end(key)
    return value


# Items that set \Seen unless .PEEK (RFC 9051 §6.4.5).
_SETS_SEEN = {"RFC822", "RFC822.TEXT"}


def internal_date(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%d-%b-%Y %H:%M:%S +0000")


def section_name(kind: str, spec: SectionSpec | None) -> str:
    if spec is None:
        return f"{kind}[]"
    text = ".".join(str(p) for p in spec.part)
    if spec.text:
        text = f"{text}.{spec.text}" if text else spec.text
    if spec.fields:
        text += " (" + " ".join(spec.fields) + ")"
    return f"{kind}[{text}]"


class Loader:
    """Loads what a message's items need, once."""

    def __init__(self, s: ImapConnection, email: Email) -> None:
        self.s = s
        self.email = email
        self._parsed: ParsedMessage | None = None
        self._raw: bytes | None = None
        self._wire: Any = None  # the unpacked metadata, () when there is none usable

    @property
    def wire(self) -> Any:
        """The stored parse in its wire form (:meth:`ParsedMessage.to_wire`, a sequence), when
        there is one of the current version: reading a few fields from it skips rebuilding the
        MIME tree.  None otherwise."""
        if self._wire is None:
            meta = self.s.ctx.store.metadata(self.s.account_id, self.email.id)
            wire = decode_metadata_wire(meta) if meta else None
            usable = isinstance(wire, list | tuple) and len(wire) > 20 and wire[0] == WIRE_VERSION
            self._wire = wire if usable else ()
        return self._wire or None

    @property
    def parsed(self) -> ParsedMessage:
        if self._parsed is None:
            wire = self.wire
            if wire is not None:
                self._parsed = ParsedMessage.from_wire(wire)
            else:
                self._parsed = parse_message(self.raw)
        return self._parsed

    @property
    def envelope(self) -> Envelope:
        if self._parsed is None:
            wire = self.wire
            if wire is not None:
                return Envelope.from_wire(wire[3])
        return self.parsed.envelope

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = self.s.ctx.store.blob(self.email.blob) or b""
        return self._raw


def _item_values(
    s: ImapConnection, item: C.FetchItem, uid: int, loader: Loader, out: list[Any]
) -> None:
    email = loader.email
    name = item.name
    if name == "UID":
        return  # always written first
    if name == "INTERNALDATE":
        out += [Atom("INTERNALDATE"), internal_date(email.received_at)]
    elif name == "RFC822.SIZE":
        out += [Atom("RFC822.SIZE"), email.size]
    elif name == "ENVELOPE":
        out += [Atom("ENVELOPE"), _rendered(loader, "ENVELOPE", _envelope)]
    elif name == "BODYSTRUCTURE":
        out += [Atom("BODYSTRUCTURE"), _rendered(loader, "BODYSTRUCTURE", _extensible)]
    elif name == "BODY" and item.section is None and not item.peek and item.partial is None:
        out += [Atom("BODY"), _rendered(loader, "BODY", _basic)]
    elif name in ("BODY", "RFC822", "RFC822.HEADER", "RFC822.TEXT"):
        spec = item.section or SectionSpec()
        if name == "RFC822.HEADER":
            spec = SectionSpec(text="HEADER")
        elif name == "RFC822.TEXT":
            spec = SectionSpec(text="TEXT")
        if not spec.part and spec.text is None:
            data: bytes | None = loader.raw  # BODY[] / RFC822: the message as stored
        else:
            data = render.section(loader.raw, loader.parsed, spec)
        if data is None:
            raise CommandFailed("BAD", "Invalid section")
        label = name if name != "BODY" else section_name("BODY", item.section)
        if item.partial is not None:
            data = render.partial(data, item.partial.offset, item.partial.length)
            label += f"<{item.partial.offset}>"
        out += [Atom(label), Literal(data)]
    elif name == "BINARY":
        part = item.section.part if item.section else ()
        data = render.binary(loader.raw, loader.parsed, part)
        if data is None:
            raise CommandFailed("NO", "Unknown Content-Transfer-Encoding", "UNKNOWN-CTE")
        label = section_name("BINARY", SectionSpec(part=part))
        if item.partial is not None:
            data = render.partial(data, item.partial.offset, item.partial.length)
            label += f"<{item.partial.offset}>"
        out += [Atom(label), Literal(data, binary=b"\0" in data)]
    elif name == "BINARY.SIZE":
        part = item.section.part if item.section else ()
        size = render.binary_size(loader.raw, loader.parsed, part)
        if size is None:
            raise CommandFailed("NO", "Unknown Content-Transfer-Encoding", "UNKNOWN-CTE")
        out += [Atom(section_name("BINARY.SIZE", SectionSpec(part=part))), size]
    elif name == "MODSEQ":
        out += [Atom("MODSEQ"), [email.modseq]]
    elif name == "EMAILID":
        out += [Atom("EMAILID"), [Atom(object_id("email", email.id))]]
    elif name == "THREADID":
        out += [Atom("THREADID"), [Atom(object_id("thread", email.thread_id))]]
    elif name == "PREVIEW":
        out += [Atom("PREVIEW"), render.preview(loader.parsed)]
    else:
        raise CommandFailed("BAD", f"Unknown FETCH item {name}")


def _item_bytes(
    s: ImapConnection, item: C.FetchItem, uid: int, loader: Loader, names: FlagNames
) -> bytes:
    """One FETCH item encoded: the common items directly, the rest through the values of
    :func:`_item_values` (same bytes either way)."""
    name = item.name
    if name == "FLAGS":
        sel = s.selected
        assert sel is not None
        return flags_item(names.flags(loader.email.keywords), uid in sel.recent)
    if name == "ENVELOPE":
        return b"ENVELOPE " + _rendered(loader, "ENVELOPE", _envelope).data
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % loader.email.size
    if name == "MODSEQ":
        return b"MODSEQ (%d)" % loader.email.modseq
    if name == "UID":
        return b""  # always written first
    values: list[Any] = []
    _item_values(s, item, uid, loader, values)
    utf8 = s.utf8
    return b" ".join(encode_value(v, utf8=utf8) for v in values)


def _envelope(loader: Loader) -> Raw:
    return render.envelope_of(loader.envelope)


def _extensible(loader: Loader) -> Raw:
    return render.bodystructure(loader.parsed, True)


def _basic(loader: Loader) -> Raw:
    return render.bodystructure(loader.parsed, False)


def _sets_seen(item: C.FetchItem) -> bool:
    if item.name in _SETS_SEEN:
        return True
    return (
        item.name in ("BODY", "BINARY")
        and not item.peek
        and (item.section is not None or item.name == "BINARY")
    )


async def fetch(s: ImapConnection, cmd: C.Fetch, out: list[bytes]) -> Done:
    sel = s.selected
    assert sel is not None
    store = s.ctx.store
    items = list(cmd.items)
    names = {i.name for i in items}
    if cmd.changed_since is not None or "MODSEQ" in names:
        s.condstore = True
    if cmd.vanished and (not cmd.uid or not s.qresync or cmd.changed_since is None):
        raise CommandFailed("BAD", "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC")
    # RFC 7162 §3.1.4.1: CHANGEDSINCE implies MODSEQ; once CONDSTORE is on, so does FLAGS.
    wants_modseq = cmd.changed_since is not None or (s.condstore and "FLAGS" in names)
    if wants_modseq and "MODSEQ" not in names:
        items.append(C.FetchItem("MODSEQ"))
    uids = s.resolve(cmd.sequence_set, uid=cmd.uid)
    if cmd.vanished and cmd.changed_since is not None:
        vanished = _vanished_since(s, cmd.changed_since, cmd.sequence_set)
        if vanished:
            out.append(b"* VANISHED (EARLIER) " + format_sequence_set(vanished).encode() + b"\r\n")
    marks_seen = not sel.read_only and any(_sets_seen(i) for i in items)
    emails: list[tuple[int, Email]] = []
    missing = False
    sel.poll()  # current flags; news found here is still reported after the command
    for uid, email in sel.records_for(uids):
        if email is None:
            missing = True  # expunged by another session, not yet reported (RFC 2180 §4.1.3)
            continue
        if cmd.changed_since is not None and email.modseq <= cmd.changed_since:
            continue
        emails.append((uid, email))
    if marks_seen:
        changed = await _mark_seen(s, [e for _, e in emails if KEYWORD_SEEN not in e.keywords])
        if changed:
            emails = [
                (uid, (store.email(s.account_id, e.id) or e) if e.id in changed else e)
                for uid, e in emails
            ]
            # The FETCH lines below show these records (FLAGS is added to the items).
            sel.forget_flag_news({uid: (0, e.modseq) for uid, e in emails if e.id in changed})
            if "FLAGS" not in names:
                items.append(C.FetchItem("FLAGS"))
    with_uid = cmd.uid or "UID" in names
    flag_names = s.flag_names()
    if any(item.name == "FLAGS" for item in items):
        # RFC 3501 §7.2.6 / RFC 9051 §7.3.5: a keyword new to the client comes in FLAGS first.
        out.append(s.announce_flags((email.keywords for _, email in emails), flag_names))
    for uid, email in emails:
        seq = sel.seq_of(uid)
        assert seq is not None  # resolved from this view's UIDs, which polling leaves alone
        loader = Loader(s, email)
        parts = [b"UID %d" % uid] if with_uid else []
        for item in items:
            data = _item_bytes(s, item, uid, loader, flag_names)
            if data:
                parts.append(data)
        out.append(b"* %d FETCH (%s)\r\n" % (seq, b" ".join(parts)))
    if missing:
        return Done("Some messages were expunged", "EXPUNGEISSUED", "NO")
    return Done("FETCH completed")


async def _mark_seen(s: ImapConnection, unseen: list[Email]) -> set[int]:
    """Sets \\Seen on the messages a FETCH shows (RFC 9051 §6.4.5) where the token may
    (RFC 4314 §4: without the ``s`` right FETCH still answers, leaving \\Seen alone); one
    expunged meanwhile is skipped.  The ids of the emails marked."""
    tx = s.begin()
    marked: set[int] = set()
    for e in unseen:
        try:
            tx.update_email(s.account_id, e.id, keywords_add=(KEYWORD_SEEN,))
        except MailError as err:
            if err.kind not in (ErrorKind.NOT_FOUND, ErrorKind.NO_PERMISSION):
                raise
            continue
        marked.add(e.id)
    await tx.commit()  # writes nothing when none was marked
    return marked


def _vanished_since(s: ImapConnection, modseq: int, seqset: C.SequenceSet) -> list[int]:
    sel = s.selected
    assert sel is not None
    gone: set[int] = set()
    for _, entries in s.ctx.store.changes_since(s.account_id, modseq):
        for e in entries:
            if e.type == "imap" and e.id == sel.mailbox_id and e.op == "x":
                gone.add(e.uid)
    gone -= set(sel.uids)
    if not gone:
        return []
    top = max(gone)
    return sorted(u for u in gone if seqset.contains(u, top))


HANDLERS: dict[type[C.Command], Any] = {C.Fetch: fetch}
