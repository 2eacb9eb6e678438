"""The argument grammar of SEARCH (RFC 9051 §6.4.4; ESEARCH RFC 4731, SEARCHRES RFC 5182,
CONDSTORE MODSEQ RFC 7162, WITHIN RFC 5032, OBJECTID RFC 8474), SORT and THREAD (RFC 5256):
the search-key parser and the charsets it decodes strings in."""

from __future__ import annotations

import codecs
import re

from . import commands as C
from .errors import ImapParseError
from .parse_reader import Handler, Reader, UidHandler

_OBJECTID = re.compile(rb"[A-Za-z0-9_\-]{1,255}")  # RFC 8474 §4
_SEARCH_RETURN = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE"})
_SORT_KEYS = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)
_THREAD_ALGS = frozenset({"REFERENCES", "ORDEREDSUBJECT", "REFS"})
_FLAG_SEARCH = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "RECENT": ("\\Recent", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
    "UNRECENT": ("\\Recent", False),
    "OLD": ("\\Recent", False),  # rev1: OLD = NOT RECENT
}
_TEXT_SEARCH = frozenset({"BCC", "CC", "FROM", "SUBJECT", "TO", "BODY", "TEXT"})
_DATE_SEARCH = {
    "BEFORE": (False, "BEFORE"),
    "ON": (False, "ON"),
    "SINCE": (False, "SINCE"),
    "SENTBEFORE": (True, "BEFORE"),
    "SENTON": (True, "ON"),
    "SENTSINCE": (True, "SINCE"),
}
_MAX_DEPTH = 64
_BAD_CHARSET = "BADCHARSET (UTF-8 US-ASCII)"
_CHARSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-:.]{0,39}\Z")
# Python text codecs that are not MIME charsets (escape syntaxes, IDNA, ...).
_NOT_CHARSETS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined", "palmos"}
)


def _charset_codec(name: str) -> str | None:
    """The Python codec for a search charset, or None if we cannot decode it."""
    if not _CHARSET_NAME.match(name):
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    # bytes-to-bytes and str-to-str codecs (base64, rot13) are flagged as not text encodings.
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def _charset(r: Reader) -> str:
    name = r.decode(r.astring_bytes(), "ascii").upper()
    codec = _charset_codec(name)
    if codec is None:
        # RFC 9051 §6.4.4: an unsupported charset is answered NO [BADCHARSET].
        raise ImapParseError(r.tag, "Unsupported charset", _BAD_CHARSET, status="NO")
    r.charset = codec
    return name


def _search_keys(r: Reader) -> C.SearchKey:
    """``1*(SP search-key)`` after the command's options; several keys are ANDed."""
    keys = [_search_key(r)]
    while r.maybe_sp():
        keys.append(_search_key(r))
    return keys[0] if len(keys) == 1 else C.SearchAnd(tuple(keys))


def _search_key(r: Reader) -> C.SearchKey:
    r.depth += 1
    if r.depth > _MAX_DEPTH:
        raise r.fail("Search criteria nested too deeply")
    try:
        return _search_key_inner(r)
    finally:
        r.depth -= 1


