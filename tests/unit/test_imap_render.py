"""IMAP FETCH rendering: ENVELOPE, BODY/BODYSTRUCTURE (golden files + grammar checks over the
whole MIME corpus), BODY[section] slicing, partials, BINARY and PREVIEW."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from protocols.imap.render import (
    binary,
    binary_size,
    bodystructure,
    envelope,
    partial,
    preview,
    section,
)
from protocols.imap.section import SectionSpec
from protocols.imap.serializer import encode_value
from protocols.mime import MimePart, ParsedMessage, parse_message

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "mime"
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "imap"
UPDATE = os.environ.get("STALWART_UPDATE_GOLDEN") == "1"


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.glob("*/*.eml"))


def need_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"MIME corpus not found at {CORPUS} (clone outside the workspace)")


def crlf(text: str) -> bytes:
    return text.lstrip("\n").replace("\n", "\r\n").encode()


def enc(value: object) -> bytes:
    return encode_value(value)  # type: ignore[arg-type]


# --- a tiny strict reader for IMAP values (to check the grammar of what we write) ---------------


@dataclass
class _Reader:
    data: bytes
    pos: int = 0

    def peek(self) -> int:
        return self.data[self.pos] if self.pos < len(self.data) else -1

    def expect(self, octet: bytes) -> None:
        assert self.data[self.pos : self.pos + 1] == octet, (self.pos, self.data[self.pos :][:40])
        self.pos += 1

    def value(self) -> object:
        c = self.peek()
        if c == ord("("):
            return self.list_()
        if c == ord('"'):
            self.pos += 1
            out = bytearray()
            while True:
                ch = self.data[self.pos]
                self.pos += 1
                if ch == ord("\\"):
                    out.append(self.data[self.pos])
                    self.pos += 1
                elif ch == ord('"'):
                    return bytes(out)
                else:
                    assert ch not in (0x0D, 0x0A)
                    out.append(ch)
        if c == ord("{"):
            end = self.data.index(b"}\r\n", self.pos)
            n = int(self.data[self.pos + 1 : end])
            start = end + 3
            self.pos = start + n
            return self.data[start : self.pos]
        if self.data.startswith(b"NIL", self.pos):
            self.pos += 3
            return None
        start = self.pos
        while self.peek() >= 0 and chr(self.peek()).isdigit():
            self.pos += 1
        assert self.pos > start, (self.pos, self.data[self.pos :][:40])
        return int(self.data[start : self.pos])

    def list_(self) -> list[object]:
        """Items inside parentheses, separated by one space; two parenthesised items may also
        follow each other directly (``1*address``, ``1*body``)."""
        self.expect(b"(")
        out: list[object] = []
        while self.peek() != ord(")"):
            if out:
                if self.peek() == ord(" "):
                    self.pos += 1
                else:
                    assert self.peek() == ord("(") and self.data[self.pos - 1] == ord(")")
            out.append(self.value())
        self.expect(b")")
        return out


def read(data: bytes) -> object:
    r = _Reader(data)
    v = r.value()
    assert r.pos == len(data), "trailing data"
    return v


# --- grammar checks (RFC 9051 §9 body / envelope) ---------------------------------------------


def _nstring(v: object) -> None:
    assert v is None or isinstance(v, bytes), v


def _check_address_list(v: object) -> None:
    assert v is None or (isinstance(v, list) and v), v  # "(" 1*address ")" / nil
    for a in v or []:
        assert isinstance(a, list) and len(a) == 4, a
        for f in a:
            _nstring(f)


def check_envelope(v: object) -> None:
    assert isinstance(v, list) and len(v) == 10, v
    _nstring(v[0])
    _nstring(v[1])
    for i in range(2, 8):
        _check_address_list(v[i])
    _nstring(v[8])
    _nstring(v[9])


def _check_params(v: object) -> None:
    assert v is None or (isinstance(v, list) and v and len(v) % 2 == 0), v
    for x in v or []:
        assert isinstance(x, bytes)


def _check_dsp(v: object) -> None:
    assert v is None or (isinstance(v, list) and len(v) == 2 and isinstance(v[0], bytes)), v
    if v is not None:
        _check_params(v[1])


def _check_lang(v: object) -> None:
    assert v is None or isinstance(v, bytes) or (isinstance(v, list) and v), v


def check_body(v: object, part: MimePart, extensible: bool) -> None:
    """Validate one body against the grammar and against the parsed part it came from."""
    assert isinstance(v, list), v
    if isinstance(v[0], list):  # body-type-mpart
        assert part.is_multipart
        kids = [x for x in v if isinstance(x, list)]
        n = len(part.parts) or 1
        subtype_at = n
        for child, kid in zip(v[:subtype_at], part.parts, strict=False):
            check_body(child, kid, extensible)
        assert v[subtype_at] == part.subtype.upper().encode()
        ext = v[subtype_at + 1 :]
        assert len(kids) >= n
        if extensible:
            assert len(ext) == 4
            _check_params(ext[0])
            _check_dsp(ext[1])
            _check_lang(ext[2])
            _nstring(ext[3])
        else:
            assert ext == []
        return
    assert not part.is_multipart
    assert v[0] == part.type.upper().encode() and v[1] == part.subtype.upper().encode()
    _check_params(v[2])
    _nstring(v[3])
    _nstring(v[4])
    assert isinstance(v[5], bytes) and v[5] == v[5].upper()
    assert v[6] == part.size
    rest = v[7:]
    if part.type == "message" and part.subtype in ("rfc822", "global"):
        check_envelope(rest[0])
        if part.message is not None:
            check_body(rest[1], part.message.root, extensible)
        assert rest[2] == part.lines
        rest = rest[3:]
    elif part.type == "text":
        assert rest[0] == part.lines
        rest = rest[1:]
    if extensible:
        assert len(rest) == 4
        assert rest[0] is None  # body-fld-md5
        _check_dsp(rest[1])
        _check_lang(rest[2])
        _nstring(rest[3])
    else:
        assert rest == []


# --- every corpus message ---------------------------------------------------------------------


def test_corpus_present_or_skipped_visibly() -> None:
    need_corpus()
    assert len(corpus_files()) == 107


def _all_parts(parsed: ParsedMessage) -> Iterator[tuple[tuple[int, ...], MimePart]]:
    """(section path, part) for every addressable part, embedded messages included."""
    root = parsed.root
    kids = root.parts if root.is_multipart else (root,)
    for n, kid in enumerate(kids, 1):
        yield from _walk((n,), kid)


def _walk(path: tuple[int, ...], part: MimePart) -> Iterator[tuple[tuple[int, ...], MimePart]]:
    yield path, part
    if part.is_multipart:
        for n, kid in enumerate(part.parts, 1):
            yield from _walk(path + (n,), kid)
    elif part.message is not None:
        m = part.message
        kids = m.root.parts if m.root.is_multipart else (m.root,)
        for n, kid in enumerate(kids, 1):
            yield from _walk(path + (n,), kid)


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_message_renders(path: Path) -> None:
    raw = path.read_bytes()
    parsed = parse_message(raw)
    env = read(envelope(parsed).data)
    check_envelope(env)
    for extensible in (True, False):
        check_body(read(bodystructure(parsed, extensible).data), parsed.root, extensible)

    assert section(raw, parsed, SectionSpec()) == raw
    header = section(raw, parsed, SectionSpec(text="HEADER"))
    text = section(raw, parsed, SectionSpec(text="TEXT"))
    assert header is not None and text is not None
    assert raw.endswith(header + text)  # a leading mbox "From " line is the only prefix
    fields = section(raw, parsed, SectionSpec(text="HEADER.FIELDS", fields=("FROM", "SUBJECT")))
    assert fields is not None and fields.endswith(b"\r\n")
    for line in fields.split(b"\r\n"):
        if line and line[:1] not in b" \t":
            assert line.split(b":")[0].strip().upper() in (b"FROM", b"SUBJECT")

    for spec_path, part in _all_parts(parsed):
        body = section(raw, parsed, SectionSpec(part=spec_path))
        assert body is not None and len(body) == part.size
        mime = section(raw, parsed, SectionSpec(part=spec_path, text="MIME"))
        assert mime is not None and len(mime) == part.header_end - part.header_start
        decoded = binary(raw, parsed, spec_path)
        size = binary_size(raw, parsed, spec_path)
        if decoded is None:
            assert size is None
        else:
            assert size == len(decoded)
        if part.message is not None:
            inner = section(raw, parsed, SectionSpec(part=spec_path, text="HEADER"))
            inner_text = section(raw, parsed, SectionSpec(part=spec_path, text="TEXT"))
            assert inner is not None and inner_text is not None
            if not part.inner_encoded:
                assert body.endswith(inner + inner_text)
    assert len(preview(parsed)) <= 256


# --- golden files -----------------------------------------------------------------------------

GOLDEN_MESSAGES = [
    "rfc/000.eml",
    "rfc/001.eml",
    "rfc/002.eml",
    "rfc/004.eml",
    "rfc/007.eml",
    "rfc/009.eml",
    "legacy/010.eml",
    "legacy/016.eml",
    "legacy/023.eml",
    "thirdparty/007.eml",
    "thirdparty/010.eml",
    "thirdparty/017.eml",
    "malformed/010.eml",
    "malformed/012.eml",
    "malformed/022.eml",
]


def _golden_text(raw: bytes) -> bytes:
    parsed = parse_message(raw)
    return b"".join(
        [
            b"ENVELOPE " + enc(envelope(parsed)) + b"\r\n",
            b"BODY " + enc(bodystructure(parsed, False)) + b"\r\n",
            b"BODYSTRUCTURE " + enc(bodystructure(parsed, True)) + b"\r\n",
        ]
    )


@pytest.mark.parametrize("name", GOLDEN_MESSAGES)
def test_golden(name: str) -> None:
    need_corpus()
    got = _golden_text((CORPUS / name).read_bytes())
    golden = GOLDEN / (name.replace("/", "-").removesuffix(".eml") + ".txt")
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(got)
    assert golden.exists(), f"missing {golden}: run with STALWART_UPDATE_GOLDEN=1"
    assert got == golden.read_bytes()


# --- hand-checked examples against the RFC 9051 grammar (and Dovecot's output) -----------------

SIMPLE = crlf(
    """
