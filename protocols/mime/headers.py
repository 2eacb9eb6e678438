"""Header block scanning with byte offsets (RFC 5322 §2.2) and structured MIME header values:
Content-Type / Content-Disposition parameters with RFC 2231 continuations and encodings."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from .codec import decode_header_bytes, decode_text
from .model import HeaderField, MimePart, Params

_LF = 0x0A
_CR = 0x0D
_SP = 0x20
_TAB = 0x09
# Octets that cannot appear in a field name (RFC 5322 §3.6.8: printable US-ASCII except ":").
_BAD_NAME = re.compile(rb"[\x00-\x20\x7f]")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")


def scan_headers(buf: bytes, start: int, end: int) -> tuple[list[HeaderField], int]:
    """Scan the header block of ``buf[start:end]``.

    Returns the fields and the offset where the body begins: just after the blank line that
    ends the block, at a line that cannot be a header field (malformed input without the blank
    line), or ``end`` when the headers run to the end.  A leading mbox "From " line is skipped.
    """
    fields: list[HeaderField] = []
    pos = start
    first = True
    while pos < end:
        nl = buf.find(b"\n", pos, end)
        line_end = end if nl < 0 else nl + 1
        c = buf[pos]
        if c == _LF or (c == _CR and (pos + 1 == end or buf[pos + 1] == _LF)):
            return fields, line_end
        if c == _SP or c == _TAB:
            if fields:  # folded continuation (RFC 5322 §2.2.3)
                last = fields[-1]
                fields[-1] = HeaderField(
                    last.name, last.start, last.value_start, _strip_eol(buf, pos, line_end)
                )
                pos = line_end
                first = False
                continue
            if first:  # leading whitespace junk before any field: skip it
                pos = line_end
                continue
            return fields, pos
        colon = buf.find(b":", pos, line_end)
        name = buf[pos:colon].rstrip(b" \t") if colon > pos else b""
        if colon < 0 or not name or _BAD_NAME.search(name):
            if first and buf.startswith(b"From ", pos):
                pos = line_end
                first = False
                continue
            return fields, pos
        fields.append(
            HeaderField(name.decode("latin-1"), pos, colon + 1, _strip_eol(buf, pos, line_end))
        )
        first = False
        pos = line_end
    return fields, end


def _strip_eol(buf: bytes, pos: int, line_end: int) -> int:
    end = line_end
    if end > pos and buf[end - 1] == _LF:
        end -= 1
        if end > pos and buf[end - 1] == _CR:
            end -= 1
    return end


def raw_value(buf: bytes, field: HeaderField) -> bytes:
    return buf[field.value_start : field.end]


def unfolded(buf: bytes, field: HeaderField) -> str:
    """The field value unfolded (RFC 5322 §2.2.3), trimmed, 8-bit decoded (UTF-8/latin-1)."""
    value = buf[field.value_start : field.end]
    if b"\n" in value or b"\r" in value:
        value = _FOLD.sub(b"", value).replace(b"\r", b"").replace(b"\n", b"")
    return decode_header_bytes(value).strip(" \t")


def header_values(raw: bytes, part: MimePart, name: str) -> list[str]:
    """Raw values (text after the colon, folding kept, as in JMAP's Raw form) of every field
    called ``name`` (case-insensitive) in ``part``'s header block, in order."""
    lname = name.lower()
    return [
        decode_header_bytes(raw[h.value_start : h.end])
        for h in part.headers
        if h.name.lower() == lname
    ]


# --- Content-Type / Content-Disposition -------------------------------------------------------

_TOKEN_CHARS = r"!#$%&'*+.^_`{|}~0-9A-Za-z-"
# The lookbehind lets only the first blank of a run start a match: linear, not quadratic.
_NEXT_PARAM = re.compile(r"(?<![ \t\r\n])[ \t\r\n]+[" + _TOKEN_CHARS + r"]+=")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)(?:"|\Z)', re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_SECTION = re.compile(r"^(.*?)\*(?:(\d{1,3})\*?|)$")


def _read_params(text: str, pos: int) -> list[tuple[str, str, bool]]:
    """Read ``; name=value`` pairs from ``text[pos:]``, tolerating missing semicolons, junk,
    unterminated quotes and spaces in unquoted values.  Returns (name, value, quoted)."""
    out: list[tuple[str, str, bool]] = []
    n = len(text)
    while pos < n:
        while pos < n and text[pos] in " \t;\r\n":
            pos += 1
        if pos >= n:
            break
        semi = text.find(";", pos)
        eq = text.find("=", pos, n if semi < 0 else semi)
        if eq < 0:
            if semi < 0:
                break
            pos = semi + 1  # a parameter without "=": skip it
            continue
        name = text[pos:eq].strip().lower()
        if " " in name or "\t" in name:  # junk before the name: keep the last word
            name = name.split()[-1]
        pos = eq + 1
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos < n and text[pos] == '"':
            q = _QUOTED.match(text, pos)
            if q is None:  # unterminated, ending in a lone backslash
                value, pos = text[pos + 1 :].rstrip("\\"), n
            else:
                value, pos = q.group(1), q.end()
            if "\\" in value:
                value = _QUOTED_PAIR.sub(r"\1", value)
            quoted = True
        else:
            semi = text.find(";", pos)
            stop = n if semi < 0 else semi
            m = _NEXT_PARAM.search(text, pos, stop)
            if m is not None:
                stop = m.start()
            value, quoted = text[pos:stop].strip(), False
            pos = stop
        if name:
            out.append((name, value, quoted))
    return out


def _rfc2231_join(raw: list[tuple[str, str, bool]]) -> Params:
    """Merge RFC 2231 §3 continuations (``name*0``, ``name*1*``...) and decode §4 extended
    values (``charset'language'%XX``).  A joined value replaces a plain one of the same name."""
    order: list[str] = []
    plain: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[str, bool]]] = {}
    for name, value, _quoted in raw:
        m = _SECTION.match(name) if "*" in name else None
        if m is None:
            if name not in plain and name not in sections:
                order.append(name)
            plain.setdefault(name, value)
            continue
        base = m.group(1)
        if not base:
            continue
        index = int(m.group(2)) if m.group(2) is not None else 0
        encoded = name.endswith("*")
        if base not in plain and base not in sections:
            order.append(base)
        sections.setdefault(base, {}).setdefault(index, (value, encoded))
    result: list[tuple[str, str]] = []
    for base in order:
        secs = sections.get(base)
        if not secs:
            result.append((base, plain[base]))
            continue
        charset: str | None = None
        chunks: list[bytes] = []
        for i, index in enumerate(sorted(secs)):
            value, encoded = secs[index]
            if encoded:
                if i == 0 and value.count("'") >= 2:
                    cs, _lang, value = value.split("'", 2)
                    charset = cs or None
                chunks.append(unquote_to_bytes(value))
            else:
                chunks.append(value.encode("utf-8"))
        result.append((base, decode_text(b"".join(chunks), charset or "utf-8")))
    return tuple(result)


