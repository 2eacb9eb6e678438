"""Unit tests of the MIME / RFC 5322 parser (protocols.mime)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.mime import (
    MAX_DEPTH,
    Address,
    EnvelopeAddress,
    MimePart,
    ParsedMessage,
    decode_body,
    decode_header_value,
    header_values,
    html_to_text,
    inner_buffer,
    normalize_subject,
    parse_address_list,
    parse_content_type,
    parse_date,
    parse_envelope_addresses,
    parse_message,
    parse_message_ids,
    parse_message_strict,
    part_text,
)
from protocols.mime.address import _parse, _parse_simple
from protocols.mime.codec import base64_decoded_size, decode_base64
from tests.support import CORPUS, CORPUS_ENV, CORPUS_MISSING, require_corpus


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*/*.eml")) if CORPUS.is_dir() else []


def corpus_params() -> list[Any]:
    """One parameter per corpus message, or one skipped parameter saying where to find it."""
    files = corpus_files()
    return files or [pytest.param(None, marks=pytest.mark.skip(reason=CORPUS_MISSING))]


def load(name: str) -> bytes:
    return (require_corpus() / name).read_bytes()


def wire_roundtrip(msg: ParsedMessage) -> ParsedMessage:
    packed = msgpack.packb(msg.to_wire(), use_bin_type=True)
    return ParsedMessage.from_wire(msgpack.unpackb(packed, raw=False))


def walk_all(buf: bytes, msg: ParsedMessage) -> Iterator[tuple[bytes, MimePart]]:
    """Every part, including those of embedded messages, with the buffer its offsets use."""
    for part in msg.parts():
        yield buf, part
        if part.message is not None:
            yield from walk_all(inner_buffer(buf, part), part.message)


def check_offsets(buf: bytes, msg: ParsedMessage) -> None:
    """Offsets are ordered, inside the message span, and children sit inside their parent."""
    root = msg.root
    assert msg.size == root.body_end - root.header_start

    def visit(part: MimePart, lo: int, hi: int) -> None:
        assert lo <= part.header_start <= part.header_end == part.body_start
        assert part.body_start <= part.body_end <= hi
        assert part.size == part.body_end - part.body_start
        for h in part.headers:
            assert part.header_start <= h.start < h.value_start <= h.end <= part.header_end
            assert buf[h.value_start - 1 : h.value_start] == b":"
            assert buf[h.start : h.value_start - 1].rstrip(b" \t").decode("latin-1") == h.name
        for a, b in zip(part.headers, part.headers[1:], strict=False):
            assert a.end < b.start  # fields are disjoint and in order
        for child in part.parts:
            visit(child, part.body_start, part.body_end)
        if part.message is not None and not part.inner_encoded:
            inner = part.message
            assert inner.root.header_start == part.body_start
            assert inner.root.body_end == part.body_end
            visit(inner.root, part.body_start, part.body_end)
        body = buf[part.body_start : part.body_end]
        if part.type != "multipart":
            n = body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)
            assert part.lines == n

    visit(root, root.header_start, len(buf))


def check_ids(msg: ParsedMessage) -> None:
    parts = msg.parts()
    assert [p.part_id for p in parts] == [str(i) for i in range(1, len(parts) + 1)]
    imap = [p.imap_id for p in parts if not (p.is_multipart and p is msg.root)]
    assert len(imap) == len(set(imap))
    known = {p.part_id for p in parts}
    assert set(msg.text_body) <= known
    assert set(msg.html_body) <= known
    assert set(msg.attachments) <= known
    for p in parts:
        if p.is_multipart:
            assert p.parts, "a multipart always has at least one body part"
            for n, child in enumerate(p.parts, 1):
                assert child.imap_id == (f"{p.imap_id}.{n}" if p.imap_id else str(n))


# --- the corpus ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", corpus_params(), ids=lambda p: f"{p.parent.name}/{p.name}" if p else "missing"
)
def test_corpus_message(path: Path) -> None:
    raw = path.read_bytes()
    msg = parse_message_strict(raw)  # the internal-error fallback must never be needed
    assert msg.size == len(raw)
    assert msg.root.header_start == 0 and msg.root.body_end == len(raw)
    check_offsets(raw, msg)
    check_ids(msg)
    assert wire_roundtrip(msg) == msg
    assert len(msg.preview) <= 256
    for buf, part in walk_all(raw, msg):
        data = decode_body(buf, part)
        if part.type != "multipart":
            assert len(data) == part.decoded_size
        assert isinstance(part_text(buf, part), str)
        if part.message is not None:
            check_offsets(inner_buffer(buf, part), part.message)
            check_ids(part.message)


def test_corpus_present_or_skipped_visibly() -> None:
    require_corpus()
    if os.environ.get(CORPUS_ENV):
        assert corpus_files(), f"no */*.eml under {CORPUS}"
    else:
        assert len(corpus_files()) == 107


# --- RFC examples -------------------------------------------------------------------------


def test_rfc8621_body_lists_example() -> None:
    """The worked example of RFC 8621 §4.1.4 (each leaf's body is its letter)."""
    raw = load("rfc/007.eml")
    msg = parse_message(raw)

    def letters(ids: tuple[str, ...]) -> str:
        out = []
        for pid in ids:
            part = msg.part(pid)
            assert part is not None
            if part.message is not None:  # J is a message/rfc822 whose subject is "J"
                out.append(part.message.subject or "")
                continue
            text = part_text(raw, part).strip()
            out.append(text.removeprefix("<html>").removesuffix("</html>"))
        return "".join(out)

    assert letters(msg.text_body) == "ABCDK"
    assert letters(msg.html_body) == "AEK"
    assert letters(msg.attachments) == "CFGHJ"
    assert msg.has_attachment
    assert msg.preview == "A"


def test_rfc2046_multipart_example() -> None:
    raw = load("rfc/000.eml")
    msg = parse_message(raw)
    root = msg.root
    assert (root.type, root.subtype, root.imap_id) == ("multipart", "mixed", "")
    assert root.param("boundary") == "unique-boundary-1"
    summary = [(p.imap_id, p.mime_type) for p in msg.parts()[1:]]
    assert summary == [
        ("1", "text/plain"),
        ("2", "text/plain"),
        ("3", "multipart/parallel"),
        ("3.1", "audio/basic"),
        ("3.2", "image/jpeg"),
        ("4", "text/enriched"),
        ("5", "message/rfc822"),
    ]
    first = root.parts[0]
    assert first.headers == ()  # "the blank between the boundary and the start of the text"
    assert first.charset == "us-ascii"
    assert raw[first.body_start : first.body_end].startswith(b"... Some text appears here")
    audio = root.parts[2].parts[0]
    assert audio.encoding == "base64"
    embedded = root.parts[4].message
    assert embedded is not None
    assert embedded.subject == "(subject in US-ASCII)"
    assert embedded.root.imap_id == "5.1"
    assert embedded.root.mime_type == "text/plain"
    assert msg.sent_at == 781571705
    assert msg.from_ == (Address("Nathaniel Borenstein", "nsb@nsb.fv.com"),)
    assert msg.envelope.from_ == (
        EnvelopeAddress("Nathaniel Borenstein", None, "nsb", "nsb.fv.com"),
    )
    assert msg.envelope.sender == msg.envelope.from_  # RFC 3501 §7.4.2 defaulting
    assert msg.envelope.reply_to == msg.envelope.from_
    assert msg.attachments == (root.parts[3].part_id, root.parts[4].part_id)


def test_rfc2046_simple_boundary_sizes_and_lines() -> None:
    raw = load("rfc/005.eml")
    msg = parse_message(raw)
    one, two = msg.root.parts
    assert raw[one.body_start : one.body_end] == (
        b"This is implicitly typed plain US-ASCII text.\nIt does NOT end with a linebreak."
    )
    assert (one.size, one.lines) == (79, 2)
    assert raw[two.body_start : two.body_end] == (
        b"This is explicitly typed plain US-ASCII text.\nIt DOES end with a linebreak.\n"
    )
    assert (two.size, two.lines) == (76, 2)
    assert raw[two.header_start : two.header_end] == (
        b"Content-type: text/plain; charset=us-ascii\n\n"
    )
    assert header_values(raw, two, "content-type") == [" text/plain; charset=us-ascii"]
    assert msg.text_body == msg.html_body == (one.part_id, two.part_id)
    # The epilogue belongs to the multipart body, not to the last part.
    assert raw[msg.root.body_end - 49 :].startswith(b"This is the epilogue.")


def test_digest_default_type_is_message_rfc822() -> None:
    msg = parse_message(load("rfc/004.eml"))
    digest = msg.root.parts[1]
    assert digest.mime_type == "multipart/digest"
    kinds = [(p.imap_id, p.mime_type) for p in digest.parts]
    assert kinds == [("2.1", "message/rfc822"), ("2.2", "message/rfc822")]
    first = digest.parts[0].message
    assert first is not None and first.subject == "my opinion"
    assert first.root.imap_id == "2.1.1"


def test_forwarded_message_envelope_and_nested_multipart() -> None:
    raw = load("rfc/002.eml")
    msg = parse_message(raw)
    assert msg.subject == "[Fwd: Map of Argentina with Description]"
    assert msg.normalized_subject == "map of argentina with description"
    fwd = msg.root.parts[1]
    assert fwd.mime_type == "message/rfc822" and fwd.disposition == "inline"
    inner = fwd.message
    assert inner is not None
    assert inner.root.imap_id == "2" and inner.root.is_multipart
    assert [p.imap_id for p in inner.root.parts] == ["2.1", "2.2"]
    assert inner.message_id == ("199804130742.RAA20366@mai1host.whitehouse.gov",)
    assert inner.envelope.message_id == "<199804130742.RAA20366@mai1host.whitehouse.gov>"
    assert inner.from_ == (Address("Bill Clinton", "president@whitehouse.gov"),)
    gif = inner.root.parts[1]
    assert gif.name == "map_of_Argentina.gif"
    data = decode_body(raw, gif)
    assert len(data) == gif.decoded_size == 288 and data.endswith(b"\x00;")  # GIF trailer
    assert msg.to == (
        Address("White House Transportation Coordinator", "transport@whitehouse.gov"),
    )


def test_base64_encoded_message_rfc822() -> None:
    raw = load("rfc/008.eml")
    msg = parse_message(raw)
    att = msg.root.parts[1]
    assert att.inner_encoded and att.name == "attached_email.eml"
    inner = att.message
    assert inner is not None
    buf = inner_buffer(raw, att)
    assert inner.size == len(buf) == att.decoded_size
    assert inner.subject == "HTML test"
    assert [p.mime_type for p in inner.parts()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    assert part_text(buf, inner.root.parts[0]).strip() == "This is an *HTML* test message"
    assert inner.preview == "This is an *HTML* test message"
    assert msg.attachments == (att.part_id,)


def test_encoded_words_and_8bit_headers_in_corpus() -> None:
    msg = parse_message(load("legacy/001.eml"))
    assert msg.subject == "Die Hasen und die Frösche (Microsoft Outlook 00)"
    assert Address("Jürgen Schmürgen", "schmuergen@example.com") in msg.to
    assert msg.preview.startswith("Die Hasen und die Frösche Die Hasen klagten")


# --- malformed structure ------------------------------------------------------------------


def test_missing_boundary_gives_one_synthetic_part() -> None:
    raw = load("malformed/002.eml")
    msg = parse_message(raw)
    (child,) = msg.root.parts
    assert child.imap_id == "1" and child.headers == ()
    assert raw[child.body_start : child.body_end] == b"body\n"
    assert msg.preview == "body"


def test_boundary_prefix_of_another_is_not_a_delimiter() -> None:
    # Boundary "a" must not match "--ab" / "--ac" lines (RFC 2046 §5.1.1: only padding may
    # follow the boundary on a delimiter line).
    msg = parse_message(load("malformed/004.eml"))
    assert len(msg.root.parts) == 1 and msg.root.parts[0].headers == ()


def test_unterminated_multipart_runs_to_end() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n"
    msg = parse_message(raw)
    one, two = msg.root.parts
    assert raw[one.body_start : one.body_end] == b"one"
    assert raw[two.body_start : two.body_end] == b"two\r\n"
    assert two.body_end == len(raw)


def test_message_without_header_body_separator() -> None:
    raw = b"Subject: only headers\r\nFrom: a@b.c"
    msg = parse_message(raw)
    assert msg.subject == "only headers"
    assert msg.root.body_start == msg.root.body_end == len(raw)
    assert msg.from_ == (Address(None, "a@b.c"),)


def test_non_header_line_starts_the_body() -> None:
    raw = b"Subject: x\nthis line is not a header\nmore\n"
    msg = parse_message(raw)
    assert raw[msg.root.body_start :] == b"this line is not a header\nmore\n"
    assert msg.preview == "this line is not a header more"


def test_deep_nesting_is_capped_without_error() -> None:
    raw = b"Content-Type: message/rfc822\n\n" * 500 + b"Subject: deep\n\nbottom\n"
    msg = parse_message_strict(raw)
    depth = 0
    cur: ParsedMessage | None = msg
    while cur is not None:
        depth += 1
        cur = cur.root.message
    assert depth == MAX_DEPTH + 1
    assert wire_roundtrip(msg) == msg


def test_many_parts_is_bounded() -> None:
    body = b"".join(b"--x\n\n%d\n" % i for i in range(5000)) + b"--x--\n"
    raw = b"Content-Type: multipart/mixed; boundary=x\n\n" + body
    msg = parse_message_strict(raw)
    assert 1000 <= len(msg.root.parts) < 5000
    check_offsets(raw, msg)


def test_bad_charset_and_encoding_fall_back() -> None:
    raw = (
        b"Subject: =?x-no-such-charset?Q?caf=C3=A9?=\n"
        b"Content-Type: text/plain; charset=base64\n"
        b"Content-Transfer-Encoding: x-uuencode\n\ncaf\xc3\xa9 \xff\n"
    )
    msg = parse_message(raw)
    assert msg.subject == "café"
    assert part_text(raw, msg.root) == "caf\u00c3\u00a9 \u00ff\n"  # not UTF-8: cp1252 fallback
    assert msg.root.encoding == "x-uuencode"
    assert decode_body(raw, msg.root) == b"caf\xc3\xa9 \xff\n"
    # Python-only codecs are not mail charsets (punycode decoding is quadratic).
    slow = b"Content-Type: text/plain; charset=punycode\n\n" + b"a" * 200_000 + b"-" + b"\x80" * 50
    msg = parse_message(slow)
    assert part_text(slow, msg.root).startswith("aaaa")


def test_latin1_8bit_header_fallback() -> None:
    raw = b"Subject: Gr\xfc\xdfe\nFrom: J\xfcrgen <j@example.com>\n\nx"
    msg = parse_message(raw)
    assert msg.subject == "Grüße"
    assert msg.from_ == (Address("Jürgen", "j@example.com"),)
    raw_utf8 = "Subject: Grüße\n\nx".encode()
    assert parse_message(raw_utf8).subject == "Grüße"


# --- CRLF vs LF ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rfc/000.eml", "rfc/002.eml", "rfc/007.eml", "rfc/009.eml"])
def test_crlf_and_lf_give_the_same_structure(name: str) -> None:
    lf = load(name).replace(b"\r\n", b"\n")
    crlf = lf.replace(b"\n", b"\r\n")
    a, b = parse_message(lf), parse_message(crlf)

    def shape(buf: bytes, msg: ParsedMessage) -> list[tuple[str, str, str, int, str]]:
        return [
            (p.imap_id, p.mime_type, p.part_id, p.lines, part_text(buf, p).replace("\r\n", "\n"))
            for _, p in walk_all(buf, msg)
            if not p.is_multipart
        ]

    assert shape(lf, a) == shape(crlf, b)
    assert (a.text_body, a.html_body, a.attachments) == (b.text_body, b.html_body, b.attachments)
    assert (a.subject, a.preview, a.from_, a.envelope) == (
        b.subject,
        b.preview,
        b.from_,
        b.envelope,
    )
    for (_, pa), (_, pb) in zip(walk_all(lf, a), walk_all(crlf, b), strict=True):
        # CRLF adds exactly one octet per line break inside each body.
        body_a = lf[pa.body_start : pa.body_end]
        assert pb.size == pa.size + body_a.count(b"\n")


# --- header values ------------------------------------------------------------------------


def test_rfc2231_continuations_and_charset() -> None:
    ct = (
        "application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
        ' title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn\'t it!"'
    )
    parsed = parse_content_type(ct)
    assert parsed is not None
    assert parsed[2] == (("title", "This is even more ***fun*** isn't it!"),)
    raw = (
        b"Content-Type: application/pdf; name=ignored.pdf\n"
        b"Content-Disposition: attachment;\n filename*0*=UTF-8''Gr%C3%BC%C3%9Fe;\n"
        b' filename*1=".pdf"\n\n%PDF'
    )
    msg = parse_message(raw)
    assert msg.root.name == "Grüße.pdf"
    assert msg.root.disposition == "attachment"
    assert msg.attachments == ("1",) and msg.text_body == ()


def test_rfc2047_words() -> None:
    assert decode_header_value("=?ISO-8859-1?Q?Andr=E9?= Pirard") == "André Pirard"
    # Whitespace between adjacent encoded words is dropped (RFC 2047 §6.2).
    assert decode_header_value("=?UTF-8?B?SGVs?=  \r\n =?UTF-8?B?bG8=?=") == "Hello"
    # A multi-octet character split across two words survives.
    assert decode_header_value("=?utf-8?Q?caf=C3?= =?utf-8?Q?=A9_ok?=") == "café ok"
    assert decode_header_value("=?utf-8*en?q?hi?=") == "hi"
    assert decode_header_value("a =?bogus") == "a =?bogus"
    assert decode_header_value(b"plain \xe9") == "plain é"
    assert "=?" not in decode_header_value("=?utf-8?B?!!!garbage?=")  # decoded, tolerantly
    name = parse_message(b'Content-Type: image/png; name="=?utf-8?B?w6kucG5n?="\n\nx').root.name
    assert name == "é.png"


def test_address_lists() -> None:
    value = (
        '"Doe, John" <john@example.com>, mary@example.org (Mary Smith), '
        "Undisclosed recipients:;, team: a@x.y, B <b@x.y>;, =?utf-8?q?J=C3=BCrgen?= <j@x.y>, "
        "<@route.one,@route.two:user@host.example>"
    )
    assert parse_address_list(value) == [
        Address("Doe, John", "john@example.com"),
        Address("Mary Smith", "mary@example.org"),
        Address(None, "a@x.y"),
        Address("B", "b@x.y"),
        Address("Jürgen", "j@x.y"),
        Address(None, "user@host.example"),
    ]
    env = parse_envelope_addresses(value)
    assert env == (
        EnvelopeAddress("Doe, John", None, "john", "example.com"),
        # The comment names a phrase-less address in ENVELOPE too (as in Dovecot), like JMAP.
        EnvelopeAddress("Mary Smith", None, "mary", "example.org"),
        EnvelopeAddress(None, None, "Undisclosed recipients", None),
        EnvelopeAddress(None, None, None, None),
        EnvelopeAddress(None, None, "team", None),
        EnvelopeAddress(None, None, "a", "x.y"),
        EnvelopeAddress("B", None, "b", "x.y"),
        EnvelopeAddress(None, None, None, None),
        EnvelopeAddress("=?utf-8?q?J=C3=BCrgen?=", None, "j", "x.y"),
        EnvelopeAddress(None, "@route.one,@route.two", "user", "host.example"),
    )
    assert parse_address_list("Recipient-List") == [Address(None, "Recipient-List")]
    assert parse_envelope_addresses("nobody") == (EnvelopeAddress(None, None, "nobody", ""),)
    assert parse_address_list('"unterminated <a@b.c>') == [Address(None, "unterminated <a@b.c>")]
    assert parse_address_list("") == []


def test_message_ids_and_dates() -> None:
    assert parse_message_ids(" <a@b>\r\n <c@d> junk <e\r\n @f>") == ("a@b", "c@d", "e@f")
    assert parse_message_ids("legacy@id.example") == ("legacy@id.example",)
    assert parse_message_ids("no id here") == ()
    assert parse_date("Tue, 14 Dec 2021 11:48:25 +0100") == 1639478905
    assert parse_date("14 Dec 2021 11:48:25 GMT") == 1639482505
    assert parse_date("Fri, 07 Oct 1994 16:15:05 -0700 (PDT)") == 781571705
    assert parse_date("Whenever") is None
    assert parse_date("Mon, 99 Foo 2021 99:99:99 +0000") is None


def test_jmap_header_instances_use_last_envelope_uses_first() -> None:
    raw = b"Subject: first\nSubject: =?utf-8?q?second?=\nReferences: <r1@x> <r2@x>\n\nx"
    msg = parse_message(raw)
    assert msg.subject == "second"
    assert msg.envelope.subject == "first"
    assert msg.references == ("r1@x", "r2@x")
    assert header_values(raw, msg.root, "SUBJECT") == [" first", " =?utf-8?q?second?="]


def test_normalized_subject() -> None:
    cases = {
        "Re: Hello": "hello",
        "RE: Fwd:  AW: [list] Re[2]:  Hello   World": "hello world",
        "SV: Antw: Fw: Status": "status",
        "[Fwd: Map]": "map",
        "Meeting (fwd)": "meeting",
        "[only-a-tag]": "[only-a-tag]",
        "Re:": "",
        "Résumé CAFÉ": "résumé café",
        "": "",
    }
    for subject, expected in cases.items():
        assert normalize_subject(subject) == expected, subject


def test_html_preview_and_text() -> None:
    html = (
        "<html><head><title>T</title><style>p{x:y}</style></head><body>"
        "<p>Hello&nbsp;<b>world</b> &amp; friends</p><script>alert(1)</script>"
        "<!-- hidden --><div>Second&#33;</div></body></html>"
    )
    assert html_to_text(html) == "Hello world & friends\n\nSecond!"
    raw = (
        b"Content-Type: multipart/alternative; boundary=q\n\n--q\n"
        b"Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        + __import__("base64").encodebytes(html.encode())
        + b"--q--\n"
    )
    msg = parse_message(raw)
    assert msg.preview == "Hello world & friends Second!"
    assert msg.html_body == msg.text_body == ("2",)  # HTML only: it stands in for text


def test_preview_is_at_most_256_characters() -> None:
    raw = b"Content-Type: text/plain\n\n" + b"word   \n\t " * 2000
    preview = parse_message(raw).preview
    assert len(preview) == 256 and "  " not in preview and preview.startswith("word word")


def test_base64_tolerance() -> None:
    assert decode_base64(b"SGVs\r\nbG8=\r\n") == b"Hello"
    assert decode_base64(b"SGVsbG8") == b"Hello"  # missing padding
    assert decode_base64(b"SGVs*bG8=") == b"Hello"  # junk characters
    assert decode_base64(b"SGk=SGk=") == b"HiHi"  # concatenated padded blocks
    assert decode_base64(b"S") == b""
    for data in (b"SGVs\r\nbG8=\r\n", b"SGk=SGk=", b"a=b==c", b"QQ", b"!!!"):
        assert base64_decoded_size(data) == len(decode_base64(data))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(alphabet="abc XY.é-", max_size=8)),
            st.text(alphabet="abc.-_0", min_size=1, max_size=6),
            st.text(alphabet="abc.-", min_size=1, max_size=6),
        ),
        max_size=4,
    )
)
def test_address_fast_path_agrees_with_full_parser(
    items: list[tuple[str | None, str, str]],
) -> None:
    value = ", ".join(f"{n} <{lp}@{d}>" if n is not None else f"{lp}@{d}" for n, lp, d in items)
    fast = _parse_simple(value)
    assert fast is not None
    assert fast == _parse(value)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=120
    ).filter(lambda t: t.strip() == t and "=?" not in t)
)
def test_rfc2047_roundtrip_with_stdlib_encoder(text: str) -> None:
    from email.header import Header

    encoded = Header(text, "utf-8").encode()  # folds long values into several words
    assert decode_header_value(encoded) == text


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=60), st.integers(1, 4))
def test_rfc2231_roundtrip(text: str, pieces: int) -> None:
    from urllib.parse import quote

    step = max(1, -(-len(text) // pieces))
    chunks = [quote(text[i : i + step].encode("utf-8"), safe="") for i in range(0, len(text), step)]
    prefix = ["utf-8''"] + [""] * len(chunks)
    params = "".join(f";\r\n filename*{n}*={prefix[n]}{c}" for n, c in enumerate(chunks))
    parsed = parse_content_type("application/octet-stream" + params)
    assert parsed is not None and parsed[2] == (("filename", text),)


def test_folded_header_raw_value_and_offsets() -> None:
    raw = b"Subject: one\r\n two\r\n\tthree\r\nX-Empty:\r\n\r\nbody"
    msg = parse_message(raw)
    subject, empty = msg.headers
    assert raw[subject.value_start : subject.end] == b" one\r\n two\r\n\tthree"
    assert raw[empty.value_start : empty.end] == b""
    assert msg.subject == "one two\tthree"
    assert msg.envelope.subject == "one two\tthree"
    assert raw[msg.header_start : msg.header_end].endswith(b"X-Empty:\r\n\r\n")


# --- property tests -----------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    msg = parse_message_strict(raw)
    assert msg.size == len(raw)
    check_offsets(raw, msg)
    check_ids(msg)
    assert wire_roundtrip(msg) == msg
    for buf, part in walk_all(raw, msg):
        decode_body(buf, part)
        part_text(buf, part)


_LINE = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 -=:;<>\"'\t@.?_/")), min_size=0, max_size=30
)
_HEADER_NAMES = st.sampled_from(
    ["Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Subject", "From", "X-A"]
)