From: "Joe Q. Public" <john.q.public@example.com>
To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>
Cc: <boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>
Date: Tue, 1 Jul 2003 10:52:37 +0200
Subject: Saying Hello
Message-ID: <5678.21-Nov-1997@example.com>

Hi everyone.
"""
)


def test_envelope_simple() -> None:
    parsed = parse_message(SIMPLE)
    assert envelope(parsed).data == (
        b'("Tue, 1 Jul 2003 10:52:37 +0200" "Saying Hello" '
        b'(("Joe Q. Public" NIL "john.q.public" "example.com")) '
        b'(("Joe Q. Public" NIL "john.q.public" "example.com")) '
        b'(("Joe Q. Public" NIL "john.q.public" "example.com")) '
        b'(("Mary Smith" NIL "mary" "x.test")(NIL NIL "jdoe" "example.org")'
        b'("Who?" NIL "one" "y.test")) '
        b'((NIL NIL "boss" "nil.test")("Giant; \\"Big\\" Box" NIL "sysservices" "example.net")) '
        b'NIL NIL "<5678.21-Nov-1997@example.com>")'
    )


def test_envelope_groups_sender_reply_to_and_raw_strings() -> None:
    raw = crlf(
        """
From: Pete <pete@silly.example>
Sender: Secretary <sec@silly.example>
Reply-To:
To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;
Cc: Undisclosed recipients:;
Subject: =?ISO-8859-1?Q?a?=
In-Reply-To: <parent@x>

