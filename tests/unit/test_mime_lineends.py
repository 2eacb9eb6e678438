"""Canonical CRLF line ends for stored messages (RFC 5322 §2.3) that never change content.

The property test builds messages from parts it knows (header lines, text lines, binary
payloads, encoded data, each with line ends of its own choosing), so it knows the stored form
without any rule of the code: every line end of what is lines becomes CRLF, every payload that
is data stays as it is.  Python's ``email`` package (not our parser) then reads the stored form
and must find every part's content: a non-text payload octet for octet, base64 and
quoted-printable data decoded to what was encoded, text as its lines joined by CRLF.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.message
from dataclasses import dataclass

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from protocols.mime import MAX_DEPTH, canonical_line_ends, has_bare_line_ends, parse_message
from tests.support import PROBE_BINARY, probe_message

# Line ends a message may arrive with: a bare LF, CRLF, a doubled conversion, a lone CR.
ANY_EOL = st.sampled_from([b"\n", b"\r\n", b"\r\r\n", b"\r"])
# Before a delimiter line, or ending a header line: a lone CR is not a line end to a
# LF-based reader there, so where structure is, the line end holds an LF.
LF_EOL = st.sampled_from([b"\n", b"\r\n"])
HEADER_EOL = st.sampled_from([b"\n", b"\r\n", b"\r\r\n"])
WORDS = st.lists(st.sampled_from([b"a", b"Zq", b" ", b"\t", b"\xc3\xa9", b"."]), max_size=6)
WORD = WORDS.map(b"".join)
BOUNDARY = "=_lineends_"  # + a path: "=" and "_" never occur in a word or in base64 text


@dataclass(frozen=True)
class Leaf:
    """A body Python's ``email`` must decode (``get_payload(decode=True)``) to ``content``."""

    mime_type: str
    content: bytes


@dataclass(frozen=True)
class Built:
    raw: bytes  # as it arrives
    stored: bytes  # what must be stored
    leaves: tuple[Leaf, ...]  # in document order


def lines_of(
    draw: st.DrawFn,
    texts: list[bytes],
    eol: st.SearchStrategy[bytes],
    last: st.SearchStrategy[bytes] | None = None,
) -> Built:
    """``texts``, each ended by a drawn line end (the last one by ``last`` if given); stored
    with CRLF."""
    ends = [draw(eol) for _ in texts]
    if texts and last is not None:
        ends[-1] = draw(last)
    for i in reversed(range(len(texts) - 1)):
        if ends[i] == b"\r" and not texts[i + 1] and ends[i + 1] != b"\r":
            ends[i] = b"\n"  # a lone CR and the next, empty line's LF would be one CRLF
    raw = b"".join(t + e for t, e in zip(texts, ends, strict=True))
    return Built(raw, b"".join(t + b"\r\n" for t in texts), ())


def header(draw: st.DrawFn, fields: list[bytes]) -> Built:
    """A header section: ``fields`` and some X-Note fields, each line ended by a drawn line
    end, then the blank line."""
    notes = [b"X-Note: " + w for w in draw(st.lists(WORD, max_size=2))]
    head = lines_of(draw, fields + notes, HEADER_EOL)
    blank = draw(LF_EOL)
    return Built(head.raw + blank, head.stored + b"\r\n", ())


def cte(name: str | None) -> list[bytes]:
    return [] if name is None else [b"Content-Transfer-Encoding: " + name.encode()]


@st.composite
def text_leaf(draw: st.DrawFn, last: bool) -> Built:
    """A text part in 7bit/8bit/none, with or without a Content-Type: its lines end with any
    line end; the last one is non-empty, and unended unless the message ends there."""
    ctype = draw(st.sampled_from([None, "text/plain; charset=utf-8", "text/html", "text/x-log"]))
    fields = ([] if ctype is None else [b"Content-Type: " + ctype.encode()]) + cte(
        draw(st.sampled_from([None, "7bit", "8bit", "8BIT"]))
    )
    head = header(draw, fields)
    body = lines_of(draw, draw(st.lists(WORD, max_size=5)), ANY_EOL)
    tail = draw(WORD.filter(bool))  # not a line end: the next octets may be one
    raw = head.raw + body.raw + tail
    stored = head.stored + body.stored + tail
    if last and draw(st.booleans()):  # the message may end with a line end of any kind
        raw += draw(ANY_EOL)
        stored += b"\r\n"
    content = stored[len(head.stored) :]
    return Built(raw, stored, (Leaf((ctype or "text/plain").split(";")[0], content),))


