"""The decoded text IMAP ``SEARCH TEXT`` / ``BODY`` look for substrings in (RFC 3501 §6.4.4,
RFC 9051 §6.4.4: "messages that contain the specified string in the header ... or body").

A message's searchable text is a list of separate pieces, so that a needle never matches
across two of them:

* the **header**: every field of the top-level header block as ``Name: value``, the value
  unfolded and RFC 2047-decoded, one line each;
* one piece per **text part** (``text/*`` leaf), transfer- and charset-decoded; HTML is turned
  into its text (:func:`html_to_text`: entities decoded, tags dropped), as the full-text index
  reads it;
* an embedded message (``message/rfc822``) is part of the body: its header block and its text
  parts are pieces of the body too.

Non-text parts (images, PDFs ...) hold no searchable text.  Every piece is case-folded
(``str.casefold``), so a needle matches case-insensitively after folding it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codec import decode_header_value
from .content import inner_buffer, part_text
from .html import html_to_text
from .model import MimePart, ParsedMessage


@dataclass(frozen=True, slots=True)
class SearchText:
    """The case-folded searchable pieces of one message."""

    header: str
    body: tuple[str, ...]


def header_text(raw: bytes, part: MimePart) -> str:
    """``Name: decoded value`` of every field in ``part``'s header block, one per line."""
    return "\n".join(
        f"{h.name}: {decode_header_value(raw[h.value_start : h.end]).strip()}" for h in part.headers
    )


def _body_pieces(raw: bytes, root: MimePart, out: list[str]) -> None:
    for part in root.walk():
        if part.parts:
            continue
        if part.type == "text":
            text = part_text(raw, part)
            out.append(html_to_text(text) if part.subtype == "html" else text)
        elif part.message is not None:
            inner = inner_buffer(raw, part)
            out.append(header_text(inner, part.message.root))
            _body_pieces(inner, part.message.root, out)


def search_text(raw: bytes, parsed: ParsedMessage) -> SearchText:
    """The searchable pieces of the message ``parsed`` from ``raw``."""
    body: list[str] = []
    _body_pieces(raw, parsed.root, body)
    return SearchText(
        header=header_text(raw, parsed.root).casefold(),
        body=tuple(t.casefold() for t in body),
    )