@dataclass(frozen=True, slots=True)
class Leaf:
    ctype: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Multi:
    subtype: str
    kids: tuple[Leaf | Multi, ...]


Tree = Leaf | Multi


@st.composite
def mime_tree(draw: st.DrawFn, depth: int = 0) -> Tree:
    """A random MIME tree of multiparts and leaves."""
    if depth < 3 and draw(st.booleans()):
        kids = draw(st.lists(mime_tree(depth + 1), min_size=1, max_size=4))
        return Multi(draw(st.sampled_from(["mixed", "alternative", "related"])), tuple(kids))
    ctype = draw(st.sampled_from(["text/plain", "text/html", "image/png", "application/x-y"]))
    return Leaf(ctype, tuple(draw(st.lists(_LINE, max_size=4))))


def render(tree: Tree, eol: str, counter: list[int]) -> str:
    if isinstance(tree, Leaf):
        return f"Content-Type: {tree.ctype}{eol}{eol}" + eol.join(tree.lines)
    counter[0] += 1
    boundary = f"=_b{counter[0]}_"
    out = [f'Content-Type: multipart/{tree.subtype}; boundary="{boundary}"{eol}{eol}preamble{eol}']
    for kid in tree.kids:
        out.append(f"--{boundary}{eol}{render(kid, eol, counter)}{eol}")
    out.append(f"--{boundary}--{eol}epilogue")
    return "".join(out)