body
"""
    )
    parsed = parse_message(raw)
    assert envelope(parsed).data == (
        b'(NIL "=?ISO-8859-1?Q?a?=" '  # raw, not decoded
        b'(("Pete" NIL "pete" "silly.example")) '
        b'(("Secretary" NIL "sec" "silly.example")) '
        b'(("Pete" NIL "pete" "silly.example")) '  # empty Reply-To -> From (§7.5.2)
        b'((NIL NIL "A Group" NIL)("Ed Jones" NIL "c" "a.test")(NIL NIL "joe" "where.test")'
        b'("John" NIL "jdoe" "one.test")(NIL NIL NIL NIL)) '
        b'((NIL NIL "Undisclosed recipients" NIL)(NIL NIL NIL NIL)) '
        b'NIL "<parent@x>" NIL)'
    )


def test_envelope_empty_message() -> None:
    parsed = parse_message(b"\r\nno headers\r\n")
    assert envelope(parsed).data == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"


def test_envelope_8bit_goes_as_literal() -> None:
    parsed = parse_message(crlf("Subject: Grüße\n\nx\n"))
    assert envelope(parsed).data == (
        b"(NIL {7}\r\nGr\xc3\xbc\xc3\x9fe NIL NIL NIL NIL NIL NIL NIL NIL)"
    )


def test_bodystructure_simple_text() -> None:
    parsed = parse_message(SIMPLE)
    # Size 14 ("Hi everyone.\r\n"), 1 line; missing Content-Type -> text/plain us-ascii.
    assert bodystructure(parsed, False).data == (
        b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 14 1)'
    )
    assert bodystructure(parsed, True).data == (
        b'("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 14 1 NIL NIL NIL NIL)'
    )


MULTI = crlf(
    """
