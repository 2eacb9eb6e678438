"""What FETCH sends of a message's content: BINARY decoding (RFC 3516, RFC 2045 §6.7/§6.8), no NUL
in a normal literal (RFC 9051 §4.3.1), ENVELOPE names from address comments, and the line ends
of what APPEND and LMTP store (RFC 5322 §2.3)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from tests.support import PROBE_BINARY, probe_message

from .imap_support import Env, ImapWire, checked_env

R = re.compile

# RFC 2045 §6.7's own example lines: whitespace after a soft line break's "=" (rule 5), and
# trailing whitespace a transport added (rule 3), which the decoder deletes.
QP_BODY = (
    b"Now's the time =   \r\n"
    b"for all folk to come=\t \r\n"
    b" to the aid of their country.   \r\n"
    b"caf=C3=A9 =3D=3d ok=20\r\n"
    b"=4 and = stay"
)
QP_DECODED = (
    b"Now's the time for all folk to come to the aid of their country.\r\n"
    b"caf\xc3\xa9 == ok \r\n"
    b"=4 and = stay"
)
# RFC 2045 §6.8: line breaks and characters outside the base64 alphabet are ignored.
B64_BODY = b"SGVsbG8s\r\n IHdv*cmxk\r\n!IQ==\r\n"
B64_DECODED = b"Hello, world!"

ENCODED = (
    b"From: alice@remote.test\r\n"
    b"Subject: encodings\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n'
    b"\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n" + QP_BODY + b"\r\n"
    b"--XX\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + B64_BODY + b"--XX--\r\n"
)


def selected(env: Env, *messages: bytes, binary: bool = False) -> ImapWire:
    w = env.session(env.user())
    for i, data in enumerate(messages):
        r = w.cmd_literals(f"p{i} APPEND INBOX ", data, "", binary=binary)
        assert r.status == "OK", str(r)
    w.cmd("s1 SELECT INBOX")
    return w


def test_binary_decodes_quoted_printable_by_rfc2045_rules_3_and_5(env: Env) -> None:
    """RFC 2045 §6.7 rule 3 (trailing whitespace on an encoded line is deleted) and rule 5 (a
    soft line break's "=" may be followed by whitespace); RFC 3516 §4.2: BINARY.SIZE is the
    size of the decoded content BINARY[] sends."""
    w = selected(env, ENCODED)
    n = len(QP_DECODED)
    w.cmd("a1 FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])").expect(
        [f"* 1 FETCH (BINARY.SIZE[1] {n} BINARY[1] {{{n}}}\r\n{QP_DECODED.decode()})"],
        "a1 OK FETCH completed",
    )


def test_binary_decodes_base64_ignoring_line_breaks_and_junk(env: Env) -> None:
    """RFC 2045 §6.8: "Any characters outside of the base64 alphabet are to be ignored" (line
    breaks included)."""
    w = selected(env, ENCODED)
    n = len(B64_DECODED)
    w.cmd("a1 FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2])").expect(
        [f"* 1 FETCH (BINARY.SIZE[2] {n} BINARY[2] {{{n}}}\r\n{B64_DECODED.decode()})"],
        "a1 OK FETCH completed",
    )


def raw_reply(w: ImapWire, line: str) -> bytes:
    """The octets the server sent for one command."""
    w.transcript.clear()
    tag = line.split(" ", 1)[0]
    w.cmd(line)
    return b"".join(w.transcript).split(tag.encode() + b" OK", 1)[0]


def literals(data: bytes) -> list[tuple[bytes, bytes]]:
    """(marker, content) of every literal in ``data`` (``{n}`` or ``~{n}``)."""
    out = []
    pos = 0
    while (m := re.compile(rb"(~?)\{(\d+)\}\r\n").search(data, pos)) is not None:
        n = int(m.group(2))
        out.append((m.group(1) + b"{" + m.group(2) + b"}", data[m.end() : m.end() + n]))
        pos = m.end() + n
    return out


NUL_MESSAGE = (
    b"From: alice@remote.test\r\n"
    b"Subject: nul\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n'
    b"\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"a\x00b\r\n"
    b"--XX\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: binary\r\n"
    b"\r\n"
    b"\x00\x01\x00\r\n"
    b"--XX--\r\n"
)


def test_no_nul_in_a_normal_literal(env: Env) -> None:
    """RFC 9051 §4.3.1 / RFC 3501 §4.3: a literal holds CHAR8 (no NUL); only a literal8 may
    carry NUL (RFC 3516 §4.2).  NUL goes as 0x80 (as Dovecot does), so each literal's size is
    still the stored size: RFC822.SIZE equals the size of BODY[]."""
    w = selected(env, NUL_MESSAGE, binary=True)
    size = len(NUL_MESSAGE)
    for item, want in (
        ("BODY.PEEK[]", NUL_MESSAGE),
        ("RFC822", NUL_MESSAGE),
        ("BODY.PEEK[TEXT]", NUL_MESSAGE[NUL_MESSAGE.index(b"\r\n\r\n") + 4 :]),
        ("BODY.PEEK[1]", b"a\x00b"),
        ("BODY.PEEK[2]", b"\x00\x01\x00"),
        ("BODY.PEEK[]<40.100>", NUL_MESSAGE[40:140]),
    ):
        data = raw_reply(w, f"a1 FETCH 1 ({item} RFC822.SIZE)")
        assert b"\x00" not in data, (item, data)
        assert b"RFC822.SIZE %d" % size in data
        [(marker, content)] = literals(data)
        assert marker == b"{%d}" % len(want), (item, data)
        assert content == want.replace(b"\x00", b"\x80"), (item, data)
    # BINARY sends what is stored, NUL included, in a literal8.
    data = raw_reply(w, "a2 FETCH 1 (BINARY.PEEK[2] BINARY.PEEK[])")
    assert literals(data) == [(b"~{3}", b"\x00\x01\x00"), (b"~{%d}" % size, NUL_MESSAGE)]


def test_envelope_name_from_a_comment(env: Env) -> None:
    """``user@domain (Real Name)``: with no phrase, the comment is the ENVELOPE addr-name
    (RFC 9051 §7.5.2 addr-name; RFC 5322 §3.4's obsolete form), as Dovecot and JMAP's
    EmailAddress (RFC 8621 §4.1.2.3) present it.  A phrase wins over a comment; a quoted-pair
    in the comment is unescaped (RFC 5322 §3.2.2)."""
    data = (
        b"From: alice@remote.test (Alice \\(A\\) Liddell)\r\n"
        b"To: Bob Phrase <bob@example.org> (not this), carol@example.org\r\n"
        b"Cc: <dave@example.org> (Dave)\r\n"
        b"Subject: comments\r\n\r\nhi\r\n"
    )
    w = selected(env, data)
    r = w.cmd("a1 FETCH 1 (ENVELOPE)")
    line = r.lines[0]
    assert '(("Alice (A) Liddell" NIL "alice" "remote.test"))' in line, line
    assert '(("Bob Phrase" NIL "bob" "example.org")(NIL NIL "carol" "example.org"))' in line
    assert '(("Dave" NIL "dave" "example.org"))' in line, line


# -- line ends (RFC 5322 §2.3) ------------------------------------------------------------------

LF_MESSAGE = (
    b"From: alice@remote.test\n"
    b"Subject: bare LF\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="XX"\n'
    b"\n"
    b"--XX\n"
    b"Content-Type: text/plain\n"
    b"\n"
    b"line one\n"
    b"line two\r\r\n"  # a doubled CR before the LF is one line end
    b"old mac\rline\n"  # a lone CR is a line end
    b"--XX\n"
    b"Content-Type: application/octet-stream\n"
    b"Content-Transfer-Encoding: binary\n"
    b"\n"
    b"\x01\n\r\x02\r\n\n\x03"  # binary (RFC 2045 §6.2): CR and LF here are data
    b"\n--XX--\n"
)
LF_STORED = (
    b"From: alice@remote.test\r\n"
    b"Subject: bare LF\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n'
    b"\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"line one\r\n"
    b"line two\r\n"
    b"old mac\r\nline\r\n"
    b"--XX\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: binary\r\n"
    b"\r\n"
    b"\x01\n\r\x02\r\n\n\x03"
    b"\r\n--XX--\r\n"
)


def check_stored_with_crlf(w: ImapWire, seq: int) -> None:
    """BODY[] is the CRLF form, RFC822.SIZE its size, and the parts were found in it."""
    data = raw_reply(w, f"f{seq} FETCH {seq} (RFC822.SIZE BODY.PEEK[] BINARY.PEEK[2] ENVELOPE)")
    assert b"RFC822.SIZE %d " % len(LF_STORED) in data, data
    assert literals(data) == [
        (b"{%d}" % len(LF_STORED), LF_STORED),
        (b"{8}", b"\x01\n\r\x02\r\n\n\x03"),
    ]
    assert b'"bare LF"' in data
    r = w.cmd(f"g{seq} FETCH {seq} (BODY.PEEK[1])")
    assert r.lines == [f"* {seq} FETCH (BODY[1] {{33}}\r\nline one\r\nline two\r\nold mac\r\nline)"]


def test_append_stores_crlf_line_ends(env: Env) -> None:
    """RFC 5322 §2.3 "CR and LF MUST only occur together as CRLF": a message APPENDed with bare
    LF (or lone CR) line ends is stored with CRLF, whole; RFC822.SIZE is the size of what BODY[]
    sends (not the literal's); a part in the binary transfer encoding is kept octet for octet.
    MULTIAPPEND (RFC 3502) likewise."""
    w = env.session(env.user())
    r = w.cmd_literals("a1 APPEND INBOX ", LF_MESSAGE, "", binary=True)
    assert r.status == "OK", str(r)
    mac = b"From: a@remote.test\rSubject: classic Mac\r\rline one\r\rline three\r"
    r = w.cmd_literals("a2 APPEND INBOX ", LF_MESSAGE, " ", mac, "")
    assert r.status == "OK", str(r)
    w.cmd("s1 SELECT INBOX")
    check_stored_with_crlf(w, 1)
    check_stored_with_crlf(w, 2)
    # Lone CRs are line ends too (an empty line included).
    stored = b"From: a@remote.test\r\nSubject: classic Mac\r\n\r\nline one\r\n\r\nline three\r\n"
    data = raw_reply(w, "a3 FETCH 3 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT])")
    assert b"RFC822.SIZE %d " % len(stored) in data, data
    assert [c for _, c in literals(data)] == [stored, b"line one\r\n\r\nline three\r\n"]


def lmtp_raw(port: int, rcpt: str, data: bytes, *, bdat: bool = False) -> list[bytes]:
    """One LMTP transaction over a raw socket (smtplib would fix the line ends itself), with
    DATA or, for ``bdat``, BDAT and BODY=BINARYMIME (RFC 3030); the reply lines."""
    mail = b"MAIL FROM:<a@remote.test>" + (b" BODY=BINARYMIME" if bdat else b"")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        f = sock.makefile("rb")
        replies = [f.readline()]
        for line in (b"LHLO t.test", mail, f"RCPT TO:<{rcpt}>".encode()):
            sock.sendall(line + b"\r\n")
            while True:
                reply = f.readline()
                replies.append(reply)
                if reply[3:4] != b"-":
                    break
        if bdat:
            sock.sendall(b"BDAT %d LAST\r\n" % len(data) + data)
        else:
            sock.sendall(b"DATA\r\n")
            replies.append(f.readline())
            sock.sendall(data + b"\r\n.\r\n")
        replies.append(f.readline())
        sock.sendall(b"QUIT\r\n")
        return replies


def test_lmtp_delivery_stores_crlf_line_ends(env: Env) -> None:
    """RFC 5322 §2.3: a message that arrives over LMTP DATA with bare LF line ends (RFC 5321
    §4.1.1.4 only ends DATA at CRLF.CRLF) is stored with CRLF, whole, after the trace
    headers; RFC822.SIZE is the size of BODY[]."""
    user = env.user()
    replies = lmtp_raw(env.srv.lmtp_port, user, LF_MESSAGE)
    assert replies[-1].startswith(b"250 "), replies
    w = env.session(user)
    w.cmd("s1 SELECT INBOX")
    data = raw_reply(w, "f1 FETCH 1 (RFC822.SIZE BODY.PEEK[])")
    ((_, body),) = literals(data)
    assert b"RFC822.SIZE %d " % len(body) in data
    assert body.endswith(b"\r\n" + LF_STORED + b"\r\n"), body  # DATA's last CRLF is the message's
    assert body.count(b"\n") == body.count(b"\r\n") + 2  # only the binary part's bare LFs


# RFC 2045 §2.7/§2.8 promise CRLF lines under 7bit and 8bit, but raw binary is sent under them
# (and under no encoding): those octets are the content, never line ends to convert.
PROBES = [(enc, text) for enc in (b"8bit", b"7bit", b"") for text in (b"a\r\nb", b"a\nb")]


def check_probe(w: ImapWire, seq: int, stored: bytes) -> None:
    """Part 2 is the 1024 octets sent (RFC 3516 BINARY, BINARY.SIZE); part 1 has CRLF."""
    data = raw_reply(w, f"f{seq} FETCH {seq} (BINARY.SIZE[2] BINARY.PEEK[2] BODY.PEEK[1])")
    assert b"BINARY.SIZE[2] 1024 " in data, data[:200]
    assert literals(data) == [(b"~{1024}", PROBE_BINARY), (b"{4}", b"a\r\nb")]
    body = raw_reply(w, f"g{seq} FETCH {seq} (RFC822.SIZE BINARY.PEEK[])")  # NULs and all
    ((_, whole),) = literals(body)
    assert whole.endswith(stored) and b"RFC822.SIZE %d " % len(whole) in body


def test_append_keeps_raw_binary_under_a_line_encoding(env: Env) -> None:
    """RFC 5322 §2.3 without touching content: APPEND of a message whose part 2 holds raw
    binary under 8bit, 7bit or no Content-Transfer-Encoding stores that part octet for octet,
    whether the rest has CRLF line ends or its text part a bare LF (which gets CRLF)."""
    w = env.session(env.user())
    for n, (enc, text) in enumerate(PROBES, 1):
        r = w.cmd_literals(f"a{n} APPEND INBOX ", probe_message(enc, text), "", binary=True)
        assert r.status == "OK", str(r)
    w.cmd("s1 SELECT INBOX")
    for n, (enc, _) in enumerate(PROBES, 1):
        check_probe(w, n, probe_message(enc, b"a\r\nb"))


def test_lmtp_keeps_raw_binary_under_a_line_encoding(env: Env) -> None:
    """The same over LMTP DATA (RFC 2033; the trace headers come first, DATA's last CRLF is the
    message's): the binary part is stored octet for octet, the text part gets CRLF."""
    user = env.user()
    for enc, text in PROBES:
        replies = lmtp_raw(env.srv.lmtp_port, user, probe_message(enc, text))
        assert replies[-1].startswith(b"250 "), replies
    w = env.session(user)
    w.cmd("s1 SELECT INBOX")
    for n, (enc, _) in enumerate(PROBES, 1):
        check_probe(w, n, probe_message(enc, b"a\r\nb") + b"\r\n")


def test_lmtp_above_max_parse_size_keeps_the_body(tmp_path: Path) -> None:
    """A message larger than delivery.max_parse_size is not split into parts, so no octet of
    its body can be told to be a line end: only its top-level header section gets CRLF (RFC
    5322 §2.3), its binary part (RFC 2045 §6.2) and all the rest arrive as sent (BDAT,
    RFC 3030)."""
    head = b"From: a@remote.test\nSubject: big\nContent-Type: multipart/mixed; boundary=b\n\n"
    body = (
        b"--b\nContent-Type: text/plain\n\nline\n--b\nContent-Transfer-Encoding: binary\n\n"
        + PROBE_BINARY * 2
        + b"\n--b--\n"
    )
    with checked_env(tmp_path / "data", {"STALWART_DELIVERY_MAX_PARSE_SIZE": "2K"}) as big:
        user = big.user()
        replies = lmtp_raw(big.srv.lmtp_port, user, head + body, bdat=True)
        assert replies[-1].startswith(b"250 "), replies
        w = big.session(user)
        w.cmd("s1 SELECT INBOX")
        ((_, stored),) = literals(raw_reply(w, "f1 FETCH 1 (BINARY.PEEK[])"))
        assert stored.endswith(head.replace(b"\n", b"\r\n") + body), stored[-300:]