def shape_of(tree: Tree) -> object:
    if isinstance(tree, Leaf):
        return (tree.ctype, "\n".join(tree.lines))
    return (f"multipart/{tree.subtype}", [shape_of(k) for k in tree.kids])


def parsed_shape(raw: bytes, part: MimePart) -> object:
    if part.is_multipart:
        return (part.mime_type, [parsed_shape(raw, p) for p in part.parts])
    return (part.mime_type, raw[part.body_start : part.body_end].decode().replace("\r\n", "\n"))


@settings(max_examples=200, deadline=None)
@given(mime_tree(), st.sampled_from(["\n", "\r\n"]), st.lists(_HEADER_NAMES, max_size=3))
def test_generated_multiparts_roundtrip(tree: Tree, eol: str, extra: list[str]) -> None:
    headers = "".join(f"X-Extra-{i}-{name}: v{eol}" for i, name in enumerate(extra))
    raw = (f"Subject: gen{eol}{headers}" + render(tree, eol, [0])).encode()
    msg = parse_message_strict(raw)
    assert parsed_shape(raw, msg.root) == shape_of(tree)
    check_offsets(raw, msg)
    check_ids(msg)
    assert wire_roundtrip(msg) == msg
    leaves = {p.part_id for p in msg.parts() if not p.is_multipart}
    listed = set(msg.text_body) | set(msg.html_body) | set(msg.attachments)
    assert listed <= leaves
    if not any(p.subtype == "alternative" for p in msg.parts() if p.is_multipart):
        # Outside multipart/alternative every leaf is a body part or an attachment (the
        # RFC 8621 §4.1.4 algorithm may drop parts nested oddly inside an alternative).
        assert listed == leaves


