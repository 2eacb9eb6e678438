"""The offset-tracking MIME scanner: raw octets → ``ParsedMessage``.

One pass per nesting level using ``bytes.find`` for boundary candidates; no copies of part
bodies except where a transfer encoding has to be undone (decoded sizes, previews, and
message/rfc822 parts sent in base64 or quoted-printable).
"""

from __future__ import annotations

import re

from .address import (
    AddressItems,
    envelope_addresses,
    jmap_addresses,
    parse_address_items,
    parse_date,
    parse_message_ids,
)
from .bodies import body_lists, make_preview, normalize_subject
from .codec import base64_decoded_size, decode_header_value, decode_text, decode_transfer
from .headers import parse_content_type, parse_disposition, scan_headers, unfolded
from .html import html_to_text
from .model import Address, Envelope, HeaderField, MimePart, ParsedMessage

MAX_DEPTH = 24
"""Deepest nesting of multiparts and embedded messages that is split; deeper entities are
kept as leaves (a multipart gets one synthetic text/plain child)."""

MAX_PARTS = 2000
"""Most MIME entities built for one message, embedded messages included."""

PREVIEW_LENGTH = 256
_PREVIEW_RAW_PLAIN = 16 * 1024
_PREVIEW_RAW_HTML = 64 * 1024

_LF = 0x0A
_CR = 0x0D
_IDENTITY = (None, "7bit", "8bit", "binary")
_LANG_SPLIT = re.compile(r"[,\s]+")


class _State:
    """Per-parse bookkeeping: the part budget, shared with embedded messages."""

    __slots__ = ("parts_left",)

    def __init__(self) -> None:
        self.parts_left = MAX_PARTS


class _Ids:
    """JMAP partId allocation for one message (depth-first pre-order)."""

    __slots__ = ("next",)

    def __init__(self) -> None:
        self.next = 1

    def take(self) -> str:
        value = str(self.next)
        self.next += 1
        return value


def _child_id(parent: str, n: int) -> str:
    return f"{parent}.{n}" if parent else str(n)


def _split_multipart(buf: bytes, start: int, end: int, boundary: bytes) -> list[tuple[int, int]]:
    """Body-part regions of a multipart body (RFC 2046 §5.1.1).

    A delimiter is "--boundary" at the start of a line followed only by optional transport
    padding; "--boundary--" closes the multipart and what follows (the epilogue) is ignored.
    The line break before a delimiter belongs to the delimiter.  A missing close delimiter
    lets the last part run to ``end``; an empty list means no delimiter was found at all.
    """
    delim = b"--" + boundary
    dlen = len(delim)
    regions: list[tuple[int, int]] = []
    part_start = -1
    pos = start
    while pos < end:
        p = buf.find(delim, pos, end)
        if p < 0:
            break
        if p != start and buf[p - 1] != _LF:
            pos = p + 1
            continue
        q = p + dlen
        close = buf.startswith(b"--", q) and q + 2 <= end
        r = q + 2 if close else q
        nl = buf.find(b"\n", r, end)
        line_end = end if nl < 0 else nl + 1
        if buf[r:line_end].strip(b" \t\r\n"):
            pos = p + 1
            continue
        if part_start >= 0:
            body_end = p - 1 if p > start else p
            if body_end > part_start and buf[body_end - 1] == _CR:
                body_end -= 1
            regions.append((part_start, max(part_start, body_end)))
        if close:
            if part_start < 0:  # a close delimiter first: an empty multipart body part
                regions.append((line_end, line_end))
            return regions
        part_start = line_end
        pos = line_end
    if part_start >= 0:
        regions.append((part_start, end))
    return regions


def _count_lines(buf: bytes, start: int, end: int) -> int:
    if end <= start:
        return 0
    n = buf.count(b"\n", start, end)
    return n if buf[end - 1] == _LF else n + 1


def _first_values(buf: bytes, fields: list[HeaderField]) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in fields:
        key = h.name.lower()
        if key.startswith("content-") and key not in out:
            out[key] = unfolded(buf, h)
    return out


