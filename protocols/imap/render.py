"""FETCH data items built from a stored message: ENVELOPE, BODY/BODYSTRUCTURE, BODY[section],
BINARY[section] and PREVIEW (RFC 9051 §7.5.2, RFC 3516, RFC 8970).

Pure functions over ``(raw, parsed)``: the raw message octets and the :class:`ParsedMessage`
recorded at delivery (nothing is re-parsed here).

ENVELOPE and BODYSTRUCTURE come back as :class:`Raw` values, already encoded: their grammar
puts some parenthesised lists next to each other *without* a space (``env-to = "(" 1*address
")"``, ``body-type-mpart = 1*body SP media-subtype``, RFC 9051 §9), which a plain value list
cannot express (the serializer separates list items with SP).  Leaves (strings, NIL, numbers)
are still written by :func:`protocols.imap.serializer.encode_value` with ``utf8=False``, which
is valid in every session: 8-bit strings travel as literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import quote

from protocols.mime import Envelope, EnvelopeAddress, MimePart, ParsedMessage, inner_buffer
from protocols.mime.codec import decode_transfer

from .section import SectionSpec
from .serializer import encode_string, encode_value
from .values import Raw, Value

__all__ = [
    "binary",
    "binary_size",
    "bodystructure",
    "envelope",
    "envelope_of",
    "partial",
    "preview",
    "section",
]

_IDENTITY = (None, "7bit", "8bit", "binary")
_DECODABLE = (*_IDENTITY, "base64", "quoted-printable")
_EMBEDDED = ("rfc822", "global")  # RFC 9051 media-message: MESSAGE/RFC822 and MESSAGE/GLOBAL
PREVIEW_MAX = 256  # RFC 8970 §3: at most 256 characters


# --- encoding with adjacency -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Adjacent:
    """Items written back to back, without separators or parentheses of their own."""

    items: tuple[Tree, ...]


Tree: TypeAlias = "Value | _Adjacent | list[Tree]"


def _encode(tree: Tree) -> bytes:
    if isinstance(tree, _Adjacent):
        return b"".join(_encode(t) for t in tree.items)
    if isinstance(tree, list):
        return b"(" + b" ".join(_encode(t) for t in tree) + b")"
    return encode_value(tree)


# --- ENVELOPE ---------------------------------------------------------------------------------


def _address(addr: EnvelopeAddress) -> Tree:
    # RFC 9051 §7.5.2: address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")".
    # Group syntax: (NIL NIL "group" NIL) starts a group, (NIL NIL NIL NIL) ends it.
    out: list[Tree] = [addr.name, addr.adl, addr.mailbox, addr.host]
    return out


def _address_list(addrs: tuple[EnvelopeAddress, ...]) -> Tree:
    # env-from = "(" 1*address ")" / nil: no space between addresses; an absent or empty
    # address header is NIL, never "()".
    if not addrs:
        return None
    out: list[Tree] = [_Adjacent(tuple(_address(a) for a in addrs))]
    return out


def envelope(parsed: ParsedMessage) -> Raw:
    """ENVELOPE (RFC 9051 §7.5.2): date, subject, from, sender, reply-to, to, cc, bcc,
    in-reply-to, message-id.  Strings are the raw (not RFC 2047-decoded) header values.

    "If the Sender or Reply-To header lines are absent in the [RFC-5322] header, or are
    present but empty, the server sets the corresponding member of the envelope to be the same
    value as the from member" (§7.5.2); the parser already applies it, and it is re-applied
    here so that metadata from any source follows the rule.
    """
    return envelope_of(parsed.envelope)


def envelope_of(env: Envelope) -> Raw:
    """ENVELOPE from the envelope fields alone (see :func:`envelope`).  Written directly:
    the same bytes as encoding :func:`_envelope`'s tree (tested), at a third of the cost."""
    sender = env.sender or env.from_
    reply_to = env.reply_to or env.from_
    return Raw(
        b"("
        + b" ".join(
            (
                _nstring(env.date),
                _nstring(env.subject),
                _address_list_bytes(env.from_),
                _address_list_bytes(sender),
                _address_list_bytes(reply_to),
                _address_list_bytes(env.to),
                _address_list_bytes(env.cc),
                _address_list_bytes(env.bcc),
                _nstring(env.in_reply_to),
                _nstring(env.message_id),
            )
        )
        + b")"
    )


