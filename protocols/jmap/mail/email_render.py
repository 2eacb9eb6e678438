"""The JMAP Email object (RFC 8621 §4.1) rendered from a stored or parsed message: pure functions.

Input is a :class:`MessageSource` — the parsed message (:class:`ParsedMessage`, whose MIME tree
carries byte offsets), a loader for the raw octets (called only when a requested property needs
them: header forms, ``headers``, ``bodyValues``), the message's own blob id and, for a stored
email, its :class:`Email` record.  ``Email/parse`` (RFC 8621 §4.9) renders blobs that are not
stored emails: then ``email`` is None and ``id``/``mailboxIds``/``keywords``/``receivedAt``/
``threadId`` are null.

Blob ids of body parts
----------------------
A part's content (after transfer decoding) is not a stored blob of its own.  Its blob id is the
blob id of the message it belongs to, an underscore and the part's JMAP partId:
``b<sha256 hex of the message>_<partId>``.  Parts of a message that is itself a part (an
attached ``message/rfc822``, parsed by ``Email/parse``) extend the chain:
``b<sha>_<partId>_<partId>``.  Ids stay within the RFC 8620 §1.2 Id alphabet.  Download resolves
one with :func:`parse_part_blob_id` and :func:`part_content`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz
from typing import Any, Final

from protocols.jmap.core import MethodError, invalid_arguments
from protocols.mime import (
    MAX_DEPTH,
    MimePart,
    ParsedMessage,
    decode_body,
    decode_header_value,
    decode_text,
    parse_message,
    parse_message_ids,
)
from protocols.mime.address import jmap_addresses, parse_address_items
from protocols.mime.model import Address, HeaderField
from store.ids import blob_id, object_id, parse_blob_id
from store.models import Email

# -- part blob ids ---------------------------------------------------------------------------
_PART_SEP: Final = "_"
_PART_ID: Final = re.compile(r"[1-9][0-9]{0,5}")


def part_blob_id(email_blob_sha: bytes, part_id: str) -> str:
    """The blob id of part ``part_id`` of the message stored as blob ``email_blob_sha``."""
    return sub_blob_id(blob_id(email_blob_sha), part_id)


def sub_blob_id(base_blob_id: str, part_id: str) -> str:
    """The blob id of a part of the message whose blob id is ``base_blob_id``."""
    return f"{base_blob_id}{_PART_SEP}{part_id}"


def parse_part_blob_id(text: str) -> tuple[bytes, tuple[str, ...]] | None:
    """(message sha256, partId path) of a part blob id; None if ``text`` is not one."""
    head, sep, rest = text.partition(_PART_SEP)
    if not sep:
        return None
    sha = parse_blob_id(head)
    if sha is None:
        return None
    path = tuple(rest.split(_PART_SEP))
    if len(path) > MAX_DEPTH or not all(_PART_ID.fullmatch(p) for p in path):
        return None
    return sha, path


def part_content(
    raw: bytes,
    path: tuple[str, ...],
    *,
    parsed: ParsedMessage | None = None,
    parse: Callable[[bytes], ParsedMessage] = parse_message,
) -> tuple[bytes, MimePart] | None:
    """The transfer-decoded content of the part ``path`` names in message ``raw`` (and the
    part, for its type and name), or None.  Each step but the last must be a message part:
    its content is parsed as a message on its own, exactly as ``Email/parse`` of that part's
    blob would see it, so the part ids of both agree."""
    message = parsed if parsed is not None else parse(raw)
    buf = raw
    for depth, pid in enumerate(path):
        part = message.part(pid)
        if part is None or part.is_multipart:
            return None
        content = decode_body(buf, part)
        if depth == len(path) - 1:
            return content, part
        if part.type != "message":
            return None
        buf = content
        message = parse(content)
    return None


# -- properties ------------------------------------------------------------------------------
# RFC 8621 §4.2 (Email/get "properties" default).
DEFAULT_EMAIL_PROPERTIES: Final = (
    "id",
    "blobId",
    "threadId",
    "mailboxIds",
    "keywords",
    "size",
    "receivedAt",
    "messageId",
    "inReplyTo",
    "references",
    "sender",
    "from",
    "to",
    "cc",
    "bcc",
    "replyTo",
    "subject",
    "sentAt",
    "hasAttachment",
    "preview",
    "bodyValues",
    "textBody",
    "htmlBody",
    "attachments",
)
# Every Email property (§4.1): the default ones plus the two that are asked for by name only.
EMAIL_PROPERTIES: Final = frozenset({*DEFAULT_EMAIL_PROPERTIES, "headers", "bodyStructure"})
BODY_PART_PROPERTIES: Final = frozenset(
    {
        "partId",
        "blobId",
        "size",
        "headers",
        "name",
        "type",
        "charset",
        "disposition",
        "cid",
        "language",
        "location",
        "subParts",
    }
)
# RFC 8621 §4.2 (Email/get "bodyProperties" default).
DEFAULT_BODY_PROPERTIES: Final = (
    "partId",
    "blobId",
    "size",
    "name",
    "type",
    "charset",
    "disposition",
    "cid",
    "language",
    "location",
)

# -- header forms (RFC 8621 §4.1.2) ------------------------------------------------------------
RAW, TEXT, ADDRESSES, GROUPED, MESSAGE_IDS, DATE, URLS = (
    "Raw",
    "Text",
    "Addresses",
    "GroupedAddresses",
    "MessageIds",
    "Date",
    "URLs",
)
FORMS: Final = frozenset({RAW, TEXT, ADDRESSES, GROUPED, MESSAGE_IDS, DATE, URLS})

# Header fields whose value is an address list (RFC 8621 §4.1.2.3); Email/set builds with it too.
ADDRESS_FIELDS: Final = frozenset(
    {
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "bcc",
        "resent-from",
        "resent-sender",
        "resent-reply-to",
        "resent-to",
        "resent-cc",
        "resent-bcc",
    }
)
_ID_FIELDS = {"message-id", "in-reply-to", "references", "resent-message-id"}
_DATE_FIELDS = {"date", "resent-date"}
_URL_FIELDS = {
    "list-help",
    "list-unsubscribe",
    "list-subscribe",
    "list-post",
    "list-owner",
    "list-archive",
}
_TEXT_FIELDS = {"subject", "comments", "keywords", "list-id"}
_RAW_ONLY = {"return-path", "received"}
# Every field RFC 5322 or RFC 2369 defines: such a field allows only the forms listed for it;
# any other field allows every form (§4.1.2.1–§4.1.2.7 "any header field not defined in ...").
_DEFINED: Final = (
    ADDRESS_FIELDS | _ID_FIELDS | _DATE_FIELDS | _URL_FIELDS | _RAW_ONLY | {"subject"}
) | {"comments", "keywords"}
_FORM_FIELDS: Final = {
    TEXT: _TEXT_FIELDS,
    ADDRESSES: ADDRESS_FIELDS,
    GROUPED: ADDRESS_FIELDS,
    MESSAGE_IDS: _ID_FIELDS,
    DATE: _DATE_FIELDS,
    URLS: _URL_FIELDS,
}
_FIELD_NAME: Final = re.compile(r"[\x21-\x39\x3b-\x7e]+")


@dataclass(frozen=True, slots=True)
class HeaderProperty:
    """A parsed ``header:{name}[:as{form}][:all]`` property (§4.1.3)."""

    name: str  # lower case
    form: str
    all: bool


def form_allowed(name: str, form: str) -> bool:
    """§4.1.2: may header field ``name`` (lower case) be fetched in ``form``?"""
    if form == RAW:
        return True
    if name not in _DEFINED:
        return True
    return name in _FORM_FIELDS[form]


def parse_header_property(prop: str) -> HeaderProperty | None:
    """The header property ``prop`` names; None when ``prop`` is not a valid one (unknown form,
    bad field name, or a form the field does not allow, §4.1.2)."""
    pieces = prop.split(":")
    if len(pieces) < 2 or pieces[0] != "header" or len(pieces) > 4:
        return None
    name = pieces[1]
    if not _FIELD_NAME.fullmatch(name):
        return None
    rest = pieces[2:]
    want_all = False
    if rest and rest[-1] == "all":
        want_all = True
        rest = rest[:-1]
    form = RAW
    if rest:
        if len(rest) != 1 or not rest[0].startswith("as") or rest[0][2:] not in FORMS:
            return None
        form = rest[0][2:]
    lname = name.lower()
    if not form_allowed(lname, form):
        return None
    return HeaderProperty(lname, form, want_all)


def check_properties(
    properties: Iterable[str], known: Collection[str], *, argument: str = "properties"
) -> None:
    """``invalidArguments`` for an unknown property or a forbidden header form (§4.1.2: a
    forbidden form "MUST result in the method call being rejected with invalidArguments")."""
    bad = [
        p
        for p in properties
        if p not in known and not (p.startswith("header:") and parse_header_property(p))
    ]
    if bad:
        raise invalid_arguments(f"Invalid {argument}: {', '.join(bad)}.", arguments=[argument])


# -- header value forms ------------------------------------------------------------------------
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def raw_form(buf: bytes, h: HeaderField) -> str:
    """§4.1.2.1 Raw: the octets after the colon; invalid UTF-8 replaced, NUL dropped."""
    return buf[h.value_start : h.end].decode("utf-8", "replace").replace("\x00", "")


def _unfold(text: str) -> str:
    return _FOLD.sub("", text).replace("\r", "").replace("\n", "")


def text_form(raw: str) -> str:
    """§4.1.2.2 Text: unfold, decode RFC 2047 encoded words, trim, NFC."""
    return unicodedata.normalize("NFC", decode_header_value(_unfold(raw)).strip())


def addresses_form(raw: str) -> list[dict[str, Any]]:
    """§4.1.2.3 Addresses: groups flattened."""
    return [address_json(a) for a in jmap_addresses(parse_address_items(_unfold(raw)))]


def grouped_addresses_form(raw: str) -> list[dict[str, Any]]:
    """§4.1.2.4 GroupedAddresses: consecutive addresses outside a group form a group with a
    null name."""
    out: list[dict[str, Any]] = []
    loose: list[Any] = []
    for item in parse_address_items(_unfold(raw)):
        members = getattr(item, "members", None)
        if members is None:
            loose.append(item)
            continue
        if loose:
            out.append({"name": None, "addresses": addresses_json(jmap_addresses(loose))})
            loose = []
        name = getattr(item, "name", None)
        decoded = decode_header_value(name).strip() if name else None
        out.append({"name": decoded or None, "addresses": addresses_json(jmap_addresses(members))})
    if loose:
        out.append({"name": None, "addresses": addresses_json(jmap_addresses(loose))})
    return out


def message_ids_form(raw: str) -> list[str] | None:
    """§4.1.2.5 MessageIds: ids without angle brackets; null when none parse."""
    ids = parse_message_ids(_unfold(raw))
    return list(ids) if ids else None


def date_form(raw: str) -> str | None:
    """§4.1.2.6 Date: the RFC 5322 date as an RFC 3339 date-time keeping its zone offset."""
    value = _unfold(raw).strip()
    try:
        parsed = parsedate_tz(value)
    except Exception:  # noqa: BLE001 - parsedate_tz raises assorted errors on junk
        return None
    if parsed is None:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    offset = parsed[9] or 0
    try:
        tz = timezone(timedelta(seconds=offset)) if -86400 < offset < 86400 else UTC
        moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=tz)
    except (ValueError, OverflowError):
        return None
    return format_date(moment)


def format_date(moment: datetime) -> str:
    """RFC 8620 §1.4 Date: uppercase letters, no fractional seconds; "Z" for UTC."""
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def utc_date(seconds: int) -> str:
    """RFC 8620 §1.4 UTCDate."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_URL: Final = re.compile(r"<([^<>]*)>")