From: a@b.test
Subject: outer
Content-Type: multipart/mixed; boundary="XX"
Content-Language: en, de
Content-Location: http://example.test/outer

preamble
--XX
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-ID: <c1@x>
Content-Description: the text

part one
--XX
Content-Type: message/rfc822
Content-Disposition: inline

From: c@d.test
Subject: inner
Content-Type: multipart/alternative; boundary="YY"

--YY
Content-Type: text/plain

inner plain
--YY
Content-Type: text/html

<p>inner html</p>
--YY--
--XX
Content-Type: application/octet-stream; name*=utf-8''caf%C3%A9.bin
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="data.bin"
Content-Language: fr
Content-Location: data.bin

AAECAwQ=
--XX
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

caf=E9=
 ok
--XX
Content-Type: application/octet-stream
Content-Transfer-Encoding: x-uuencode

begin 644 x
--XX--
"""
)


def test_bodystructure_multipart_with_message_and_extensions() -> None:
    parsed = parse_message(MULTI)
    inner_env = (
        b'(NIL "inner" ((NIL NIL "c" "d.test")) ((NIL NIL "c" "d.test"))'
        b' ((NIL NIL "c" "d.test")) NIL NIL NIL NIL NIL)'
    )
    assert bodystructure(parsed, True).data == (
        b'(("TEXT" "PLAIN" ("CHARSET" "UTF-8" "FORMAT" "flowed") "<c1@x>" "the text" "7BIT" 8 1'
        b" NIL NIL NIL NIL)"
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 191 ' + inner_env + b" "
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL)'
        b'("TEXT" "HTML" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 17 1 NIL NIL NIL NIL)'
        b' "ALTERNATIVE" ("BOUNDARY" "YY") NIL NIL NIL) 13 NIL ("INLINE" NIL) NIL NIL)'
        b'("APPLICATION" "OCTET-STREAM" ("NAME*" "utf-8\'\'caf%C3%A9.bin") NIL NIL'
        b' "BASE64" 8 NIL ("ATTACHMENT" ("FILENAME" "data.bin")) ("fr") "data.bin")'
        b'("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "QUOTED-PRINTABLE" 12 2'
        b" NIL NIL NIL NIL)"
        b'("APPLICATION" "OCTET-STREAM" NIL NIL NIL "X-UUENCODE" 11 NIL NIL NIL NIL)'
        b' "MIXED" ("BOUNDARY" "XX") NIL ("en" "de") "http://example.test/outer")'
    )
    assert bodystructure(parsed, False).data == (
        b'(("TEXT" "PLAIN" ("CHARSET" "UTF-8" "FORMAT" "flowed") "<c1@x>" "the text" "7BIT" 8 1)'
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 191 ' + inner_env + b" "
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 11 1)'
        b'("TEXT" "HTML" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 17 1) "ALTERNATIVE") 13)'
        b'("APPLICATION" "OCTET-STREAM" ("NAME*" "utf-8\'\'caf%C3%A9.bin") NIL NIL'
        b' "BASE64" 8)'
        b'("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "QUOTED-PRINTABLE" 12 2)'
        b'("APPLICATION" "OCTET-STREAM" NIL NIL NIL "X-UUENCODE" 11) "MIXED")'
    )


def test_bodystructure_embedded_message_in_base64() -> None:
    inner = crlf("Subject: hidden\nContent-Type: text/plain\n\nsecret words\n")
    raw = (
        crlf(
            """
