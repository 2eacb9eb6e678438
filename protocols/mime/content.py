"""Reading part contents out of the raw message, using the offsets the parser recorded."""

from __future__ import annotations

from .codec import decode_text, decode_transfer
from .model import MimePart


def decode_body(raw: bytes, part: MimePart) -> bytes:
    """The part's body with its Content-Transfer-Encoding undone (base64, quoted-printable;
    7bit/8bit/binary and unknown encodings unchanged).  Tolerant of garbage.

    ``raw`` is the buffer the part's offsets refer to: the raw message, or
    :func:`inner_buffer` for parts of an embedded message with ``inner_encoded`` set."""
    data = raw[part.body_start : part.body_end]
    if part.type == "multipart":
        return data
    return decode_transfer(data, part.encoding)


def part_text(raw: bytes, part: MimePart) -> str:
    """Transfer-decode then charset-decode the body (replacement for bad octets; unknown
    charsets fall back to UTF-8, then cp1252/latin-1)."""
    return decode_text(decode_body(raw, part), part.charset)


def inner_buffer(raw: bytes, part: MimePart) -> bytes:
    """The buffer that the offsets of ``part.message`` (an embedded message) refer to."""
    if part.inner_encoded:
        return decode_transfer(raw[part.body_start : part.body_end], part.encoding)
    return raw
