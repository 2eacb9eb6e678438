"""Canonical line ends for stored messages (RFC 5322 §2.3: "CR and LF MUST only occur together
as CRLF").

Mail that arrives with bare LF line ends (a Unix tool's output, an mbox import) or lone CR ones
(classic Mac) is stored with CRLF, which is what IMAP clients expect to read, and RFC822.SIZE
is then the size of what BODY[] sends.  Every line end
becomes CRLF: a run of CRs before an LF is one line end (``\\r\\r\\n``, the mark of a second
LF-to-CRLF conversion, is not an empty line), any other CR is one line end.  Nothing else is
touched, and nothing is dropped but those surplus CRs.

The body of a part sent with ``Content-Transfer-Encoding: binary`` (RFC 2045 §2.9, §6.2: not
line-oriented) is kept octet for octet: its CRs and LFs are data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from .model import MimePart, ParsedMessage
from .parser import parse_message

_LINE_END = re.compile(rb"\r*\n|\r")


def has_bare_line_ends(raw: bytes) -> bool:
    """Whether ``raw`` holds an LF or CR that is not part of a CRLF."""
    crlf = raw.count(b"\r\n")
    return raw.count(b"\n") != crlf or raw.count(b"\r") != crlf


def _binary_bodies(root: MimePart) -> Iterator[tuple[int, int]]:
    """(start, end) of every body sent in the binary encoding, in the buffer ``root`` is in."""
    for part in root.walk():
        if part.parts:
            continue
        if part.encoding == "binary":
            yield part.body_start, part.body_end
        elif part.message is not None and not part.inner_encoded:
            yield from _binary_bodies(part.message.root)


def canonical_line_ends(
    raw: bytes, parse: Callable[[bytes], ParsedMessage] = parse_message
) -> bytes:
    """``raw`` with every line end CRLF, binary bodies untouched (``raw`` itself when it
    already is canonical; ``parse`` runs only when it is not)."""
    if not has_bare_line_ends(raw):
        return raw
    out: list[bytes] = []
    pos = 0
    for start, end in sorted(_binary_bodies(parse(raw).root)):
        if start < pos:
            continue
        out.append(_LINE_END.sub(b"\r\n", raw[pos:start]))
        out.append(raw[start:end])
        pos = end
    out.append(_LINE_END.sub(b"\r\n", raw[pos:]))
    return b"".join(out)