Subject: outer
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: message/rfc822
Content-Transfer-Encoding: base64

"""
        )
        + base64.encodebytes(inner).replace(b"\n", b"\r\n")
        + b"--b--\r\n"
    )
    parsed = parse_message(raw)
    bs = bodystructure(parsed, True).data
    assert b'"hidden"' in bs and b'"BASE64"' in bs
    check_body(read(bs), parsed.root, True)
    assert section(raw, parsed, SectionSpec(part=(1, 1))) == b"secret words\r\n"
    assert section(raw, parsed, SectionSpec(part=(1,), text="HEADER")) == crlf(
        "Subject: hidden\nContent-Type: text/plain\n\n"
    )
    assert binary(raw, parsed, (1,)) == inner


# --- BODY[section] ----------------------------------------------------------------------------


def S(*part: int, text: str | None = None, fields: tuple[str, ...] = ()) -> SectionSpec:  # noqa: N802
    return SectionSpec(part=part, text=text, fields=fields)


def test_sections_of_a_nested_message() -> None:
    raw = MULTI
    p = parse_message(raw)
    assert section(raw, p, S()) == raw
    header = section(raw, p, S(text="HEADER"))
    assert header is not None and header.startswith(b"From: a@b.test\r\n")
    assert header.endswith(b"Content-Location: http://example.test/outer\r\n\r\n")
    assert header + (section(raw, p, S(text="TEXT")) or b"") == raw
    assert section(raw, p, S(1)) == b"part one"
    assert section(raw, p, S(1, text="MIME")) == crlf(
        "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
        "Content-ID: <c1@x>\nContent-Description: the text\n\n"
    )
    inner_header = crlf(
        'From: c@d.test\nSubject: inner\nContent-Type: multipart/alternative; boundary="YY"\n\n'
    )
    assert section(raw, p, S(2, text="HEADER")) == inner_header
    whole_inner = section(raw, p, S(2))
    inner_text = section(raw, p, S(2, text="TEXT"))
    assert whole_inner is not None and inner_text is not None
    assert whole_inner == inner_header + inner_text
    assert inner_text.startswith(b"--YY\r\n") and inner_text.endswith(b"--YY--")
    assert section(raw, p, S(2, text="MIME")) == crlf(
        "Content-Type: message/rfc822\nContent-Disposition: inline\n\n"
    )
    assert section(raw, p, S(2, 1)) == b"inner plain"
    assert section(raw, p, S(2, 2)) == b"<p>inner html</p>"
    assert section(raw, p, S(2, 2, text="MIME")) == crlf("Content-Type: text/html\n\n")
    assert section(raw, p, S(2, text="HEADER.FIELDS", fields=("SUBJECT",))) == (
        b"Subject: inner\r\n\r\n"
    )
    assert section(raw, p, S(3)) == b"AAECAwQ="
    # Nonexistent parts are empty, not errors; HEADER/TEXT apply to message parts only.
    assert section(raw, p, S(9)) == b""
    assert section(raw, p, S(1, 1)) == b""
    assert section(raw, p, S(2, 3)) == b""
    assert section(raw, p, S(2, 1, 1)) == b""
    assert section(raw, p, S(1, text="HEADER")) == b""
    assert section(raw, p, S(3, text="TEXT")) == b""
    assert section(raw, p, S(0)) == b""
    # MIME needs a part number (RFC 9051 §6.4.5 grammar).
    assert section(raw, p, S(text="MIME")) is None
    assert section(raw, p, S(text="BOGUS")) is None


def test_sections_of_a_single_part_message() -> None:
    raw = SIMPLE
    p = parse_message(raw)
    # A non-multipart message has only a part 1: its body (RFC 9051 §6.4.5).
    assert section(raw, p, S(1)) == b"Hi everyone.\r\n"
    assert section(raw, p, S(1)) == section(raw, p, S(text="TEXT"))
    assert section(raw, p, S(2)) == b""
    assert section(raw, p, S(1, 1)) == b""
    assert section(raw, p, S(1, text="MIME")) == section(raw, p, S(text="HEADER"))
    assert section(raw, p, S(text="HEADER")) + b"Hi everyone.\r\n" == raw  # type: ignore[operator]
    assert binary(raw, p, (1,)) == b"Hi everyone.\r\n"


def test_header_fields_case_insensitive_original_lines_and_order() -> None:
    raw = crlf(
        """