def _nstring(value: str | None) -> bytes:
    return b"NIL" if value is None else encode_string(value)


def _address_list_bytes(addrs: tuple[EnvelopeAddress, ...]) -> bytes:
    if not addrs:
        return b"NIL"
    return (
        b"("
        + b"".join(
            b"("
            + b" ".join((_nstring(a.name), _nstring(a.adl), _nstring(a.mailbox), _nstring(a.host)))
            + b")"
            for a in addrs
        )
        + b")"
    )


def envelope_tree_bytes(env: Envelope) -> bytes:
    """The generic encoding of the ENVELOPE tree (what :func:`envelope_of` must equal)."""
    return _encode(_envelope(env))


def _envelope(env: Envelope) -> Tree:
    sender = env.sender or env.from_
    reply_to = env.reply_to or env.from_
    return [
        env.date,
        env.subject,
        _address_list(env.from_),
        _address_list(sender),
        _address_list(reply_to),
        _address_list(env.to),
        _address_list(env.cc),
        _address_list(env.bcc),
        env.in_reply_to,
        env.message_id,
    ]


# --- BODY / BODYSTRUCTURE ---------------------------------------------------------------------


def _param_pair(name: str, value: str) -> list[Tree]:
    """One body-fld-param pair.  Parameters were RFC 2231-decoded at delivery; a value that is
    not ASCII travels RFC 2231-encoded again (``NAME*`` ``utf-8''...``) so that the response
    stays 7-bit for clients that did not enable UTF8=ACCEPT."""
    if value.isascii():
        return [name.upper(), value]
    return [name.upper() + "*", "utf-8''" + quote(value, safe="!#$&+-.^_`|~")]


def _params(params: tuple[tuple[str, str], ...], text: bool = False) -> Tree:
    out: list[Tree] = []
    has_charset = False
    for name, value in params:
        if name == "charset":
            has_charset = True
        out.extend(_param_pair(name, value))
    if text and not has_charset:
        # RFC 2045 §5.2: text/* without a charset parameter is us-ascii.
        out[:0] = ["CHARSET", "US-ASCII"]
    return out or None


def _disposition(part: MimePart) -> Tree:
    # body-fld-dsp = "(" string SP body-fld-param ")" / nil
    if part.disposition is None:
        return None
    return [part.disposition.upper(), _params(part.disposition_params)]


def _language(part: MimePart) -> Tree:
    # body-fld-lang = nstring / "(" string *(SP string) ")"
    if not part.language:
        return None
    out: list[Tree] = list(part.language)
    return out


def _encoding(part: MimePart) -> str:
    return (part.encoding or "7bit").upper()


def _fields(part: MimePart) -> list[Tree]:
    # body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP
    #               body-fld-octets
    return [
        _params(part.params, text=part.type == "text"),
        part.content_id,
        part.description,
        _encoding(part),
        part.size,
    ]


def _empty_envelope() -> list[Tree]:
    return [None] * 10


def _synthetic_text(size: int, lines: int, extensible: bool) -> list[Tree]:
    charset: list[Tree] = ["CHARSET", "US-ASCII"]
    body: list[Tree] = ["TEXT", "PLAIN", charset, None, None, "7BIT", size, lines]
    if extensible:
        body.extend([None, None, None, None])
    return body


