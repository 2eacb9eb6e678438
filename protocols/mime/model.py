"""Value types produced by the MIME parser, and their compact msgpack-able wire form.

Every offset is a byte offset into the buffer the message was parsed from (the raw message for
the top-level message and for embedded ``message/rfc822`` parts sent in an identity encoding; the
transfer-decoded body of the enclosing part when ``MimePart.inner_encoded`` is true).

The wire form is made of lists, str, int, bool and None only.  ``from_wire(to_wire(x)) == x``
holds for every value the parser produces.  The first element of a ``ParsedMessage`` wire list is
``WIRE_VERSION`` so that stored metadata can be migrated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIRE_VERSION = 1

Params = tuple[tuple[str, str], ...]


def _flat_pairs(pairs: Params) -> list[str]:
    out: list[str] = []
    for key, value in pairs:
        out.append(key)
        out.append(value)
    return out


def _pairs(flat: list[Any]) -> Params:
    return tuple((str(flat[i]), str(flat[i + 1])) for i in range(0, len(flat) - 1, 2))


@dataclass(frozen=True, slots=True)
class HeaderField:
    """One header field: ``start`` is the first octet of the field name, ``value_start`` the
    octet after the colon and ``end`` the octet before the field's terminating line break (the
    JMAP "Raw" form, RFC 8621 §4.1.2.1, is ``raw[value_start:end]``)."""

    name: str
    start: int
    value_start: int
    end: int


@dataclass(frozen=True, slots=True)
class Address:
    """A JMAP EmailAddress (RFC 8621 §4.1.2.3): decoded display name and addr-spec."""

    name: str | None
    email: str

    def to_wire(self) -> list[Any]:
        return [self.name, self.email]

    @classmethod
    def from_wire(cls, obj: list[Any]) -> Address:
        return cls(obj[0], obj[1])


@dataclass(frozen=True, slots=True)
class EnvelopeAddress:
    """An IMAP ENVELOPE address (RFC 9051 §7.5.2): (name, adl, mailbox, host).

    ``name`` is the raw (not RFC 2047-decoded) phrase with quoting removed.  Group syntax uses
    the RFC 3501 markers: a group start has ``host is None`` and ``mailbox`` = group name; a
    group end has ``mailbox is None`` and ``host is None``.  An address without a domain has
    ``host == ""`` (never None, which would read as a group marker)."""

    name: str | None
    adl: str | None
    mailbox: str | None
    host: str | None

    def to_wire(self) -> list[Any]:
        return [self.name, self.adl, self.mailbox, self.host]

    @classmethod
    def from_wire(cls, obj: list[Any]) -> EnvelopeAddress:
        return cls(obj[0], obj[1], obj[2], obj[3])


def _addrs_wire(items: tuple[Any, ...]) -> list[Any]:
    return [a.to_wire() for a in items]


@dataclass(frozen=True, slots=True)
class Envelope:
    """IMAP ENVELOPE fields.  String fields are the raw header values, unfolded and trimmed
    (None when absent).  Per RFC 3501 §7.4.2, an absent or empty Sender/Reply-To is already
    replaced by From here."""

    date: str | None = None
    subject: str | None = None
    from_: tuple[EnvelopeAddress, ...] = ()
    sender: tuple[EnvelopeAddress, ...] = ()
    reply_to: tuple[EnvelopeAddress, ...] = ()
    to: tuple[EnvelopeAddress, ...] = ()
    cc: tuple[EnvelopeAddress, ...] = ()
    bcc: tuple[EnvelopeAddress, ...] = ()
    in_reply_to: str | None = None
    message_id: str | None = None

    def to_wire(self) -> list[Any]:
        return [
            self.date,
            self.subject,
            _addrs_wire(self.from_),
            _addrs_wire(self.sender),
            _addrs_wire(self.reply_to),
            _addrs_wire(self.to),
            _addrs_wire(self.cc),
            _addrs_wire(self.bcc),
            self.in_reply_to,
            self.message_id,
        ]

    @classmethod
    def from_wire(cls, obj: list[Any]) -> Envelope:
        def addrs(items: list[Any]) -> tuple[EnvelopeAddress, ...]:
            return tuple(EnvelopeAddress.from_wire(a) for a in items)

        return cls(
            date=obj[0],
            subject=obj[1],
            from_=addrs(obj[2]),
            sender=addrs(obj[3]),
            reply_to=addrs(obj[4]),
            to=addrs(obj[5]),
            cc=addrs(obj[6]),
            bcc=addrs(obj[7]),
            in_reply_to=obj[8],
            message_id=obj[9],
        )


@dataclass(frozen=True, slots=True)
class MimePart:
    """One MIME entity with everything IMAP BODYSTRUCTURE (RFC 9051 §7.5.2) and JMAP
    EmailBodyPart (RFC 8621 §4.1.4) need.

    ``imap_id`` is the IMAP section number ("1", "1.2"); the multipart body of a message has no
    number of its own in IMAP, so a multipart root carries its message's prefix ("" for the
    top-level message, "2" for a message/rfc822 in part 2).  ``part_id`` is the JMAP partId
    (depth-first index within one message, starting at "1").

    ``header_start:header_end`` is the MIME header block including its terminating blank line
    (empty for parts without headers); ``body_start:body_end`` the body, with the line break
    before a boundary delimiter excluded (RFC 2046 §5.1.1).  ``params`` and
    ``disposition_params`` have lowercase names and RFC 2231-decoded, joined values.
    ``charset`` is the charset parameter, or "us-ascii" for text/* without one (RFC 8621).
    ``lines`` counts text lines of the body (IMAP body-fld-lines); ``decoded_size`` is the
    size after transfer decoding (JMAP ``size``).  ``message`` is the embedded message of a
    message/rfc822 (or message/global) part; when ``inner_encoded`` is true its offsets are into
    the transfer-decoded body of this part rather than into the raw message.
    """

    part_id: str
    imap_id: str
    header_start: int
    header_end: int
    body_start: int
    body_end: int
    headers: tuple[HeaderField, ...]
    type: str
    subtype: str
    params: Params = ()
    charset: str | None = None
    content_id: str | None = None
    description: str | None = None
    encoding: str | None = None
    disposition: str | None = None
    disposition_params: Params = ()
    language: tuple[str, ...] = ()
    location: str | None = None
    name: str | None = None
    decoded_size: int = 0
    lines: int = 0
    parts: tuple[MimePart, ...] = ()
    message: ParsedMessage | None = None
    inner_encoded: bool = False

    @property
    def size(self) -> int:
        """Body size in octets as transmitted (IMAP body-fld-octets)."""
        return self.body_end - self.body_start

    @property
    def mime_type(self) -> str:
        return f"{self.type}/{self.subtype}"

    @property
    def is_multipart(self) -> bool:
        return self.type == "multipart"

    @property
    def cid(self) -> str | None:
        """Content-ID without CFWS and angle brackets (RFC 8621 ``cid``)."""
        if self.content_id is None:
            return None
        value = self.content_id.strip()
        if value.startswith("<") and value.endswith(">"):
            value = value[1:-1].strip()
        return value or None

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    def walk(self) -> list[MimePart]:
        """This part and its descendants in depth-first order (not into embedded messages)."""
        out: list[MimePart] = []
        stack: list[MimePart] = [self]
        while stack:
            part = stack.pop()
            out.append(part)
            stack.extend(reversed(part.parts))
        return out

    def to_wire(self) -> list[Any]:
        flat_headers: list[Any] = []
        for h in self.headers:
            flat_headers.extend((h.name, h.start, h.value_start, h.end))
        return [
            self.part_id,
            self.imap_id,
            self.header_start,
            self.header_end,
            self.body_start,
            self.body_end,
            flat_headers,
            self.type,
            self.subtype,
            _flat_pairs(self.params),
            self.charset,
            self.content_id,
            self.description,
            self.encoding,
            self.disposition,
            _flat_pairs(self.disposition_params),
            list(self.language),
            self.location,
            self.name,
            self.decoded_size,
            self.lines,
            [p.to_wire() for p in self.parts],
            None if self.message is None else self.message.to_wire(),
            self.inner_encoded,
        ]

    @classmethod
    def from_wire(cls, obj: list[Any]) -> MimePart:
        fh = obj[6]
        headers = tuple(
            HeaderField(fh[i], fh[i + 1], fh[i + 2], fh[i + 3]) for i in range(0, len(fh) - 3, 4)
        )
        return cls(
            part_id=obj[0],
            imap_id=obj[1],
            header_start=obj[2],
            header_end=obj[3],
            body_start=obj[4],
            body_end=obj[5],
            headers=headers,
            type=obj[7],
            subtype=obj[8],
            params=_pairs(obj[9]),
            charset=obj[10],
            content_id=obj[11],
            description=obj[12],
            encoding=obj[13],
            disposition=obj[14],
            disposition_params=_pairs(obj[15]),
            language=tuple(obj[16]),
            location=obj[17],
            name=obj[18],
            decoded_size=obj[19],
            lines=obj[20],
            parts=tuple(cls.from_wire(p) for p in obj[21]),
            message=None if obj[22] is None else ParsedMessage.from_wire(obj[22]),
            inner_encoded=bool(obj[23]),
        )


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """A parsed message: the MIME tree, the IMAP envelope and the JMAP convenience fields.

    ``message_id``/``in_reply_to``/``references`` are ids without angle brackets;
    ``sent_at`` is the Date: header as unix seconds; address lists use the last instance of
    each header (RFC 8621 §4.1.3) with groups flattened; ``text_body``/``html_body``/
    ``attachments`` are JMAP partIds computed with the RFC 8621 §4.1.4 algorithm.
    """

    root: MimePart
    size: int
    envelope: Envelope
    message_id: tuple[str, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    sent_at: int | None = None
    subject: str | None = None
    from_: tuple[Address, ...] = ()
    sender: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    text_body: tuple[str, ...] = ()
    html_body: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()
    has_attachment: bool = False
    preview: str = ""
    normalized_subject: str = ""

    @property
    def header_start(self) -> int:
        return self.root.header_start

    @property
    def header_end(self) -> int:
        return self.root.header_end

    @property
    def headers(self) -> tuple[HeaderField, ...]:
        return self.root.headers

    def parts(self) -> list[MimePart]:
        """Every part of this message's tree, depth-first (partId order)."""
        return self.root.walk()

    def part(self, part_id: str) -> MimePart | None:
        for p in self.root.walk():
            if p.part_id == part_id:
                return p
        return None

    def to_wire(self) -> list[Any]:
        return [
            WIRE_VERSION,
            self.root.to_wire(),
            self.size,
            self.envelope.to_wire(),
            list(self.message_id),
            list(self.in_reply_to),
            list(self.references),
            self.sent_at,
            self.subject,
            _addrs_wire(self.from_),
            _addrs_wire(self.sender),
            _addrs_wire(self.reply_to),
            _addrs_wire(self.to),
            _addrs_wire(self.cc),
            _addrs_wire(self.bcc),
            list(self.text_body),
            list(self.html_body),
            list(self.attachments),
            self.has_attachment,
            self.preview,
            self.normalized_subject,
        ]

    @classmethod
    def from_wire(cls, obj: list[Any]) -> ParsedMessage:
        if not obj or obj[0] != WIRE_VERSION:
            raise ValueError(f"unsupported MIME wire version: {obj[0] if obj else None!r}")

        def addrs(items: list[Any]) -> tuple[Address, ...]:
            return tuple(Address.from_wire(a) for a in items)

        return cls(
            root=MimePart.from_wire(obj[1]),
            size=obj[2],
            envelope=Envelope.from_wire(obj[3]),
            message_id=tuple(obj[4]),
            in_reply_to=tuple(obj[5]),
            references=tuple(obj[6]),
            sent_at=obj[7],
            subject=obj[8],
            from_=addrs(obj[9]),
            sender=addrs(obj[10]),
            reply_to=addrs(obj[11]),
            to=addrs(obj[12]),
            cc=addrs(obj[13]),
            bcc=addrs(obj[14]),
            text_body=tuple(obj[15]),
            html_body=tuple(obj[16]),
            attachments=tuple(obj[17]),
            has_attachment=bool(obj[18]),
            preview=obj[19],
            normalized_subject=obj[20],
        )