Received: from a
Subject: first
 continued\tline
X-Thing: 1
received: from b
SUBJECT: second

body
"""
    )
    p = parse_message(raw)
    got = section(raw, p, S(text="HEADER.FIELDS", fields=("SUBJECT", "X-NONE")))
    assert got == b"Subject: first\r\n continued\tline\r\nSUBJECT: second\r\n\r\n"
    got = section(raw, p, S(text="HEADER.FIELDS", fields=("received",)))
    assert got == b"Received: from a\r\nreceived: from b\r\n\r\n"
    got = section(raw, p, S(text="HEADER.FIELDS.NOT", fields=("Subject", "RECEIVED")))
    assert got == b"X-Thing: 1\r\n\r\n"
    # No match: just the blank line (it is always included).
    assert section(raw, p, S(text="HEADER.FIELDS", fields=("NOPE",))) == b"\r\n"


def test_header_fields_keep_bare_lf_lines_and_terminate_the_last() -> None:
    raw = b"Subject: lf only\nFrom: x@y\n\nbody\n"
    p = parse_message(raw)
    assert section(raw, p, S(text="HEADER.FIELDS", fields=("FROM",))) == b"From: x@y\n\r\n"
    raw = b"Subject: no body, no break"
    p = parse_message(raw)
    assert section(raw, p, S(text="HEADER.FIELDS", fields=("SUBJECT",))) == (
        b"Subject: no body, no break\r\n\r\n"
    )


def test_partial() -> None:
    data = b"0123456789"
    assert partial(data, 0, 4) == b"0123"
    assert partial(data, 8, 100) == b"89"
    assert partial(data, 10, 5) == b""  # starting octet beyond the end: empty string
    assert partial(data, 50, 5) == b""
    assert partial(data, 3, 0) == b""
    assert partial(data, 0, 10) == data


# --- BINARY (RFC 3516) ------------------------------------------------------------------------


def test_binary_decodes_and_reports_sizes() -> None:
    raw = MULTI
    p = parse_message(raw)
    assert binary(raw, p, (3,)) == b"\x00\x01\x02\x03\x04"
    assert binary_size(raw, p, (3,)) == 5
    assert binary(raw, p, (4,)) == b"caf\xe9 ok"  # quoted-printable, soft line break removed
    assert binary_size(raw, p, (4,)) == 7
    assert binary(raw, p, (1,)) == b"part one"  # identity encodings are returned as they are
    assert binary(raw, p, (2, 1)) == b"inner plain"
    # Unknown Content-Transfer-Encoding: None (the server answers NO [UNKNOWN-CTE]).
    assert binary(raw, p, (5,)) is None
    assert binary_size(raw, p, (5,)) is None
    assert binary(raw, p, ()) == raw and binary_size(raw, p, ()) == len(raw)
    assert binary(raw, p, (7,)) == b"" and binary_size(raw, p, (7,)) == 0
    # A multipart part is never encoded (RFC 2045 §6.4).
    inner = binary(raw, p, (2,))
    assert inner is not None and inner.startswith(b"From: c@d.test")


# --- PREVIEW (RFC 8970) -----------------------------------------------------------------------


def test_preview() -> None:
    assert preview(parse_message(MULTI)) == "part one"
    long = crlf("Subject: x\n\n" + "word " * 200 + "\n")
    got = preview(parse_message(long))
    assert len(got) == 256 and got.startswith("word word")
    assert preview(parse_message(b"Subject: empty\r\n\r\n")) == ""
