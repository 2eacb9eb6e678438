"""The argument grammar of the message commands: FETCH (fetch-att, sections, BINARY RFC 3516,
CHANGEDSINCE/VANISHED RFC 7162, PREVIEW RFC 8970), STORE (UNCHANGEDSINCE), COPY, MOVE
(RFC 6851) and EXPUNGE / UID EXPUNGE (RFC 4315)."""

from __future__ import annotations

from collections.abc import Callable

from . import commands as C
from .parse_reader import Handler, Reader, UidHandler
from .section import Partial, SectionSpec

_SIMPLE_FETCH = frozenset(
    {
        "ENVELOPE",
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "BODYSTRUCTURE",
        "UID",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.TEXT",
        "MODSEQ",
        "EMAILID",
        "THREADID",
        "SAVEDATE",
    }
)
_FETCH_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}


def _fetch(r: Reader, uid: bool = False) -> C.Fetch:
    r.sp()
    seqset = r.sequence_set()
    r.sp()
    items: list[C.FetchItem]
    if r.peek() == ord("("):
        items = r.paren_list(lambda: _fetch_att(r), allow_empty=False)
    else:
        save = r.pos
        word = r.word()
        if word in _FETCH_MACROS:
            items = [C.FetchItem(n) for n in _FETCH_MACROS[word]]
        else:
            r.pos = save
            items = [_fetch_att(r)]
    changed_since: int | None = None
    vanished = False
    if r.maybe_sp():
        r.char(b"(")
        while True:
            mod = r.keyword()
            if mod == "CHANGEDSINCE" and changed_since is None:
                r.sp()
                changed_since = r.number64()
            elif mod == "VANISHED" and not vanished:
                vanished = True
            else:
                raise r.fail(f"Unknown or repeated FETCH modifier {mod[:40]}")
            if r.maybe_char(b")"):
                break
            r.sp()
    if vanished and (not uid or changed_since is None):
        # RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only with CHANGEDSINCE.
        raise r.fail("VANISHED requires UID FETCH with CHANGEDSINCE")
    return C.Fetch(r.tag, seqset, tuple(items), uid, changed_since, vanished)


def _fetch_att(r: Reader) -> C.FetchItem:
    name = r.word()
    if name in _SIMPLE_FETCH:
        return C.FetchItem(name)
    if name in ("BODY", "BODY.PEEK"):
        if r.peek() != ord("["):
            if name == "BODY.PEEK":
                raise r.fail("BODY.PEEK needs a section")
            return C.FetchItem("BODY")
        section = _section(r)
        return C.FetchItem("BODY", section, _partial(r), peek=name == "BODY.PEEK")
    if name in ("BINARY", "BINARY.PEEK", "BINARY.SIZE"):
        section = _binary_section(r)
        if name == "BINARY.SIZE":
            return C.FetchItem(name, section)
        return C.FetchItem("BINARY", section, _partial(r), peek=name == "BINARY.PEEK")
    if name == "PREVIEW":
        lazy = False
        # RFC 8970 §3.1: "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]
        if r.text.startswith(b" (", r.pos) and r.text[r.pos + 2 : r.pos + 6].upper() == b"LAZY":
            r.sp()
            r.char(b"(")
            while True:
                if r.keyword() != "LAZY":
                    raise r.fail("Unknown PREVIEW modifier")
                lazy = True
                if r.maybe_char(b")"):
                    break
                r.sp()
        return C.FetchItem("PREVIEW", lazy=lazy)
    raise r.fail(f"Unknown fetch attribute {name[:40]}")


def _section_part(r: Reader) -> tuple[int, ...]:
    parts = [r.number(nonzero=True)]
    while r.text.startswith(b".", r.pos) and r.text[r.pos + 1 : r.pos + 2].isdigit():
        r.pos += 1
        parts.append(r.number(nonzero=True))
    return tuple(parts)


def _section(r: Reader) -> SectionSpec:
    # RFC 9051 §9: section = "[" [section-spec] "]"
    r.char(b"[")
    if r.maybe_char(b"]"):
        return SectionSpec()
    part: tuple[int, ...] = ()
    if r.peek() in range(ord("0"), ord("9") + 1):
        part = _section_part(r)
        if r.maybe_char(b"]"):
            return SectionSpec(part)
        r.char(b".")
    text = r.word()
    fields: tuple[str, ...] = ()
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        r.sp()
        fields = tuple(f.upper() for f in r.paren_list(r.astring, allow_empty=False))
    elif text == "MIME":
        if not part:
            raise r.fail("MIME needs a part number")
    elif text not in ("HEADER", "TEXT"):
        raise r.fail(f"Invalid section {text[:40]}")
    r.char(b"]")
    return SectionSpec(part, text, fields)


def _binary_section(r: Reader) -> SectionSpec:
    # RFC 3516 §4.2: section-binary = "[" [section-part] "]"
    r.char(b"[")
    if r.maybe_char(b"]"):
        return SectionSpec()
    part = _section_part(r)
    r.char(b"]")
    return SectionSpec(part)


def _partial(r: Reader) -> Partial | None:
    if not r.maybe_char(b"<"):
        return None
    offset = r.number64()
    r.char(b".")
    length = r.number64(nonzero=True)
    r.char(b">")
    return Partial(offset, length)


def _store(r: Reader, uid: bool = False) -> C.Store:
    r.sp()
    seqset = r.sequence_set()
    r.sp()
    unchanged_since: int | None = None
    if r.peek() == ord("("):
        # RFC 7162 §3.1.3: store-modifier "UNCHANGEDSINCE" SP mod-sequence-valzer
        r.pos += 1
        if r.keyword() != "UNCHANGEDSINCE":
            raise r.fail("Unknown STORE modifier")
        r.sp()
        unchanged_since = r.number64()
        r.char(b")")
        r.sp()
    mode = "SET"
    if r.maybe_char(b"+"):
        mode = "ADD"
    elif r.maybe_char(b"-"):
        mode = "REMOVE"
    word = r.word()
    if word not in ("FLAGS", "FLAGS.SILENT"):
        raise r.fail("Expected FLAGS or FLAGS.SILENT")
    r.sp()
    if r.peek() == ord("("):
        flags = r.flag_list()
    else:
        flag_items = [r.flag()]
        while r.maybe_sp():
            flag_items.append(r.flag())
        flags = tuple(flag_items)
    silent = word == "FLAGS.SILENT"
    return C.Store(r.tag, seqset, mode, flags, silent, uid, unchanged_since)  # type: ignore[arg-type]


def _copy_like(cls: type[C.Copy | C.Move]) -> Callable[[Reader, bool], C.Command]:
    def handler(r: Reader, uid: bool = False) -> C.Command:
        r.sp()
        seqset = r.sequence_set()
        r.sp()
        return cls(r.tag, seqset, r.mailbox(), uid)

    return handler


def _expunge(r: Reader, uid: bool = False) -> C.Expunge:
    if not uid:
        return C.Expunge(r.tag)
    r.sp()
    return C.Expunge(r.tag, r.sequence_set())


_copy = _copy_like(C.Copy)
_move = _copy_like(C.Move)
UID_COMMANDS: dict[str, UidHandler] = {
    "COPY": _copy,
    "MOVE": _move,
    "FETCH": _fetch,
    "STORE": _store,
    "EXPUNGE": _expunge,
}
COMMANDS: dict[str, Handler] = {
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": lambda r: _copy(r, False),
    "MOVE": lambda r: _move(r, False),
    "EXPUNGE": _expunge,
}