def urls_form(raw: str) -> list[str] | None:
    """§4.1.2.7 URLs: the URLs in angle brackets of a comma-separated list; null if none."""
    urls = ["".join(u.split()) for u in _URL.findall(_unfold(raw))]
    urls = [u for u in urls if u]
    return urls or None


def address_json(a: Address) -> dict[str, Any]:
    return {"name": a.name, "email": a.email}


def addresses_json(items: Iterable[Address]) -> list[dict[str, Any]]:
    return [address_json(a) for a in items]


def header_value(raw: str, form: str) -> Any:
    if form == RAW:
        return raw
    if form == TEXT:
        return text_form(raw)
    if form == ADDRESSES:
        return addresses_form(raw)
    if form == GROUPED:
        return grouped_addresses_form(raw)
    if form == MESSAGE_IDS:
        return message_ids_form(raw)
    if form == DATE:
        return date_form(raw)
    return urls_form(raw)


def header_property_value(buf: bytes, headers: Iterable[HeaderField], hp: HeaderProperty) -> Any:
    """§4.1.3: the last instance (null when absent), or with ``:all`` every instance in order."""
    matching = [h for h in headers if h.name.lower() == hp.name]
    if hp.all:
        return [header_value(raw_form(buf, h), hp.form) for h in matching]
    if not matching:
        return None
    return header_value(raw_form(buf, matching[-1]), hp.form)


