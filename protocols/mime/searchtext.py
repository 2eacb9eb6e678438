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

from collections.abc import Callable
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


LeafText = Callable[[bytes, MimePart], str]  # (buffer, text part) -> its text


def leaf_text(raw: bytes, part: MimePart) -> str:
    """A text part's decoded text; HTML as its text."""
    text = part_text(raw, part)
    return html_to_text(text) if part.subtype == "html" else text


class LeafTexts:
    """:func:`leaf_text` decoding each part once: the word index and the substring index read
    the same parts, and decoding a large quoted-printable or HTML part takes seconds."""

    def __init__(self) -> None:
        self._texts: dict[int, str] = {}  # id(part) -> text, while the parsed tree lives

    def __call__(self, raw: bytes, part: MimePart) -> str:
        text = self._texts.get(id(part))
        if text is None:
            text = self._texts[id(part)] = leaf_text(raw, part)
        return text


def _body_pieces(raw: bytes, root: MimePart, out: list[str], text_of: LeafText) -> None:
    for part in root.walk():
        if part.parts:
            continue
        if part.type == "text":
            out.append(text_of(raw, part))
        elif part.message is not None:
            inner = inner_buffer(raw, part)
            out.append(header_text(inner, part.message.root))
            _body_pieces(inner, part.message.root, out, text_of)


# Case-folded a slice at a time: str.casefold of non-ASCII text allocates 12 bytes per
# character for its result first (a 20 MB part: 250 MB); folding is per character, so slices
# fold exactly as the whole does.
_FOLD_SLICE = 1 << 18


def fold(text: str) -> str:
    """``text.casefold()``, with bounded scratch memory."""
    if len(text) <= _FOLD_SLICE or text.isascii():
        return text.casefold()
    return "".join(text[i : i + _FOLD_SLICE].casefold() for i in range(0, len(text), _FOLD_SLICE))


def search_text(raw: bytes, parsed: ParsedMessage, text_of: LeafText = leaf_text) -> SearchText:
    """The searchable pieces of the message ``parsed`` from ``raw`` (``text_of`` decodes a text
    part: pass a :class:`LeafTexts` to share the decoding with other readers)."""
    body: list[str] = []
    _body_pieces(raw, parsed.root, body, text_of)
    return SearchText(
        header=fold(header_text(raw, parsed.root)),
        body=tuple(fold(t) for t in body),
    )