@st.composite
def binary_leaf(draw: st.DrawFn, last: bool) -> Built:
    """Raw octets (every CR and LF is data) under 7bit, 8bit, binary, an unknown encoding or
    none, as a non-text type, or as text in the binary encoding (RFC 2045 §6.2)."""
    encoding = draw(st.sampled_from([None, "7bit", "8bit", "binary", "x-unknown"]))
    ctype = draw(st.sampled_from(["application/octet-stream", "image/png", "audio/basic"]))
    if encoding == "binary" and draw(st.booleans()):
        ctype = "text/plain"
    payload = draw(st.binary(max_size=300) | st.just(bytes(range(256)) * 2))
    assume(b"--" + BOUNDARY.encode() not in payload)
    if not last and payload.endswith(b"\r"):
        payload += b"x"  # a CR before a bare-LF delimiter would read as the delimiter's CRLF
    head = header(draw, [b"Content-Type: " + ctype.encode(), *cte(encoding)])
    return Built(head.raw + payload, head.stored + payload, (Leaf(ctype, payload),))


@st.composite
def encoded_leaf(draw: st.DrawFn, last: bool) -> Built:
    """Binary data in base64 or quoted-printable, its encoded lines ended with any line end;
    decoding the stored form gives the data back."""
    data = draw(st.binary(max_size=200))
    ctype = draw(st.sampled_from(["application/octet-stream", "application/pdf", "text/plain"]))
    if draw(st.booleans()):
        name = "base64"
        text = base64.b64encode(data)
        width = draw(st.sampled_from([4, 60, 76]))
        encoded = [text[i : i + width] for i in range(0, len(text), width)]
    else:
        name = "quoted-printable"
        # Soft line breaks only (rule 5): a CR or LF of the data is =0D or =0A (rule 4).
        encoded = binascii.b2a_qp(data, istext=False).split(b"\n")  # "=" ends all but the last
        encoded[-1] += b"="
    head = header(draw, [b"Content-Type: " + ctype.encode(), *cte(name)])
    body = lines_of(draw, encoded, ANY_EOL if last else LF_EOL)
    return Built(head.raw + body.raw, head.stored + body.stored, (Leaf(ctype, data),))


@st.composite
def entity(draw: st.DrawFn, depth: int, path: str, last: bool) -> Built:
    """A body part or an embedded message's content: a leaf, a multipart or message/rfc822."""
    kinds = ["text", "binary", "encoded"] + (["multipart", "rfc822"] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "text":
        return draw(text_leaf(last))
    if kind == "binary":
        return draw(binary_leaf(last))
    if kind == "encoded":
        return draw(encoded_leaf(last))
    if kind == "rfc822":
        inner = draw(message(depth + 1, path + "m", last))
        encoding = draw(st.sampled_from([None, "7bit", "8bit", "binary"]))
        head = header(draw, [b"Content-Type: message/rfc822", *cte(encoding)])
        return Built(head.raw + inner.raw, head.stored + inner.stored, inner.leaves)
    return draw(multipart(depth, path, last))


@st.composite
def multipart(draw: st.DrawFn, depth: int, path: str, last: bool) -> Built:
    """A multipart entity: header, preamble, body parts between delimiter lines (RFC 2046
    §5.1.1), close delimiter, epilogue.  The line break before a delimiter belongs to it."""
    boundary = (BOUNDARY + path).encode()
    subtype = draw(st.sampled_from([b"mixed", b"alternative", b"related"]))
    head = header(draw, [b"Content-Type: multipart/" + subtype + b'; boundary="' + boundary + b'"'])
    raw, stored = [head.raw], [head.stored]
    preamble = lines_of(draw, draw(st.lists(WORD, max_size=2)), ANY_EOL, LF_EOL)
    raw.append(preamble.raw)
    stored.append(preamble.stored)
    leaves: list[Leaf] = []
    n = draw(st.integers(1, 3))
    for i in range(n):
        if i:
            raw.append(draw(LF_EOL))
            stored.append(b"\r\n")
        raw += [b"--" + boundary, draw(LF_EOL)]
        stored += [b"--" + boundary, b"\r\n"]
        child = draw(entity(depth + 1, f"{path}.{i}", False))
        raw.append(child.raw)
        stored.append(child.stored)
        leaves += child.leaves
    raw += [draw(LF_EOL), b"--" + boundary + b"--"]
    stored += [b"\r\n", b"--" + boundary + b"--"]
    epilogue = draw(st.lists(WORD, max_size=2))
    if epilogue or last:
        tail = lines_of(draw, epilogue, ANY_EOL if last else LF_EOL)
        raw += [draw(LF_EOL), tail.raw]  # the close delimiter line's own end first
        stored += [b"\r\n", tail.stored]
    return Built(b"".join(raw), b"".join(stored), tuple(leaves))


@st.composite
def message(draw: st.DrawFn, depth: int = 0, path: str = "", last: bool = True) -> Built:
    """A message: its own header fields, then a MIME entity whose header follows on."""
    own = [b"From: a@remote.test", b"Subject: " + draw(WORD), b"MIME-Version: 1.0"]
    body = draw(entity(depth, path or "0", last))
    notes = lines_of(draw, own, HEADER_EOL)
    return Built(notes.raw + body.raw, notes.stored + body.stored, body.leaves)


def python_leaves(stored: bytes) -> list[tuple[str, bytes]]:
    """(type, decoded content) of every leaf part, read by Python's ``email`` package."""
    msg = email.message_from_bytes(stored)
    out = []
    for part in msg.walk():
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            out.append((part.get_content_type(), payload))
    return out


@settings(max_examples=400, deadline=None)
@given(message())
def test_stored_form_keeps_content_and_has_crlf_lines(built: Built) -> None:
    """RFC 5322 §2.3 (CR and LF only together as CRLF) for what is lines; RFC 2045 §6.2 and the
    data under 7bit/8bit/none/unknown encodings kept octet for octet; RFC 2045 §6.7/§6.8
    encoded lines converted with the decoded data unchanged.  The stored form is exactly the
    one built from the parts, Python's email package finds every part's content in it, and
    converting it again changes nothing."""
    out = canonical_line_ends(built.raw)
    assert out == built.stored
    assert python_leaves(out) == [(leaf.mime_type, leaf.content) for leaf in built.leaves]
    assert canonical_line_ends(out) == out
    if not has_bare_line_ends(built.raw):
        assert out is built.raw


def test_raw_binary_under_8bit_7bit_or_no_encoding_is_kept() -> None:
    """RFC 2045 §2.7/§2.8 promise lines, but the octets are the content: a non-text body in
    7bit, 8bit or no encoding is kept octet for octet; a CRLF message with such a part is stored
    as sent, and one whose text part has bare LFs gets CRLF there only."""
    for encoding in (b"8bit", b"7bit", b""):
        raw = probe_message(encoding)
        assert canonical_line_ends(raw) == raw
        out = canonical_line_ends(probe_message(encoding, b"hello\nworld"))
        assert out == raw
        part = parse_message(out).root.parts[1]
        assert out[part.body_start : part.body_end] == PROBE_BINARY


def test_binary_bodies_are_kept() -> None:
    """RFC 2045 §6.2: a binary body is not line-oriented; its CRs and LFs are data."""
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: binary\n\n"
        b"\x00\n\r\r\n--b\nContent-Type: text/plain\n\nx\ry\n--b--\n"
    )
    assert canonical_line_ends(raw) == (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n\x00\n\r\r\n--b\r\nContent-Type: text/plain"
        b"\r\n\r\nx\r\ny\r\n--b--\r\n"
    )