def _parse_entity(
    buf: bytes,
    start: int,
    end: int,
    depth: int,
    own_id: str | None,
    root_prefix: str,
    default_type: tuple[str, str],
    has_headers: bool,
    ids: _Ids,
    state: _State,
) -> MimePart:
    """Parse one entity spanning ``buf[start:end]``.  ``own_id`` is its IMAP section number;
    None marks a message root, numbered from ``root_prefix`` once its type is known."""
    state.parts_left -= 1
    part_id = ids.take()
    if has_headers:
        fields, body_start = scan_headers(buf, start, end)
    else:
        fields, body_start = [], start
    values = _first_values(buf, fields)

    ctype = parse_content_type(values["content-type"]) if "content-type" in values else None
    if ctype is None:
        mtype, msub = default_type
        params: tuple[tuple[str, str], ...] = (
            (("charset", "us-ascii"),) if default_type == ("text", "plain") else ()
        )
    else:
        mtype, msub, params = ctype
    disposition: str | None = None
    disp_params: tuple[tuple[str, str], ...] = ()
    if "content-disposition" in values:
        disposition, disp_params = parse_disposition(values["content-disposition"])
    cte = values.get("content-transfer-encoding", "").strip().lower()
    encoding = cte.split()[0] if cte.split() else None
    if mtype == "multipart" and encoding not in _IDENTITY:
        encoding_effective: str | None = None  # RFC 2045 §6.4: multiparts are never encoded
    else:
        encoding_effective = encoding

    if own_id is None:
        own_id = root_prefix if mtype == "multipart" else _child_id(root_prefix, 1)

    children: tuple[MimePart, ...] = ()
    message: ParsedMessage | None = None
    inner_encoded = False
    body_end = end
    if mtype == "multipart":
        boundary = next((v for k, v in params if k == "boundary"), "")
        regions: list[tuple[int, int]] = []
        if boundary and depth < MAX_DEPTH and state.parts_left > 0:
            regions = _split_multipart(buf, body_start, end, boundary.encode("utf-8"))
            if not regions and not boundary.isascii():  # header was latin-1, not UTF-8
                regions = _split_multipart(
                    buf, body_start, end, boundary.encode("latin-1", "replace")
                )
        child_default = ("message", "rfc822") if msub == "digest" else ("text", "plain")
        if regions:
            kids: list[MimePart] = []
            for n, (cs, ce) in enumerate(regions, 1):
                if state.parts_left <= 0:
                    break
                kids.append(
                    _parse_entity(
                        buf,
                        cs,
                        ce,
                        depth + 1,
                        _child_id(own_id, n),
                        "",
                        child_default,
                        True,
                        ids,
                        state,
                    )
                )
            children = tuple(kids)
        if not children:
            # No usable boundary: one synthetic header-less text part keeps the structure
            # valid for IMAP (a multipart needs at least one body part).
            children = (
                _parse_entity(
                    buf,
                    body_start,
                    end,
                    MAX_DEPTH,
                    _child_id(own_id, 1),
                    "",
                    ("text", "plain"),
                    False,
                    ids,
                    state,
                ),
            )
    elif mtype == "message" and msub in ("rfc822", "global") and depth < MAX_DEPTH:
        if state.parts_left > 0:
            if encoding_effective not in ("base64", "quoted-printable"):
                # RFC 2046 §5.2.1: only 7bit, 8bit or binary are allowed; unknown encodings
                # cannot be undone, so the body is taken as it stands.
                message = _parse_message(buf, body_start, end, depth + 1, own_id, state)
            else:
                inner = decode_transfer(buf[body_start:end], encoding_effective)
                message = _parse_message(inner, 0, len(inner), depth + 1, own_id, state)
                inner_encoded = True

    if encoding_effective == "base64":
        decoded_size = base64_decoded_size(buf[body_start:body_end])
    elif encoding_effective == "quoted-printable":
        decoded_size = len(decode_transfer(buf[body_start:body_end], encoding_effective))
    else:
        decoded_size = body_end - body_start

    name_raw = next((v for k, v in disp_params if k == "filename"), None)
    if name_raw is None:
        name_raw = next((v for k, v in params if k == "name"), None)
    name = decode_header_value(name_raw).strip() if name_raw is not None else None

    charset = next((v for k, v in params if k == "charset"), None)
    if charset is not None:
        charset = charset.strip() or None
    if charset is None and mtype == "text":
        charset = "us-ascii"

    language = tuple(t for t in _LANG_SPLIT.split(values.get("content-language", "")) if t)
    return MimePart(
        part_id=part_id,
        imap_id=own_id,
        header_start=start,
        header_end=body_start,
        body_start=body_start,
        body_end=body_end,
        headers=tuple(fields),
        type=mtype,
        subtype=msub,
        params=params,
        charset=charset,
        content_id=values.get("content-id") or None,
        description=values.get("content-description") or None,
        encoding=encoding,
        disposition=disposition,
        disposition_params=disp_params,
        language=language,
        location=values.get("content-location") or None,
        name=name or None,
        decoded_size=decoded_size,
        lines=_count_lines(buf, body_start, body_end),
        parts=children,
        message=message,
        inner_encoded=inner_encoded,
    )


def _part_text_prefix(buf: bytes, part: MimePart, limit: int) -> str:
    end = min(part.body_end, part.body_start + limit)
    data = decode_transfer(buf[part.body_start : end], part.encoding)
    return decode_text(data, part.charset)


