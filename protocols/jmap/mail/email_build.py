"""Building an RFC 5322 message from a JMAP Email create object (RFC 8621 §4.6).

:func:`build_message` validates the header and body properties with the rules of §4.6 and
returns the message bytes (CRLF line endings throughout).  Failures are
:class:`~protocols.jmap.core.SetError` values: ``invalidProperties`` naming the offending
property, or ``blobNotFound`` with ``notFound`` listing the blob ids that are not accessible.

Structure when the client gives ``textBody``/``htmlBody``/``attachments`` (§4.6): text and HTML
become ``multipart/alternative``; inline attachments with a ``cid`` go with the HTML in a
``multipart/related``; other attachments wrap the whole in ``multipart/mixed``.  Header values are
encoded per their parsed form (§4.1.2): RFC 2047 encoded words for non-ASCII text and display
names, RFC 2231 for non-ASCII file names.  Bodies from ``bodyValues`` are UTF-8, 7bit when that
is legal and quoted-printable otherwise; blobs are 7bit when they are plain CRLF ASCII text,
8bit for ``message/*`` (RFC 2046 §5.2.1 forbids encoding them) and base64 otherwise.
``Date``, ``Message-ID`` and ``MIME-Version`` are added when missing.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

from ..core import InvalidProperties, SetError
from .email_render import ADDRESS_FIELDS

# -- header forms (RFC 8621 §4.1.2) --------------------------------------------------------------
MESSAGE_ID_FIELDS: Final = frozenset(
    {"message-id", "in-reply-to", "references", "resent-message-id"}
)
DATE_FIELDS: Final = frozenset({"date", "resent-date"})
TEXT_FIELDS: Final = frozenset({"subject", "comments", "keywords", "list-id"})
URL_FIELDS: Final = frozenset(
    {"list-help", "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive"}
)
# Fields defined by RFC 5322 / RFC 2369: only their own forms (and Raw) are allowed on them.
KNOWN_FIELDS: Final = (
    ADDRESS_FIELDS
    | MESSAGE_ID_FIELDS
    | DATE_FIELDS
    | TEXT_FIELDS
    | URL_FIELDS
    | frozenset({"return-path", "received"})
)
FORMS: Final = {
    "asRaw": "Raw",
    "asText": "Text",
    "asAddresses": "Addresses",
    "asGroupedAddresses": "GroupedAddresses",
    "asMessageIds": "MessageIds",
    "asDate": "Date",
    "asURLs": "URLs",
}
_FORM_FIELDS: Final = {
    "Addresses": ADDRESS_FIELDS,
    "GroupedAddresses": ADDRESS_FIELDS,
    "MessageIds": MESSAGE_ID_FIELDS,
    "Date": DATE_FIELDS,
    "Text": TEXT_FIELDS,
    "URLs": URL_FIELDS,
}
# Email convenience properties → (header field, form) (§4.1.3).
CONVENIENCE: Final = {
    "messageId": ("Message-ID", "MessageIds"),
    "inReplyTo": ("In-Reply-To", "MessageIds"),
    "references": ("References", "MessageIds"),
    "sender": ("Sender", "Addresses"),
    "from": ("From", "Addresses"),
    "to": ("To", "Addresses"),
    "cc": ("Cc", "Addresses"),
    "bcc": ("Bcc", "Addresses"),
    "replyTo": ("Reply-To", "Addresses"),
    "subject": ("Subject", "Text"),
    "sentAt": ("Date", "Date"),
}
BODY_PROPERTIES: Final = frozenset({"bodyStructure", "textBody", "htmlBody", "attachments"})
# Email properties that describe the stored email, not the message (handled by Email/set).
ENVELOPE_PROPERTIES: Final = frozenset({"mailboxIds", "keywords", "receivedAt"})
PART_PROPERTIES: Final = frozenset(
    {
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
        "subParts",
    }
)
MAX_DEPTH: Final = 16
_FIELD_NAME: Final = re.compile(r"[!-9;-~]+")  # RFC 5322 §3.6.8 ftext
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 2045 token
_ATEXT_PHRASE: Final = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]*")
_BAD_ADDR: Final = re.compile(r"[\s<>,;\"()\\]")
_FOLD_POINT: Final = re.compile(r"\S ")


def invalid(prop: str, description: str) -> SetError:
    return SetError("invalidProperties", description, properties=[prop])


# -- encoding primitives -------------------------------------------------------------------------
def _encoded_words(text: str) -> list[str]:
    """RFC 2047 "B" encoded words of at most 75 characters, split on character boundaries."""
    words: list[str] = []
    chunk = ""
    for char in text:
        if len((chunk + char).encode()) > 45:  # 45 octets → 60 base64 chars + 12 of wrapper
            words.append(chunk)
            chunk = ""
        chunk += char
    if chunk:
        words.append(chunk)
    return ["=?UTF-8?B?" + base64.b64encode(w.encode()).decode() + "?=" for w in words]


def _needs_encoding(text: str) -> bool:
    return not text.isascii() or "=?" in text or any(ord(c) < 0x20 and c != "\t" for c in text)


def encode_text(text: str) -> str:
    """An unstructured value (RFC 5322 §3.2.5): as is when ASCII, else encoded words."""
    text = re.sub(r"\r\n|\r|\n", " ", text)
    if not _needs_encoding(text):
        return text
    return " ".join(_encoded_words(text))


def encode_phrase(name: str) -> str:
    """A display name (RFC 5322 §3.2.5 phrase): atoms, a quoted-string, or encoded words."""
    name = re.sub(r"[\r\n]+", " ", name)
    if _needs_encoding(name):
        return " ".join(_encoded_words(name))
    if _ATEXT_PHRASE.fullmatch(name) and name.strip() == name and "  " not in name:
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fold(name: str, value: str) -> str:
    """``Name: value`` folded before spaces into lines of at most 78 characters where possible
    (RFC 5322 §2.2.3).  Only CRLFs are inserted, so unfolding gives back the value exactly, and
    no folded line is white space only."""
    line = f"{name}: {value}"
    if len(line) <= 78:
        return line
    lines: list[str] = []
    current, rest = f"{name}:", " " + value
    while len(current) + len(rest) > 78:
        cut = rest.rfind(" ", 1, 78 - len(current) + 1)
        if cut <= 0 or not rest[:cut].strip():
            # Nothing fits: break at the first space after some text (a long word stays whole).
            match = _FOLD_POINT.search(rest)
            if match is None:
                break
            cut = match.end() - 1
        lines.append(current + rest[:cut])
        current, rest = "", rest[cut:]
    lines.append(current + rest)
    return "\r\n".join(lines)


def _address(obj: Any, prop: str) -> str:
    if not isinstance(obj, dict) or not isinstance(obj.get("email"), str):
        raise invalid(prop, "An EmailAddress needs an 'email' string.")
    if set(obj) - {"name", "email"}:
        raise invalid(prop, "An EmailAddress has only 'name' and 'email'.")
    addr = obj["email"]
    if not addr or _BAD_ADDR.search(addr) or addr.count("@") != 1:
        raise invalid(prop, f"{addr!r} is not an email address.")
    name = obj.get("name")
    if name is not None and not isinstance(name, str):
        raise invalid(prop, "An EmailAddress name must be a string or null.")
    return f"{encode_phrase(name)} <{addr}>" if name else addr


def _address_list(value: Any, prop: str) -> str:
    if not isinstance(value, list):
        raise invalid(prop, "Expected an array of EmailAddress.")
    return ", ".join(_address(a, prop) for a in value)


def _grouped(value: Any, prop: str) -> str:
    if not isinstance(value, list):
        raise invalid(prop, "Expected an array of EmailAddressGroup.")
    out: list[str] = []
    for group in value:
        if not isinstance(group, dict) or set(group) - {"name", "addresses"}:
            raise invalid(prop, "An EmailAddressGroup has 'name' and 'addresses'.")
        members = _address_list(group.get("addresses"), prop)
        name = group.get("name")
        if name is None:
            if members:
                out.append(members)
        elif isinstance(name, str):
            out.append(f"{encode_phrase(name)}: {members};")
        else:
            raise invalid(prop, "A group name must be a string or null.")
    return ", ".join(out)


def _message_ids(value: Any, prop: str) -> str:
    if not isinstance(value, list) or not value:
        raise invalid(prop, "Expected a non-empty array of message ids.")
    for ident in value:
        if not isinstance(ident, str) or not ident or re.search(r"[\s<>]", ident):
            raise invalid(prop, f"{ident!r} is not a message id.")
    return " ".join(f"<{i}>" for i in value)


def utc_date(value: Any) -> datetime | None:
    """An RFC 3339 date-time with an offset (RFC 8620 §1.4 Date/UTCDate), or None."""
    if not isinstance(value, str) or not re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value
    ):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed


def _date(value: Any, prop: str) -> str:
    parsed = utc_date(value)
    if parsed is None:
        raise invalid(prop, "Expected an RFC 3339 date-time with a time zone.")
    return email.utils.format_datetime(parsed)


def _urls(value: Any, prop: str) -> str:
    if not isinstance(value, list) or not all(
        isinstance(u, str) and u and not re.search(r"[\s<>]", u) for u in value
    ):
        raise invalid(prop, "Expected an array of URLs.")
    return ", ".join(f"<{u}>" for u in value)


def _raw(value: Any, prop: str) -> str:
    if not isinstance(value, str):
        raise invalid(prop, "A Raw header value must be a string.")
    # Only folding line breaks (followed by white space) may appear: no header injection.
    if re.search(r"\r(?!\n)|(?<!\r)\n|\r\n(?![ \t])", value):
        raise invalid(prop, "A Raw header value may only contain folding line breaks.")
    return value


def encode_form(form: str, value: Any, prop: str) -> str:
    """A header value in parsed form ``form`` → its wire text (without the field name)."""
    if form == "Raw":
        return _raw(value, prop)
    if form == "Text":
        if not isinstance(value, str):
            raise invalid(prop, "A Text header value must be a string.")
        return encode_text(value)
    if form == "Addresses":
        return _address_list(value, prop)
    if form == "GroupedAddresses":
        return _grouped(value, prop)
    if form == "MessageIds":
        return _message_ids(value, prop)
    if form == "Date":
        return _date(value, prop)
    return _urls(value, prop)


@dataclass(frozen=True, slots=True)
class HeaderProp:
    name: str  # field name as the client wrote it
    form: str
    all: bool


def parse_header_property(prop: str) -> HeaderProp | None:
    """``header:Name[:asForm][:all]`` (§4.1.3) → its parts; None when malformed."""
    parts = prop.split(":")
    if parts[0] != "header" or len(parts) < 2 or len(parts) > 4:
        return None
    name, rest = parts[1], parts[2:]
    if not _FIELD_NAME.fullmatch(name):
        return None
    is_all = bool(rest) and rest[-1] == "all"
    if is_all:
        rest = rest[:-1]
    if len(rest) > 1 or (rest and rest[0] not in FORMS):
        return None
    return HeaderProp(name, FORMS[rest[0]] if rest else "Raw", is_all)


def form_allowed(form: str, field: str) -> bool:
    """§4.1.2: a parsed form may be used on its own fields and on fields RFC 5322/2369 do not
    define; Raw is allowed everywhere."""
    lower = field.lower()
    if form == "Raw" or lower in _FORM_FIELDS[form]:
        return True
    return lower not in KNOWN_FIELDS


def header_lines(
    obj: Mapping[str, Any], *, top_level: bool, prefix: str = ""
) -> list[tuple[str, str]]:
    """(lower-case field name, folded header line) for every header property of ``obj``.

    Raises one ``invalidProperties`` naming every malformed property, form not allowed on its
    field, second property for the same field, ``headers`` itself, and (``top_level``) any
    Content-* field; each as ``prefix`` + property (``bodyStructure/header:...``)."""
    out: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    problems = InvalidProperties()
    for prop, value in obj.items():
        with problems.collecting():
            out.extend(_header_line(prop, value, prefix + prop, top_level, seen))
    problems.check()
    return out


def _header_line(
    prop: str, value: Any, path: str, top_level: bool, seen: dict[str, str]
) -> list[tuple[str, str]]:
    if prop == "headers":
        raise invalid(path, "Set header fields as individual properties (§4.6).")
    if prop in CONVENIENCE and top_level:
        field, form = CONVENIENCE[prop]
        is_all = False
    elif prop.startswith("header:"):
        parsed = parse_header_property(prop)
        if parsed is None:
            raise invalid(path, f"{prop!r} is not a header property.")
        field, form, is_all = parsed.name, parsed.form, parsed.all
    else:
        return []
    lower = field.lower()
    if top_level and lower.startswith("content-"):
        raise invalid(path, "Content-* header fields belong on body parts (§4.6).")
    if lower == "content-transfer-encoding":
        raise invalid(path, "Content-Transfer-Encoding is chosen by the server (§4.6).")
    if not form_allowed(form, field):
        raise invalid(path, f"The {form} form is not allowed on {field} (§4.1.2).")
    if lower in seen:
        raise invalid(path, f"{prop!r} and {seen[lower]!r} set the same header field.")
    seen[lower] = prop
    if value is None:
        return []
    if is_all and not isinstance(value, list):
        raise invalid(path, "An :all header property takes an array.")
    out: list[tuple[str, str]] = []
    for item in value if is_all else [value]:
        text = encode_form(form, item, path)
        out.append((lower, f"{field}:{text}" if form == "Raw" else fold(field, text)))
    return out


# -- body encodings ------------------------------------------------------------------------------
def normalize_newlines(text: str) -> str:
    return re.sub(r"\r\n|\r|\n", "\r\n", text)


def _is_7bit_text(data: bytes) -> bool:
    if not data.isascii() or b"\0" in data:
        return False
    lines = data.split(b"\r\n")
    return all(b"\r" not in ln and b"\n" not in ln and len(ln) <= 998 for ln in lines)


def quoted_printable(data: bytes) -> bytes:
    """RFC 2045 §6.7 quoted-printable of CRLF text: soft breaks keep lines within 76 chars."""
    out: list[bytes] = []
    for line in data.split(b"\r\n"):
        encoded = binascii.b2a_qp(line, quotetabs=False, istext=False, header=False)
        # b2a_qp soft-wraps with "=\n"; the message uses CRLF.
        out.append(encoded.replace(b"=\n", b"=\r\n"))
    return b"\r\n".join(out)


def base64_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n").rstrip(b"\r\n")


# -- body parts ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Entity:
    """A rendered MIME entity: its Content-* header lines and its (encoded) body."""

    headers: tuple[str, ...]
    body: bytes

    def to_bytes(self) -> bytes:
        head = "".join(h + "\r\n" for h in self.headers).encode()
        return head + b"\r\n" + self.body


BlobReader = Callable[[str], bytes | None]


def _param(name: str, value: str) -> str:
    if value.isascii() and not any(ord(c) < 0x20 for c in value):
        if _TOKEN.fullmatch(value):
            return f"{name}={value}"
        return f'{name}="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name}*=utf-8''{quote(value, safe='')}"  # RFC 2231 §4


def _multipart(subtype: str, parts: list[Entity], extra: Iterable[str] = ()) -> Entity:
    boundary = "=_" + secrets.token_hex(16)
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p.to_bytes() + b"\r\n" for p in parts)
    body += b"--" + boundary.encode() + b"--\r\n"
    return Entity((f'Content-Type: multipart/{subtype}; boundary="{boundary}"', *extra), body)


_EMPTY: Final = Entity((), b"")


@dataclass
class PartBuilder:
    """Renders EmailBodyPart create objects.  Every invalid property found on the way goes
    into ``problems`` (its path from the Email, RFC 8620 §5.3) and the part is rendered as
    well as it can be, so that one pass finds them all; blob ids that are not accessible go
    into ``missing``."""

    body_values: Mapping[str, Any]
    read_blob: BlobReader
    missing: list[str]
    problems: InvalidProperties = field(default_factory=InvalidProperties)

    def bad(self, path: str, description: str) -> None:
        self.problems.add(path, description)

    def build(self, part: Any, prop: str, depth: int = 0) -> Entity:
        if not isinstance(part, dict):
            self.bad(prop, "An EmailBodyPart must be an object.")
            return _EMPTY
        if depth > MAX_DEPTH:
            self.bad(prop, "Body parts are nested too deeply.")
            return _EMPTY
        for key in part:
            if key not in PART_PROPERTIES and not key.startswith("header:"):
                self.bad(f"{prop}/{key}", f"{key!r} cannot be set on a body part.")
        extra: list[tuple[str, str]] = []
        with self.problems.collecting():
            extra = header_lines(part, top_level=False, prefix=f"{prop}/")
        fields = {name for name, _ in extra}
        for key, field_name in (
            ("type", "content-type"),
            ("name", "content-type"),
            ("charset", "content-type"),
            ("disposition", "content-disposition"),
            ("cid", "content-id"),
            ("language", "content-language"),
            ("location", "content-location"),
        ):
            if part.get(key) is not None and field_name in fields:
                self.bad(f"{prop}/{key}", f"{key!r} and header:{field_name} both set it.")
        mime_type = part.get("type")
        if mime_type is not None and (
            not isinstance(mime_type, str) or not re.fullmatch(r"[\w.+-]+/[\w.+-]+", mime_type)
        ):
            self.bad(f"{prop}/type", "type must be a MIME type.")
            mime_type = None
        headers = [line for _, line in extra]
        if "subParts" in part and part["subParts"] is not None:
            return self._multipart(part, prop, mime_type, headers, depth)
        return self._leaf(part, prop, mime_type, headers)

    def _multipart(
        self, part: dict[str, Any], prop: str, mime_type: str | None, headers: list[str], depth: int
    ) -> Entity:
        mime_type = (mime_type or "multipart/mixed").lower()
        if not mime_type.startswith("multipart/"):
            self.bad(f"{prop}/subParts", "Only multipart/* parts have subParts.")
            mime_type = "multipart/mixed"
        for key in ("partId", "blobId"):
            if part.get(key) is not None:
                self.bad(f"{prop}/{key}", f"A multipart part has no {key}.")
        subs = part["subParts"]
        if not isinstance(subs, list):
            self.bad(f"{prop}/subParts", "subParts must be an array.")
            subs = []
        built = [self.build(s, f"{prop}/subParts/{i}", depth + 1) for i, s in enumerate(subs)]
        return _multipart(mime_type.split("/", 1)[1], built, headers + self._common(part, prop))

    def _common(self, part: Mapping[str, Any], prop: str) -> list[str]:
        out: list[str] = []
        disposition = part.get("disposition")
        if disposition is not None:
            if not isinstance(disposition, str) or not _TOKEN.fullmatch(disposition):
                self.bad(f"{prop}/disposition", "disposition must be a token.")
            else:
                value = disposition
                if isinstance(part.get("name"), str):
                    value += "; " + _param("filename", part["name"])
                out.append(fold("Content-Disposition", value))
        cid = part.get("cid")
        if cid is not None:
            if not isinstance(cid, str) or not cid or re.search(r"[\s<>]", cid):
                self.bad(f"{prop}/cid", "cid must be a Content-ID without angle brackets.")
            else:
                out.append(f"Content-ID: <{cid}>")
        language = part.get("language")
        if language is not None:
            if not isinstance(language, list) or not all(
                isinstance(t, str) and _TOKEN.fullmatch(t) for t in language
            ):
                self.bad(f"{prop}/language", "language must be an array of language tags.")
            else:
                out.append(fold("Content-Language", ", ".join(language)))
        location = part.get("location")
        if location is not None:
            if not isinstance(location, str) or re.search(r"\s", location):
                self.bad(f"{prop}/location", "location must be a URI.")
            else:
                out.append(f"Content-Location: {location}")
        return out

    def _leaf(
        self, part: dict[str, Any], prop: str, mime_type: str | None, headers: list[str]
    ) -> Entity:
        part_id, blob_id = part.get("partId"), part.get("blobId")
        if (part_id is None) == (blob_id is None):
            # §4.6: exactly one of partId and blobId.
            for key in ("partId", "blobId"):
                self.bad(f"{prop}/{key}", "A body part needs exactly one of partId and blobId.")
            self._common(part, prop)  # still checked: every invalid property is reported
            return _EMPTY
        charset = part.get("charset")
        if part_id is not None:
            # §4.6: charset and size MUST be omitted when the content is in bodyValues.
            for key in ("charset", "size"):
                if part.get(key) is not None:
                    self.bad(f"{prop}/{key}", f"{key} must be omitted with partId (§4.6).")
            data, charset, mime_type = (
                self._value(part_id, prop),
                "utf-8",
                mime_type or "text/plain",
            )
            if not mime_type.lower().startswith("text/"):
                self.bad(f"{prop}/type", "A part from bodyValues must be text/*.")
        else:
            if not isinstance(blob_id, str):
                self.bad(f"{prop}/blobId", "blobId must be a string.")
                self._common(part, prop)
                return _EMPTY
            blob = self.read_blob(blob_id)
            if blob is None:
                self.missing.append(blob_id)
                blob = b""
            data, mime_type = blob, mime_type or "application/octet-stream"
            if charset is not None and (
                not isinstance(charset, str) or not _TOKEN.fullmatch(charset)
            ):
                self.bad(f"{prop}/charset", "charset must be a charset name.")
                charset = None
        lower = mime_type.lower()
        content_type = lower
        if lower.startswith("text/") and charset:
            content_type += "; " + _param("charset", charset)
        if isinstance(part.get("name"), str):
            content_type += "; " + _param("name", part["name"])
        elif part.get("name") is not None:
            self.bad(f"{prop}/name", "name must be a string.")
        if lower.startswith("message/"):
            encoding, body = ("7bit" if data.isascii() else "8bit"), data
        elif _is_7bit_text(data):
            encoding, body = "7bit", data
        elif lower.startswith("text/") and part_id is not None:
            encoding, body = "quoted-printable", quoted_printable(data)
        else:
            encoding, body = "base64", base64_lines(data)
        if encoding == "base64" and body:
            body += b"\r\n"  # decoders ignore it; a text body is kept exactly as given
        lines = [fold("Content-Type", content_type), f"Content-Transfer-Encoding: {encoding}"]
        return Entity((*lines, *self._common(part, prop), *headers), body)

    def _value(self, part_id: Any, prop: str) -> bytes:
        if not isinstance(part_id, str) or part_id not in self.body_values:
            self.bad(f"{prop}/partId", f"partId {part_id!r} is not in bodyValues.")
            return b""
        path = f"bodyValues/{part_id}"
        value = self.body_values[part_id]
        if not isinstance(value, dict) or not isinstance(value.get("value"), str):
            self.bad(path, "An EmailBodyValue needs a 'value' string.")
            return b""
        # §4.6: isEncodingProblem and isTruncated MUST be false or omitted.
        for key in ("isEncodingProblem", "isTruncated"):
            if value.get(key):
                self.bad(f"{path}/{key}", f"{key} must be false (§4.6).")
        for key in sorted(set(value) - {"value", "isEncodingProblem", "isTruncated"}):
            self.bad(f"{path}/{key}", f"{key!r} is not an EmailBodyValue property.")
        return normalize_newlines(value["value"]).encode("utf-8")


def _single(value: Any, prop: str, wanted: str) -> dict[str, Any]:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise invalid(prop, f"{prop} must contain exactly one body part (§4.6).")
    part = value[0]
    if str(part.get("type") or wanted).lower() != wanted:
        raise invalid(f"{prop}/0/type", f"The {prop} part must be {wanted} (§4.6).")
    return {**part, "type": wanted}


def _body(obj: Mapping[str, Any], builder: PartBuilder) -> Entity:
    if obj.get("bodyStructure") is not None:
        for prop in ("textBody", "htmlBody", "attachments"):
            if obj.get(prop) is not None:
                builder.bad(prop, f"{prop} cannot be given with bodyStructure (§4.6).")
        return builder.build(obj["bodyStructure"], "bodyStructure")
    text = html = None
    for prop, wanted in (("textBody", "text/plain"), ("htmlBody", "text/html")):
        if obj.get(prop) is None:
            continue
        with builder.problems.collecting():
            part = builder.build(_single(obj[prop], prop, wanted), f"{prop}/0")
            if wanted == "text/plain":
                text = part
            else:
                html = part
    attachments = obj.get("attachments") or []
    if not isinstance(attachments, list):
        builder.bad("attachments", "attachments must be an array.")
        attachments = []
    inline: list[Entity] = []
    mixed: list[Entity] = []
    for i, att in enumerate(attachments):
        entity = builder.build(att, f"attachments/{i}")
        is_inline = isinstance(att, dict) and att.get("disposition") == "inline" and att.get("cid")
        (inline if is_inline and html is not None else mixed).append(entity)
    if html is not None and inline:
        html = _multipart("related", [html, *inline])
    if text is not None and html is not None:
        main: Entity | None = _multipart("alternative", [text, html])
    else:
        main = text or html
    if not mixed:
        if main is None:
            return Entity(
                ("Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 7bit"), b""
            )
        return main
    return _multipart("mixed", ([main] if main is not None else []) + mixed)


def _top_level_conflicts(
    obj: Mapping[str, Any], headers: list[tuple[str, str]], problems: InvalidProperties
) -> None:
    """§4.6: bodyStructure must not repeat a header field given on the Email."""
    structure = obj.get("bodyStructure")
    if not isinstance(structure, dict):
        return
    top = {line.split(":", 1)[0].lower() for _, line in headers}
    for prop in structure:
        parsed = parse_header_property(prop) if prop.startswith("header:") else None
        if parsed is not None and parsed.name.lower() in top:
            problems.add(f"bodyStructure/{prop}", f"{parsed.name} is set on the Email already.")


def build_message(
    obj: Mapping[str, Any],
    *,
    read_blob: BlobReader,
    hostname: str,
    now: int,
) -> bytes:
    """The RFC 5322 message for an Email create object (§4.6).  Raises one ``invalidProperties``
    :class:`SetError` naming every invalid property (RFC 8620 §5.3), else ``blobNotFound``."""
    builder = PartBuilder({}, read_blob, [])
    problems = builder.problems
    for prop in obj:
        if (
            prop not in CONVENIENCE
            and prop not in BODY_PROPERTIES
            and prop not in ENVELOPE_PROPERTIES
            and prop not in ("bodyValues", "headers")
            and not prop.startswith("header:")
        ):
            problems.add(prop, f"{prop!r} cannot be set on create.")
    body_values = obj.get("bodyValues") or {}
    if not isinstance(body_values, dict):
        problems.add("bodyValues", "bodyValues must be an object.")
        body_values = {}
    builder.body_values = body_values
    headers: list[tuple[str, str]] = []
    with problems.collecting():
        headers = header_lines(obj, top_level=True)
    _top_level_conflicts(obj, headers, problems)
    root = _body(obj, builder)
    problems.check()
    if builder.missing:
        raise SetError(
            "blobNotFound",
            "Some blobs do not exist or are not accessible.",
            notFound=list(dict.fromkeys(builder.missing)),
        )
    names = {name for name, _ in headers}
    lines = [line for _, line in headers]
    if "date" not in names:
        lines.append("Date: " + email.utils.formatdate(now, localtime=False))
    if "message-id" not in names:
        lines.append(f"Message-ID: <{secrets.token_hex(16)}@{hostname}>")
    if "mime-version" not in names:
        lines.append("MIME-Version: 1.0")
    head = "".join(line + "\r\n" for line in (*lines, *root.headers))
    return head.encode("utf-8") + b"\r\n" + root.body