def _search_key_inner(r: Reader) -> C.SearchKey:
    c = r.peek()
    if c == ord("("):
        r.pos += 1
        keys = [_search_key(r)]
        while not r.maybe_char(b")"):
            r.sp()
            keys.append(_search_key(r))
        return keys[0] if len(keys) == 1 else C.SearchAnd(tuple(keys))
    if c in (ord("*"), ord("$")) or ord("0") <= c <= ord("9"):
        return C.SearchSeq(r.sequence_set())
    name = r.keyword()
    if name == "ALL":
        return C.SearchAll()
    if name in _FLAG_SEARCH:
        flag, present = _FLAG_SEARCH[name]
        return C.SearchFlag(flag, present)
    if name == "NEW":  # rev1: RECENT UNSEEN
        return C.SearchAnd((C.SearchFlag("\\Recent"), C.SearchFlag("\\Seen", False)))
    if name in ("KEYWORD", "UNKEYWORD"):
        r.sp()
        return C.SearchFlag(r.flag(), name == "KEYWORD")
    if name in _TEXT_SEARCH:
        r.sp()
        return C.SearchText(name, r.search_string())  # type: ignore[arg-type]
    if name == "HEADER":
        r.sp()
        field = r.astring().upper()
        r.sp()
        return C.SearchHeader(field, r.search_string())
    if name in _DATE_SEARCH:
        sent, op = _DATE_SEARCH[name]
        r.sp()
        return C.SearchDate(sent, op, r.date())  # type: ignore[arg-type]
    if name in ("LARGER", "SMALLER"):
        r.sp()
        return C.SearchSize(name, r.number64())  # type: ignore[arg-type]
    if name == "NOT":
        r.sp()
        return C.SearchNot(_search_key(r))
    if name == "OR":
        r.sp()
        left = _search_key(r)
        r.sp()
        return C.SearchOr(left, _search_key(r))
    if name == "UID":
        r.sp()
        return C.SearchSeq(r.sequence_set(), uid=True)
    if name == "MODSEQ":
        return _search_modseq(r)
    if name in ("OLDER", "YOUNGER"):
        r.sp()
        return C.SearchAge(name, r.number(nonzero=True))  # type: ignore[arg-type]
    if name in ("EMAILID", "THREADID"):
        r.sp()
        oid = r._match(_OBJECTID, "an object id").decode("ascii")
        return C.SearchObjectId(name, oid)  # type: ignore[arg-type]
    raise r.fail(f"Unknown search key {name[:40]}")


def _search_modseq(r: Reader) -> C.SearchModSeq:
    # RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
    r.sp()
    entry: str | None = None
    entry_type: str | None = None
    if r.peek() == ord('"'):
        entry = r.decode(r.quoted())
        if not entry.lower().startswith("/flags/") or len(entry) <= 7:
            raise r.fail("Invalid MODSEQ entry name")
        r.sp()
        entry_type = r.keyword()
        if entry_type not in ("PRIV", "SHARED", "ALL"):
            raise r.fail("Invalid MODSEQ entry type")
        r.sp()
    return C.SearchModSeq(r.number64(), entry, entry_type)  # type: ignore[arg-type]


def _search(r: Reader, uid: bool = False) -> C.Search:
    r.sp()
    return_options: tuple[str, ...] | None = None
    charset: str | None = None
    if r.peek_keyword() == "RETURN":
        r.keyword()
        r.sp()

        def option() -> str:
            opt = r.keyword()
            if opt not in _SEARCH_RETURN:
                raise r.fail(f"Unknown SEARCH return option {opt[:40]}")
            return opt

        return_options = tuple(dict.fromkeys(r.paren_list(option)))
        r.sp()
    if r.peek_keyword() == "CHARSET":
        r.keyword()
        r.sp()
        charset = _charset(r)
        r.sp()
    return C.Search(r.tag, _search_keys(r), uid, charset, return_options)


def _sort(r: Reader, uid: bool = False) -> C.Sort:
    r.sp()

    def criterion() -> C.SortCriterion:
        key = r.keyword()
        reverse = key == "REVERSE"
        if reverse:
            r.sp()
            key = r.keyword()
        if key not in _SORT_KEYS:
            raise r.fail(f"Unknown sort key {key[:40]}")
        return C.SortCriterion(key, reverse)

    criteria = tuple(r.paren_list(criterion, allow_empty=False))
    r.sp()
    charset = _charset(r)
    r.sp()
    return C.Sort(r.tag, criteria, charset, _search_keys(r), uid)


def _thread(r: Reader, uid: bool = False) -> C.Thread:
    r.sp()
    algorithm = r.keyword()
    if algorithm not in _THREAD_ALGS:
        raise r.fail(f"Unknown threading algorithm {algorithm[:40]}")
    r.sp()
    charset = _charset(r)
    r.sp()
    return C.Thread(r.tag, algorithm, charset, _search_keys(r), uid)


UID_COMMANDS: dict[str, UidHandler] = {"SEARCH": _search, "SORT": _sort, "THREAD": _thread}
COMMANDS: dict[str, Handler] = {"SEARCH": _search, "SORT": _sort, "THREAD": _thread}