@settings(max_examples=150, deadline=None)
@given(mime_tree(), st.data())
def test_mutated_multiparts_never_raise(tree: Tree, data: st.DataObject) -> None:
    raw = bytearray(("Subject: m\n" + render(tree, "\n", [0])).encode())
    for _ in range(data.draw(st.integers(0, 8))):
        if not raw:
            break
        pos = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["del", "ins", "flip"]))
        if op == "del":
            del raw[pos : pos + data.draw(st.integers(1, 20))]
        elif op == "ins":
            raw[pos:pos] = data.draw(st.sampled_from([b"--", b"\n", b"\r", b"=?", b";", b'"']))
        else:
            raw[pos] = data.draw(st.integers(0, 255))
    blob = bytes(raw)
    msg = parse_message_strict(blob)
    check_offsets(blob, msg)
    check_ids(msg)
    assert wire_roundtrip(msg) == msg


# --- pathological inputs stay linear -----------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"To: " + b"a " * 50_000 + b"<" + b":" * 50_000 + b"\n\nx",
        b"To: " + b" " * 100_000 + b"x\n\nx",
        b"Content-Type: text/plain; a=" + b" " * 100_000 + b"b\n\nx",
        b"Content-Disposition: " + b"a" * 100_000 + b"=\n\nx",
        b"Content-Type: multipart/mixed; boundary=a\n\n" + b"--a\n" * 50_000,
        b"Content-Type: text/html\n\n" + b"<script" * 20_000 + b"<!--" * 20_000 + b"<" * 20_000,
        b"Subject: " + b"=?utf-8?q?" * 20_000 + b"\n\n",
        b"From: " + b"(" * 50_000 + b"\n\n",
        b"X: y\n" + b" folded\n" * 50_000 + b"\nbody",
        b"Content-Type: text/plain" + b";a" * 50_000 + b"=\n\nx",
        b'Content-Type: text/plain; name="' + b"\\x" * 100_000 + b'"\n\nx',
    ],
    ids=[
        "angle-colons",
        "blank-address",
        "param-blanks",
        "disposition-token",
        "many-delimiters",
        "html-tags",
        "encoded-word-starts",
        "open-comments",
        "long-folding",
        "param-semicolons",
        "long-quoted-param",
    ],
)
def test_pathological_inputs_are_fast(raw: bytes) -> None:
    import time

    start = time.process_time()
    msg = parse_message_strict(raw)
    for buf, part in walk_all(raw, msg):
        part_text(buf, part)
    assert time.process_time() - start < 1.5
    assert wire_roundtrip(msg) == msg


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mime_tree(), st.data())
def test_mutated_multiparts_soak(tree: Tree, data: st.DataObject) -> None:
    test_mutated_multiparts_never_raise.hypothesis.inner_test(tree, data)  # type: ignore[attr-defined]