# -- the source and options --------------------------------------------------------------------
class MessageSource:
    """One message to render: parsed form, lazy raw octets, blob id and (stored) record."""

    __slots__ = ("_load_raw", "_raw", "blob_id", "email", "parsed", "thread_id")

    def __init__(
        self,
        parsed: ParsedMessage,
        raw: bytes | Callable[[], bytes],
        blob_id: str,
        email: Email | None = None,
        thread_id: int | None = None,
    ) -> None:
        self.parsed = parsed
        self.blob_id = blob_id
        self.email = email
        # Email/parse may know the thread a blob would join (§4.9); a stored email has its own.
        self.thread_id = email.thread_id if email is not None else thread_id
        if isinstance(raw, bytes):
            self._raw: bytes | None = raw
            self._load_raw: Callable[[], bytes] | None = None
        else:
            self._raw = None
            self._load_raw = raw

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            assert self._load_raw is not None
            self._raw = self._load_raw()
        return self._raw


@dataclass(frozen=True, slots=True)
class BodyOptions:
    """Email/get's body arguments (§4.2)."""

    properties: tuple[str, ...] = DEFAULT_BODY_PROPERTIES
    fetch_text: bool = False
    fetch_html: bool = False
    fetch_all: bool = False
    max_bytes: int = 0  # 0 = no limit
    header_props: dict[str, HeaderProperty] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        properties: tuple[str, ...] = DEFAULT_BODY_PROPERTIES,
        *,
        fetch_text: bool = False,
        fetch_html: bool = False,
        fetch_all: bool = False,
        max_bytes: int = 0,
    ) -> BodyOptions:
        return _body_options(properties, fetch_text, fetch_html, fetch_all, max_bytes)


