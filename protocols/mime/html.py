"""A small, fast HTML → plain text conversion for previews and full-text indexing."""

from __future__ import annotations

import re
from html import unescape

_DROP = re.compile(
    r"<!--.*?(?:-->|$)|<(script|style|head|title|template)\b[^>]*(?:>|$).*?(?:</\1\s*>|$)",
    re.IGNORECASE | re.DOTALL,
)
_BLOCK = re.compile(
    r"<\s*/?\s*(?:br|p|div|li|tr|h[1-6]|blockquote|pre|table|ul|ol|dd|dt|hr|section|article)\b[^>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*(?:>|$)")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")  # lines are stripped before this runs


def html_to_text(html: str) -> str:
    """Drop comments, scripts, styles and the head; turn block elements into line breaks;
    strip the remaining tags; unescape entities; collapse spaces and runs of blank lines."""
    text = _DROP.sub(" ", html)
    text = _BLOCK.sub("\n", text)
    text = _TAG.sub("", text)
    text = unescape(text)
    text = _SPACES.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()