def _body(part: MimePart, extensible: bool) -> list[Tree]:
    if part.is_multipart:
        # body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
        kids = part.parts
        bodies: tuple[Tree, ...] = (
            tuple(_body(p, extensible) for p in kids)
            if kids
            else (_synthetic_text(0, 0, extensible),)
        )
        out: list[Tree] = [_Adjacent(bodies), part.subtype.upper()]
        if extensible:
            # body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang
            #                  [SP body-fld-loc *(SP body-extension)]]]
            out.extend([_params(part.params), _disposition(part), _language(part), part.location])
        return out
    out = [part.type.upper(), part.subtype.upper(), *_fields(part)]
    if part.type == "message" and part.subtype in _EMBEDDED:
        # body-type-msg = media-message SP body-fields SP envelope SP body SP body-fld-lines
        inner = part.message
        if inner is not None:
            out.append(_envelope(inner.envelope))
            out.append(_body(inner.root, extensible))
        else:  # nested too deep to be parsed: keep the grammar with an empty message
            out.append(_empty_envelope())
            out.append(_synthetic_text(part.size, part.lines, extensible))
        out.append(part.lines)
    elif part.type == "text":
        # body-type-text = media-text SP body-fields SP body-fld-lines
        out.append(part.lines)
    if extensible:
        # body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc
        #                  *(SP body-extension)]]]
        out.extend([None, _disposition(part), _language(part), part.location])
    return out


def bodystructure(parsed: ParsedMessage, extensible: bool) -> Raw:
    """BODYSTRUCTURE (``extensible=True``, with extension data) or BODY (without), following
    the RFC 9051 §9 ``body`` grammar for every part, embedded messages included."""
    return Raw(_encode(_body(parsed.root, extensible)))


# --- BODY[section] ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Located:
    """A part found by its section number, with the buffer its offsets refer to."""

    buf: bytes
    part: MimePart


def _locate(raw: bytes, parsed: ParsedMessage, path: tuple[int, ...]) -> _Located | None:
    """Resolve a section part number (RFC 9051 §6.4.5).  Part numbers below a message/rfc822
    part address the parts of the embedded message; a message whose body is not multipart
    has only a part 1, its body.  None when no such part exists."""
    buf = raw
    msg: ParsedMessage | None = parsed
    part: MimePart | None = None
    for n in path:
        container: MimePart
        if part is not None:
            if part.type == "message" and part.message is not None:
                buf = inner_buffer(buf, part)
                msg = part.message
                part = None
            elif part.is_multipart:
                container = part
            else:
                return None
        if part is None:
            assert msg is not None
            root = msg.root
            if not root.is_multipart:
                if n != 1:
                    return None
                part = root
                continue
            container = root
        if not 1 <= n <= len(container.parts):
            return None
        part = container.parts[n - 1]
    if part is None:
        return None
    return _Located(buf, part)


def _line_end(buf: bytes, pos: int) -> tuple[int, bytes]:
    """The end of the line break at ``pos`` and the break to add when there is none."""
    if buf.startswith(b"\r\n", pos):
        return pos + 2, b""
    if buf.startswith(b"\n", pos):
        return pos + 1, b""
    return pos, b"\r\n"


def _header_fields(buf: bytes, msg: ParsedMessage, names: tuple[str, ...], keep: bool) -> bytes:
    """HEADER.FIELDS / HEADER.FIELDS.NOT: the matching (or non-matching) header lines as they
    appear in the message, folding included, in order, then the blank line that ends a header
    (RFC 9051 §6.4.5: "the delimiting blank line between the header and the body is not
    affected by header line subsetting; the blank line is always included")."""
    wanted = {n.upper() for n in names}
    out: list[bytes] = []
    for h in msg.root.headers:
        if (h.name.upper() in wanted) != keep:
            continue
        end, add = _line_end(buf, h.end)
        out.append(buf[h.start : end] + add)
    out.append(b"\r\n")
    return b"".join(out)