@functools.lru_cache(maxsize=256)  # clients repeat the same few argument sets on every request
def _body_options(
    properties: tuple[str, ...], fetch_text: bool, fetch_html: bool, fetch_all: bool, max_bytes: int
) -> BodyOptions:
    check_properties(properties, BODY_PART_PROPERTIES, argument="bodyProperties")
    headers = {p: hp for p in properties if (hp := parse_header_property(p)) is not None}
    return BodyOptions(properties, fetch_text, fetch_html, fetch_all, max_bytes, headers)


# -- pre-encoded objects -----------------------------------------------------------------------
class PreEncoded(dict[str, Any]):
    """A rendered object that also carries its compact JSON encoding (what
    ``protocols.jmap.core.jsonio.dumps`` gives for it), so that a response writer can splice the
    bytes instead of encoding the object again.  It is an ordinary dict to everything else
    (result references, WebSocket responses).  Instances may be shared between responses
    through a cache: treat them as read-only."""

    __slots__ = ("encoded",)

    def __init__(self, value: dict[str, Any], encoded: bytes) -> None:
        super().__init__(value)
        self.encoded = encoded


class PreEncodedList(list[Any]):
    """A list of :class:`PreEncoded` objects with the encoding of the whole list (``[...]``).
    Like :class:`PreEncoded`, it is an ordinary list to everything but a response writer."""

    __slots__ = ("encoded",)

    def __init__(self, items: Iterable[PreEncoded]) -> None:
        super().__init__(items)
        self.encoded = b"[" + b",".join(item.encoded for item in self) + b"]"


