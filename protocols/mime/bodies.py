"""JMAP body lists (RFC 8621 §4.1.4), the preview, and the threading subject."""

from __future__ import annotations

import re

from .model import MimePart


def _is_inline_media(mime_type: str) -> bool:
    return mime_type.startswith(("image/", "audio/", "video/"))


def body_lists(root: MimePart) -> tuple[list[str], list[str], list[str]]:
    """(textBody, htmlBody, attachments) partIds, following the RFC 8621 §4.1.4 algorithm
    step by step (including its multipart/alternative bookkeeping)."""
    text_body: list[MimePart] = []
    html_body: list[MimePart] = []
    attachments: list[MimePart] = []
    _parse_structure([root], "mixed", False, html_body, text_body, attachments)
    return (
        [p.part_id for p in text_body],
        [p.part_id for p in html_body],
        [p.part_id for p in attachments],
    )


def _parse_structure(
    parts: tuple[MimePart, ...] | list[MimePart],
    multipart_type: str,
    in_alternative: bool,
    html_body: list[MimePart] | None,
    text_body: list[MimePart] | None,
    attachments: list[MimePart],
) -> None:
    # For multipart_type == "alternative": remember the lengths on entry.
    text_length = len(text_body) if text_body is not None else -1
    html_length = len(html_body) if html_body is not None else -1
    for i, part in enumerate(parts):
        mime_type = part.mime_type
        is_multipart = part.type == "multipart"
        # A body part rather than an attachment: not "attachment", an allowed body type, and
        # (in multipart/related only the first part; a named text part that is not first is
        # an attachment).
        is_inline = (
            part.disposition != "attachment"
            and (mime_type in ("text/plain", "text/html") or _is_inline_media(mime_type))
            and (
                i == 0
                or (multipart_type != "related" and (_is_inline_media(mime_type) or not part.name))
            )
        )
        if is_multipart:
            sub = part.subtype
            _parse_structure(
                part.parts,
                sub,
                in_alternative or sub == "alternative",
                html_body,
                text_body,
                attachments,
            )
        elif is_inline:
            if multipart_type == "alternative":
                if mime_type == "text/plain":
                    if text_body is not None:
                        text_body.append(part)
                elif mime_type == "text/html":
                    if html_body is not None:
                        html_body.append(part)
                else:
                    attachments.append(part)
                continue
            if in_alternative:
                if mime_type == "text/plain":
                    html_body = None
                if mime_type == "text/html":
                    text_body = None
            if text_body is not None:
                text_body.append(part)
            if html_body is not None:
                html_body.append(part)
            if (text_body is None or html_body is None) and _is_inline_media(mime_type):
                attachments.append(part)
        else:
            attachments.append(part)
    if multipart_type == "alternative" and text_body is not None and html_body is not None:
        # Found an HTML part only: it stands in for the text body too.
        if text_length == len(text_body) and html_length != len(html_body):
            text_body.extend(html_body[html_length:])
        # Found a plain text part only.
        if html_length == len(html_body) and text_length != len(text_body):
            html_body.extend(text_body[text_length:])


_PREFIX = re.compile(
    r"^\s*(?:"
    r"(?:re|fwd?|fw|aw|sv|antw|wg|vs|tr|rif|r|odp|ynt)\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]"
    r"|\[[^\[\]]{0,64}\]"
    r")\s*",
    re.IGNORECASE,
)
_FWD_WRAP = re.compile(r"^\[\s*fwd?\s*:\s*(.*)\]$", re.IGNORECASE | re.DOTALL)
_TRAILER = re.compile(r"\s*\((?:fwd?)\)\s*$", re.IGNORECASE)


def normalize_subject(subject: str | None) -> str:
    """The threading base subject, in the spirit of RFC 5256 §2.1: repeatedly strip leading
    Re:/Fwd:/Fw:/AW:/SV:/Antw: (and kin) and "[list-tag]" prefixes, unwrap "[Fwd: ...]", drop a
    trailing "(fwd)", collapse whitespace and casefold.  A tag that is the whole subject stays."""
    if not subject:
        return ""
    text = " ".join(subject.split())  # collapse whitespace (same set as the regex \s, faster)
    for _ in range(64):
        before = text
        text = _TRAILER.sub("", text)
        m = _FWD_WRAP.match(text)
        if m is not None:
            text = m.group(1).strip()
        m = _PREFIX.match(text)
        if m is not None and m.end() < len(text):
            text = text[m.end() :]
        elif m is not None and not m.group(0).lstrip().startswith("["):
            text = ""
        if text == before:
            break
    return text.strip().casefold()


def make_preview(text: str, limit: int = 256) -> str:
    """Collapse whitespace and cut to ``limit`` characters."""
    window = limit * 2
    while True:
        chunk = " ".join(text[:window].split())
        if len(chunk) > limit or window >= len(text):
            return chunk[:limit].rstrip("\ufffd").strip()
        window *= 4