def _preview(buf: bytes, root: MimePart, text_body: list[str], html_body: list[str]) -> str:
    """The first non-empty text/plain or text/html body part, as collapsed plain text."""
    by_id = {p.part_id: p for p in root.walk()}
    for pid in (*text_body, *html_body):
        part = by_id.get(pid)
        if part is None or part.body_end <= part.body_start:
            continue
        if part.mime_type == "text/plain":
            text = _part_text_prefix(buf, part, _PREVIEW_RAW_PLAIN)
        elif part.mime_type == "text/html":
            text = html_to_text(_part_text_prefix(buf, part, _PREVIEW_RAW_HTML))
        else:
            continue
        preview = make_preview(text, PREVIEW_LENGTH)
        if preview:
            return preview
    return ""


def _parse_message(
    buf: bytes, start: int, end: int, depth: int, prefix: str, state: _State
) -> ParsedMessage:
    ids = _Ids()
    root = _parse_entity(buf, start, end, depth, None, prefix, ("text", "plain"), True, ids, state)
    first: dict[str, HeaderField] = {}
    last: dict[str, HeaderField] = {}
    for h in root.headers:
        key = h.name.lower()
        first.setdefault(key, h)
        last[key] = h

    cache: dict[int, str] = {}

    def value(table: dict[str, HeaderField], key: str) -> str | None:
        h = table.get(key)
        if h is None:
            return None
        text = cache.get(h.start)
        if text is None:
            text = cache[h.start] = unfolded(buf, h)
        return text

    parsed: dict[int, AddressItems] = {}

    def items(table: dict[str, HeaderField], key: str) -> AddressItems:
        h = table.get(key)
        if h is None:
            return []
        got = parsed.get(h.start)
        if got is None:
            got = parsed[h.start] = parse_address_items(value(table, key))
        return got

    env_from = envelope_addresses(items(first, "from"))
    envelope = Envelope(
        date=value(first, "date"),
        subject=value(first, "subject"),
        from_=env_from,
        sender=envelope_addresses(items(first, "sender")) or env_from,
        reply_to=envelope_addresses(items(first, "reply-to")) or env_from,
        to=envelope_addresses(items(first, "to")),
        cc=envelope_addresses(items(first, "cc")),
        bcc=envelope_addresses(items(first, "bcc")),
        in_reply_to=value(first, "in-reply-to"),
        message_id=value(first, "message-id"),
    )

    def addrs(key: str) -> tuple[Address, ...]:
        return jmap_addresses(items(last, key))

    raw_subject = value(last, "subject")
    subject = decode_header_value(raw_subject).strip() if raw_subject is not None else None
    text_body, html_body, attachments = body_lists(root)
    return ParsedMessage(
        root=root,
        size=end - start,
        envelope=envelope,
        message_id=parse_message_ids(value(last, "message-id")),
        in_reply_to=parse_message_ids(value(last, "in-reply-to")),
        references=parse_message_ids(value(last, "references")),
        sent_at=parse_date(value(last, "date")),
        subject=subject,
        from_=addrs("from"),
        sender=addrs("sender"),
        reply_to=addrs("reply-to"),
        to=addrs("to"),
        cc=addrs("cc"),
        bcc=addrs("bcc"),
        text_body=tuple(text_body),
        html_body=tuple(html_body),
        attachments=tuple(attachments),
        has_attachment=bool(attachments),
        preview=_preview(buf, root, text_body, html_body),
        normalized_subject=normalize_subject(subject),
    )


def parse_message_strict(raw: bytes) -> ParsedMessage:
    """Like :func:`parse_message` but lets an internal error propagate (fuzzing, tests)."""
    return _parse_message(raw, 0, len(raw), 0, "", _State())


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse a whole message.  Never raises: malformed structure gets a best-effort tree, and
    an internal failure (a bug) degrades to a single text/plain part over the whole message."""
    try:
        return parse_message_strict(raw)
    except Exception:  # noqa: BLE001 - a message is never rejected for its structure
        return _fallback(raw)


def _fallback(raw: bytes) -> ParsedMessage:
    root = MimePart(
        part_id="1",
        imap_id="1",
        header_start=0,
        header_end=0,
        body_start=0,
        body_end=len(raw),
        headers=(),
        type="text",
        subtype="plain",
        params=(("charset", "us-ascii"),),
        charset="us-ascii",
        decoded_size=len(raw),
        lines=_count_lines(raw, 0, len(raw)),
    )
    return ParsedMessage(
        root=root,
        size=len(raw),
        envelope=Envelope(),
        text_body=("1",),
        html_body=("1",),
    )