# -- rendering -------------------------------------------------------------------------------
# Convenience properties (§4.1.3) and the header field / form they are shorthand for.
_CONVENIENCE: Final = {
    "messageId": ("message-id", MESSAGE_IDS),
    "inReplyTo": ("in-reply-to", MESSAGE_IDS),
    "references": ("references", MESSAGE_IDS),
    "sender": ("sender", ADDRESSES),
    "from": ("from", ADDRESSES),
    "to": ("to", ADDRESSES),
    "cc": ("cc", ADDRESSES),
    "bcc": ("bcc", ADDRESSES),
    "replyTo": ("reply-to", ADDRESSES),
    "subject": ("subject", TEXT),
    "sentAt": ("date", DATE),
}
_PARSED_ADDRESSES: Final = {
    "sender": "sender",
    "from": "from_",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
    "replyTo": "reply_to",
}
_PARSED_IDS: Final = {"messageId": "message_id", "inReplyTo": "in_reply_to"}


def _header_count(parsed: ParsedMessage, name: str) -> int:
    return sum(1 for h in parsed.headers if h.name.lower() == name)


def _convenience(src: MessageSource, prop: str) -> Any:
    """A §4.1.3 convenience property.  The parser already extracted most of them from the last
    instance of each field; those are used when the field occurs (the raw message is only read
    when the parsed form cannot answer exactly, e.g. sentAt with its zone offset)."""
    name, form = _CONVENIENCE[prop]
    parsed = src.parsed
    count = _header_count(parsed, name)
    if count == 0:
        return None
    if prop in _PARSED_ADDRESSES:
        return addresses_json(getattr(parsed, _PARSED_ADDRESSES[prop]))
    if prop in _PARSED_IDS:
        ids = getattr(parsed, _PARSED_IDS[prop])
        return list(ids) if ids else None
    if prop == "sentAt" and count == 1 and parsed.envelope.date is not None:
        return date_form(parsed.envelope.date)
    if prop == "subject" and parsed.subject is not None:
        return unicodedata.normalize("NFC", parsed.subject)
    return header_property_value(src.raw, parsed.headers, HeaderProperty(name, form, False))


def render_email(
    src: MessageSource, properties: Iterable[str], body: BodyOptions | None = None
) -> dict[str, Any]:
    """The Email object with exactly ``properties`` (validated by :func:`check_properties`)."""
    body = body or BodyOptions()
    parsed = src.parsed
    email = src.email
    out: dict[str, Any] = {}
    for prop in properties:
        if prop == "id":
            out[prop] = object_id("email", email.id) if email is not None else None
        elif prop == "blobId":
            out[prop] = src.blob_id
        elif prop == "threadId":
            out[prop] = object_id("thread", src.thread_id) if src.thread_id is not None else None
        elif prop == "mailboxIds":
            out[prop] = (
                {object_id("mailbox", m): True for m, _ in email.mailboxes} if email else None
            )
        elif prop == "keywords":
            out[prop] = {k: True for k in email.keywords} if email is not None else None
        elif prop == "size":
            out[prop] = email.size if email is not None else parsed.size
        elif prop == "receivedAt":
            out[prop] = utc_date(email.received_at) if email is not None else None
        elif prop == "headers":
            out[prop] = [{"name": h.name, "value": raw_form(src.raw, h)} for h in parsed.headers]
        elif prop in _CONVENIENCE:
            out[prop] = _convenience(src, prop)
        elif prop == "bodyStructure":
            out[prop] = _part_json(src, parsed.root, body, tree=True)
        elif prop in ("textBody", "htmlBody", "attachments"):
            ids = {"textBody": parsed.text_body, "htmlBody": parsed.html_body}.get(
                prop, parsed.attachments
            )
            out[prop] = _parts_json(src, ids, body)
        elif prop == "bodyValues":
            out[prop] = body_values(src, body)
        elif prop == "hasAttachment":
            out[prop] = parsed.has_attachment
        elif prop == "preview":
            out[prop] = parsed.preview
        else:
            hp = parse_header_property(prop)
            if hp is None:
                raise invalid_arguments(f"Invalid property {prop!r}.", arguments=["properties"])
            out[prop] = header_property_value(src.raw, parsed.headers, hp)
    return out


def _parts_json(src: MessageSource, ids: Iterable[str], body: BodyOptions) -> list[Any]:
    by_id = {p.part_id: p for p in src.parsed.parts()}
    return [_part_json(src, by_id[i], body, tree=False) for i in ids if i in by_id]