def test_delivery_status_is_lines() -> None:
    """RFC 3464 §2.1: a message/delivery-status body is header-like text: its lines get
    CRLF (RFC 5322 §2.3) like a text part's."""
    raw = (
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.test\n\n"
        b"Final-Recipient: rfc822; a@b.test\nAction: failed\n--b--\n"
    )
    assert canonical_line_ends(raw) == raw.replace(b"\n", b"\r\n")


def test_unsplit_or_too_deep_bodies_are_kept() -> None:
    """A multipart whose delimiter is never found, and one nested deeper than the parser
    splits (MAX_DEPTH), may hold anything: only header sections get CRLF (RFC 5322 §2.3)."""
    unsplit = b"Content-Type: multipart/mixed; boundary=nope\n\n--b\n\n\x00\n\r\n--b--\n"
    assert canonical_line_ends(unsplit) == (
        b"Content-Type: multipart/mixed; boundary=nope\r\n\r\n--b\n\n\x00\n\r\n--b--\n"
    )
    head = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
    deep = head * (MAX_DEPTH + 1) + b"Content-Type: application/x\n\n\x01\n\x02\r\x03"
    out = canonical_line_ends(deep)
    assert out.endswith(b"\n\x01\n\x02\r\x03") and out.startswith(head.replace(b"\n", b"\r\n"))


def test_a_lone_cr_that_hides_a_header_field_keeps_the_body() -> None:
    """A lone CR is a line end in the stored form (RFC 5322 §2.3), so the Content-Type it hid
    from a LF-based reader shows there: the body it declares binary must not have been
    converted as text.  Only the top-level header section gets CRLF."""
    raw = b"Subject: x\rContent-Type: application/octet-stream\n\n" + PROBE_BINARY
    out = canonical_line_ends(raw)
    assert out == b"Subject: x\r\nContent-Type: application/octet-stream\r\n\r\n" + PROBE_BINARY
    assert parse_message(out).root.mime_type == "application/octet-stream"


def test_above_the_structure_limit_only_the_top_header_is_converted() -> None:
    """A message larger than ``structure_limit`` is not split (delivery.max_parse_size): its
    top-level header section gets CRLF (RFC 5322 §2.3), its body, binary parts and all, is
    kept (RFC 2045 §6.2)."""
    raw = (
        b"Subject: big\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
        b"Content-Type: text/plain\n\nline\n--b\nContent-Transfer-Encoding: binary\n\n"
        + PROBE_BINARY
        + b"\n--b--\n"
    )
    out = canonical_line_ends(raw, structure_limit=len(raw) - 1)
    body = raw[raw.index(b"\n\n") + 2 :]
    assert out == b"Subject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + body
    assert canonical_line_ends(raw, structure_limit=len(raw)).endswith(
        b"\r\nline\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        + PROBE_BINARY
        + b"\r\n--b--\r\n"
    )