def parse_content_type(value: str) -> tuple[str, str, Params] | None:
    """``type/subtype; params`` → (type, subtype, params), None when there is no usable
    type/subtype (RFC 2045 §5.2 then says: default to text/plain)."""
    slash = value.find("/")
    semi = value.find(";")
    if slash <= 0 or (0 <= semi < slash):
        return None
    ctype = value[:slash].strip().lower()
    pos = slash + 1
    n = len(value)
    start = pos
    while pos < n and value[pos] not in " \t;(\r\n":
        pos += 1
    subtype = value[start:pos].strip().lower()
    if not ctype or not subtype or _BAD_TYPE.search(ctype) or _BAD_TYPE.search(subtype):
        return None
    return ctype, subtype, _rfc2231_join(_read_params(value, pos))


_BAD_TYPE = re.compile(r"[^" + _TOKEN_CHARS + r"]")
_DISP_TOKEN = re.compile(r"\s*([" + _TOKEN_CHARS + r"]*)\s*")


def parse_disposition(value: str) -> tuple[str | None, Params]:
    """``inline; filename=...`` → (lowercase disposition type or None, params)."""
    m = _DISP_TOKEN.match(value)
    if m is None or value.startswith("=", m.end()):  # no type: "filename=x" is a parameter
        disp, pos = "", 0
    else:
        disp, pos = m.group(1).lower(), m.end()
    disp_out = disp or None
    return disp_out, _rfc2231_join(_read_params(value, pos))
