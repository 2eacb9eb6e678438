"""Canonical line ends for stored messages (RFC 5322 §2.3: "CR and LF MUST only occur together
as CRLF"), without touching a single octet of content.

Mail that arrives with bare LF line ends (a Unix tool's output, an mbox import) or lone CR ones
(classic Mac) is stored with CRLF, which is what IMAP clients expect to read, and RFC822.SIZE
is then the size of what BODY[] sends.  In what is converted, every line end becomes CRLF: a
run of CRs before an LF is one line end (``\\r\\r\\n``, the mark of a second LF-to-CRLF
conversion, is not an empty line), any other CR is one line end; nothing else is touched, and
nothing is dropped but those surplus CRs.

What is converted is what is made of lines; a CR or LF anywhere else may be data:

- every header section (the message's, each body part's, each embedded message's: RFC 5322
  §2.2), and a multipart's preamble, delimiter lines and epilogue (RFC 2046 §5.1.1);
- a ``text/*`` body (RFC 2046 §4.1.1: CRLF is its line break) and a ``message/*`` body other
  than an embedded message (delivery-status, partial, external-body: header-like text, RFC 2046
  §5.2, RFC 3464 §2.1), in ``7bit``, ``8bit`` or no transfer encoding;
- any body in ``base64`` or ``quoted-printable`` (RFC 2045 §6.8, §6.7): lines of ASCII in which
  a CR or LF is never data (base64 ignores them; quoted-printable carries data CRs and LFs as
  ``=0D`` and ``=0A``, rule 4, so its line ends are line breaks, rule 1);
- ``message/rfc822`` and ``message/global`` bodies in ``7bit``, ``8bit`` or ``binary``: the
  embedded message is walked by the same rules (its parts say what they hold).

Kept octet for octet:

- a body in the ``binary`` transfer encoding (RFC 2045 §6.2: not line-oriented), and one in an
  encoding this server does not know (§6.4: treated as application/octet-stream);
- a body that is neither text nor message in ``7bit``, ``8bit`` or none: those labels should
  mean CRLF lines (§2.7, §2.8), but raw binary sent under them is common (an
  application/octet-stream "8bit"), and there its CRs and LFs are data;
- a multipart body whose delimiters were not found (no or a wrong boundary, nesting deeper than
  the parser splits) and an embedded message nested too deep to parse: nothing says which of
  its octets are lines.

The stored form is parsed again (FETCH, Email/get read its structure): what it holds as data
must be exactly the octets that were kept, at the places they were copied to.  When it is not
(a lone CR that hid a header field or a delimiter line shows it once it is a CRLF), and when a
message's structure is not analysed in full (larger than ``structure_limit``, or with as many
entities as the parser builds, ``MAX_PARTS``, where the last ones are not split), only the
top-level header section is converted and the rest is kept as it is: without a structure that
holds, no octet of a body can be told to be a line end rather than data.  A parser failure
stores the message unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .headers import scan_headers
from .model import MimePart
from .parser import MAX_PARTS, parse_message_strict

_LINE_END = re.compile(rb"\r*\n|\r")
_TRANSPORT = ("base64", "quoted-printable")
_LINES = (None, "7bit", "8bit")
_EMBEDDED = ("rfc822", "global")


def has_bare_line_ends(raw: bytes) -> bool:
    """Whether ``raw`` holds an LF or CR that is not part of a CRLF."""
    crlf = raw.count(b"\r\n")
    return raw.count(b"\n") != crlf or raw.count(b"\r") != crlf


def _kept(part: MimePart) -> Iterator[tuple[int, int]]:
    """(start, end) of every body under ``part`` that is kept octet for octet, in order, in the
    buffer ``part`` is in (see the module docstring for the rules)."""
    if part.is_multipart:
        kids = part.parts
        # A real body part starts after a delimiter line; the parser's stand-in for an
        # unsplit body starts where the body does.
        if not kids or kids[0].header_start <= part.body_start:
            yield part.body_start, part.body_end
            return
        for kid in kids:
            yield from _kept(kid)
        return
    encoding = part.encoding
    if encoding in _TRANSPORT:
        return  # an embedded message in base64/QP included: its offsets are not into this buffer
    if part.message is not None and encoding in (*_LINES, "binary"):
        yield from _kept(part.message.root)
    elif encoding in _LINES and (
        part.type == "text" or (part.type == "message" and part.subtype not in _EMBEDDED)
    ):
        return
    else:
        yield part.body_start, part.body_end


def _entities(root: MimePart) -> Iterator[MimePart]:
    for part in root.walk():
        yield part
        if part.message is not None:
            yield from _entities(part.message.root)


def _join(raw: bytes, kept: Iterable[tuple[int, int]]) -> tuple[bytes, list[tuple[int, int]]]:
    """``raw`` with its line ends CRLF outside ``kept``, and where each (non-empty) kept
    region is in the result."""
    out: list[bytes] = []
    placed: list[tuple[int, int]] = []
    pos = size = 0
    for start, end in kept:
        if start < pos or start == end:
            continue  # an empty region must not split a CR from its LF
        out.append(_LINE_END.sub(b"\r\n", raw[pos:start]))
        size += len(out[-1])
        placed.append((size, size + end - start))
        out.append(raw[start:end])
        size += end - start
        pos = end
    out.append(_LINE_END.sub(b"\r\n", raw[pos:]))
    return b"".join(out), placed


def _convert(raw: bytes, structure_limit: int | None) -> bytes:
    if structure_limit is None or len(raw) <= structure_limit:
        root = parse_message_strict(raw).root
        if sum(1 for _ in _entities(root)) < MAX_PARTS:
            out, placed = _join(raw, _kept(root))
            # The stored form is what FETCH and Email/get parse: what it holds as data must
            # be exactly what was copied (a lone CR that hid a header field or a delimiter
            # line from this parse shows it there, once it is a CRLF).
            again = parse_message_strict(out).root
            if [(s, e) for s, e in _kept(again) if s < e] == placed:
                return out
    # Top-level header only: its header section is lines, nothing after it is known to be.
    return _join(raw, [(scan_headers(raw, 0, len(raw))[1], len(raw))])[0]


def canonical_line_ends(raw: bytes, structure_limit: int | None = None) -> bytes:
    """``raw`` with every line end CRLF where it is made of lines (module docstring), ``raw``
    itself when it already is canonical (the parse runs only when it is not).  Above
    ``structure_limit`` octets only the top-level header section is converted."""
    if not has_bare_line_ends(raw):
        return raw
    try:
        return _convert(raw, structure_limit)
    except Exception:  # noqa: BLE001 - a parser bug must not cost a message its content
        return raw