def _message_section(buf: bytes, msg: ParsedMessage, spec: SectionSpec) -> bytes:
    root = msg.root
    text = spec.text
    if text == "HEADER":
        return buf[root.header_start : root.header_end]
    if text == "TEXT":
        return buf[root.body_start : root.body_end]
    if text == "HEADER.FIELDS":
        return _header_fields(buf, msg, spec.fields, keep=True)
    if text == "HEADER.FIELDS.NOT":
        return _header_fields(buf, msg, spec.fields, keep=False)
    return buf[root.header_start : root.body_end]


def section(raw: bytes, parsed: ParsedMessage, spec: SectionSpec) -> bytes | None:
    """The octets of ``BODY[section]`` (RFC 9051 §6.4.5), before any partial is applied.

    A part that does not exist, or HEADER/TEXT on a part that is not message/rfc822, gives
    ``b""`` (servers answer an empty string, not an error).  None means the specifier itself
    cannot apply (MIME without a part number, an unknown text specifier).
    """
    if spec.text not in (None, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"):
        return None
    if not spec.part:
        if spec.text is None:
            return raw
        if spec.text == "MIME":
            return None
        return _message_section(raw, parsed, spec)
    loc = _locate(raw, parsed, spec.part)
    if loc is None:
        return b""
    part = loc.part
    if spec.text is None:
        return loc.buf[part.body_start : part.body_end]
    if spec.text == "MIME":
        # The MIME header of the part; for part 1 of a non-multipart message that is the
        # message header (its body has no header of its own).
        return loc.buf[part.header_start : part.header_end]
    if part.type != "message" or part.message is None:
        return b""
    return _message_section(inner_buffer(loc.buf, part), part.message, spec)


def partial(data: bytes, offset: int, length: int) -> bytes:
    """``<offset.length>`` (RFC 9051 §6.4.5): a substring; empty when ``offset`` is beyond
    the end of the data."""
    if offset < 0 or length <= 0 or offset >= len(data):
        return b""
    return data[offset : offset + length]


# --- BINARY[section] (RFC 3516) ---------------------------------------------------------------


def binary(raw: bytes, parsed: ParsedMessage, part: tuple[int, ...]) -> bytes | None:
    """``BINARY[part]``: the part's content with its Content-Transfer-Encoding removed.

    None when the encoding is unknown (the server answers NO [UNKNOWN-CTE], RFC 3516 §4.2).
    ``BINARY[]`` is the whole message, which has no transfer encoding of its own; a part that
    does not exist gives ``b""``.  Multiparts are never encoded (RFC 2045 §6.4).
    """
    if not part:
        return raw
    loc = _locate(raw, parsed, part)
    if loc is None:
        return b""
    p = loc.part
    data = loc.buf[p.body_start : p.body_end]
    if p.is_multipart or p.encoding in _IDENTITY:
        return data
    if p.encoding not in _DECODABLE:
        return None
    return decode_transfer(data, p.encoding)


def binary_size(raw: bytes, parsed: ParsedMessage, part: tuple[int, ...]) -> int | None:
    """``BINARY.SIZE[part]``: the size :func:`binary` would return, without decoding base64 (the
    decoded size was recorded at delivery); None for an unknown encoding."""
    if not part:
        return len(raw)
    loc = _locate(raw, parsed, part)
    if loc is None:
        return 0
    p = loc.part
    if p.is_multipart or p.encoding in _IDENTITY:
        return p.size
    if p.encoding not in _DECODABLE:
        return None
    if p.encoding == "quoted-printable":
        # Measured, not the size recorded at delivery: a message stored before the RFC 2045
        # §6.7 decoder fix recorded another size, and RFC 3516 §4.2 wants exactly BINARY[]'s.
        return len(decode_transfer(loc.buf[p.body_start : p.body_end], p.encoding))
    return p.decoded_size


# --- PREVIEW (RFC 8970) -----------------------------------------------------------------------


def preview(parsed: ParsedMessage) -> str:
    """The preview computed at delivery (first text body, whitespace collapsed), at most 256
    characters (RFC 8970 §3)."""
    return parsed.preview[:PREVIEW_MAX]