def _part_json(
    src: MessageSource, part: MimePart, body: BodyOptions, *, tree: bool
) -> dict[str, Any]:
    """An EmailBodyPart (§4.1.4); multipart parts have null partId and blobId."""
    multipart = part.is_multipart
    out: dict[str, Any] = {}
    for prop in body.properties:
        if prop == "partId":
            out[prop] = None if multipart else part.part_id
        elif prop == "blobId":
            out[prop] = None if multipart else sub_blob_id(src.blob_id, part.part_id)
        elif prop == "size":
            out[prop] = 0 if multipart else part.decoded_size
        elif prop == "headers":
            out[prop] = [{"name": h.name, "value": raw_form(src.raw, h)} for h in part.headers]
        elif prop == "name":
            out[prop] = part.name
        elif prop == "type":
            out[prop] = part.mime_type
        elif prop == "charset":
            out[prop] = part.charset if part.type == "text" else None
        elif prop == "disposition":
            out[prop] = part.disposition
        elif prop == "cid":
            out[prop] = part.cid
        elif prop == "language":
            out[prop] = list(part.language) if part.language else None
        elif prop == "location":
            out[prop] = part.location
        elif prop == "subParts":
            out[prop] = _sub_parts(src, part, body, tree)
        else:
            hp = body.header_props.get(prop) or parse_header_property(prop)
            if hp is None:
                raise MethodError("invalidArguments", f"Invalid body property {prop!r}.")
            out[prop] = header_property_value(src.raw, part.headers, hp)
    if tree and multipart and "subParts" not in out:
        # bodyStructure is "the full MIME structure" (RFC 8621 §4.1.4), so a multipart part
        # carries its subParts even when bodyProperties (default: §4.2's list, which lacks
        # subParts) does not name it, as Cyrus and Stalwart do; see docs/jmap.md.
        out["subParts"] = _sub_parts(src, part, body, tree)
    return out


def _sub_parts(
    src: MessageSource, part: MimePart, body: BodyOptions, tree: bool
) -> list[Any] | None:
    if not part.is_multipart:
        return None
    return [_part_json(src, p, body, tree=True) for p in part.parts] if tree else []


def body_values(src: MessageSource, body: BodyOptions) -> dict[str, Any]:
    """§4.1.4 bodyValues for the parts the fetch*BodyValues arguments select (text/* only):
    §4.2 fetchTextBodyValues the textBody parts, fetchHTMLBodyValues the htmlBody parts,
    fetchAllBodyValues "any text/* part in the bodyStructure property"."""
    parsed = src.parsed
    wanted: list[str] = []
    if body.fetch_text:
        wanted.extend(parsed.text_body)
    if body.fetch_html:
        wanted.extend(parsed.html_body)
    parts = parsed.parts()
    if body.fetch_all:
        wanted.extend(p.part_id for p in parts if p.type == "text" and not p.is_multipart)
    if not wanted:
        return {}
    by_id = {p.part_id: p for p in parts}
    out: dict[str, Any] = {}
    for pid in dict.fromkeys(wanted):
        part = by_id.get(pid)
        if part is None or part.type != "text":
            continue
        out[pid] = body_value(src.raw, part, body.max_bytes)
    return out


def body_value(raw: bytes, part: MimePart, max_bytes: int) -> dict[str, Any]:
    """EmailBodyValue (RFC 8621 §4.1.4): the decoded text "with any CRLF replaced with a single
    LF", ``isEncodingProblem`` when octets could not be decoded in the declared charset,
    ``isTruncated`` when cut (§4.2 maxBodyValueBytes) to ``max_bytes`` UTF-8 octets of that
    value: never inside a character, and for text/html not inside a tag (§4.2 SHOULD NOT)."""
    data = decode_body(raw, part)
    text = decode_text(data, part.charset).replace("\r\n", "\n")
    problem = "\ufffd" in text and b"\xef\xbf\xbd" not in data
    truncated = False
    if max_bytes > 0:
        encoded = text.encode("utf-8")
        if len(encoded) > max_bytes:
            text = encoded[:max_bytes].decode("utf-8", "ignore")
            if part.subtype == "html":
                tag = text.rfind("<")
                if tag > text.rfind(">"):
                    text = text[:tag]
            truncated = True
    return {"value": text, "isEncodingProblem": problem, "isTruncated": truncated}
