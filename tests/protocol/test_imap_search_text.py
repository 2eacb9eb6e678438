"""SEARCH TEXT and BODY are substring matches on the decoded text (RFC 3501 §6.4.4 / RFC 9051
§6.4.4: "messages that contain the specified string"), case-insensitive, in IMAP4rev1 and
IMAP4rev2 sessions, and see a message at once after APPEND or delivery."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from store.fts import Text

from .imap_support import Env, ImapWire, checked_env

MESSAGES = [
    # 1: plain text, the infix example of the issue
    b"From: alice@remote.test\r\nSubject: keyboard\r\n\r\nrow: asdfghjkl; done.\r\n",
    # 2: quoted-printable UTF-8 body, RFC 2047 subject
    b"From: bob@remote.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    b"\r\nDas Caf=C3=A9 am Mark=\r\nt, Stra=C3=9Fe 5.\r\n",
    # 3: two parts (base64 latin-1 text, HTML): a needle must not span them
    b"From: carol@remote.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
    b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"ZW5kIG9mIG9uZSBwYXJ06Q==\r\n--b\r\nContent-Type: text/html\r\n\r\n"
    b"<p>start&nbsp;of <b>two</b> &amp; more</p>\r\n--b--\r\n",
]


def mailbox(env: Env, rev2: bool) -> ImapWire:
    w = env.session(env.user())
    if rev2:
        assert w.cmd("e1 ENABLE IMAP4rev2").status == "OK"
    for i, data in enumerate(MESSAGES):
        assert w.cmd_literals(f"p{i} APPEND INBOX ", data, "").status == "OK"
    w.cmd("s1 SELECT INBOX")
    return w


def search(w: ImapWire, tag: str, key: str, rev2: bool) -> list[int]:
    """UIDs of ``UID SEARCH key``; a ``{n}\r\n`` in ``key`` starts a literal (synchronising,
    its size counted here)."""
    head, sep, literal = key.partition("\r\n")
    if sep:
        w.send(f"{tag} UID SEARCH {head.split('{')[0]}{{{len(literal.encode())}}}\r\n")
        w.read_continuation()
        w.send(literal.encode() + b"\r\n")
        r = w.read_until_tagged(tag)
    else:
        r = w.cmd(f"{tag} UID SEARCH {key}")
    assert r.status == "OK", (key, str(r))
    (line,) = r.untagged
    if not rev2:
        return [int(x) for x in line.split()[2:]]
    assert line.startswith(f'* ESEARCH (TAG "{tag}") UID'), line
    rest = line.split(" UID", 1)[1].strip()
    out: list[int] = []
    for run in rest.removeprefix("ALL ").split(",") if rest else []:
        lo, _, hi = run.partition(":")
        out += range(int(lo), int(hi or lo) + 1)
    return out


@pytest.mark.parametrize("rev2", [False, True], ids=["imap4rev1", "imap4rev2"])
def test_text_and_body_are_substring_matches(env: Env, rev2: bool) -> None:
    """RFC 3501 §6.4.4 TEXT/BODY "contain the specified string": an infix, case-insensitive,
    on transfer- and charset-decoded text; TEXT covers the header, BODY does not; a needle
    never matches across two MIME parts."""
    w = mailbox(env, rev2)
    cases = [
        ("TEXT sdfghjk", [1]),  # the word index cannot find this one
        ("BODY SDFGHJK", [1]),
        ('TEXT "w: asdf"', [1]),  # spaces and punctuation
        ("TEXT keyboard", [1]),  # header
        ("BODY keyboard", []),
        ("CHARSET UTF-8 TEXT {5}\r\nfé a", [2]),  # decoded QP, soft break joined
        ("CHARSET UTF-8 TEXT STRASSE", [2]),  # case folding: ß is ss
        ("CHARSET UTF-8 TEXT {4}\r\ngrüß", [2]),  # RFC 2047 subject
        ("CHARSET UTF-8 BODY {4}\r\ngrüß", []),
        ("CHARSET UTF-8 BODY {10}\r\nrkt, straß", [2]),
        ("CHARSET UTF-8 BODY {10}\r\none parté", [3]),  # base64 latin-1 decoded
        ('BODY "start of two & more"', [3]),  # HTML as text: entities, no tags
        ('BODY "part\u00e9start"', []),
        ('TEXT "tstart"', []),  # would span the two parts
        ("TEXT nothing-like-this", []),
        ("OR BODY asdfghjkl BODY markt", [1, 2]),
        ("NOT TEXT remote.test", []),
        ('TEXT ""', [1, 2, 3]),
    ]
    for n, (key, want) in enumerate(cases):
        assert search(w, f"a{n}", key, rev2) == want, key


def test_text_search_sees_a_message_at_once(env: Env) -> None:
    """Read-your-writes: SEARCH TEXT right after an APPEND or an LMTP delivery finds it (the
    indexer first indexes the account's outstanding changes)."""
    user = env.user()
    w = env.session(user)
    w.cmd("s1 SELECT INBOX")
    for i in range(5):
        data = f"Subject: n{i}\r\n\r\nxyz{i}needle{i}abc\r\n".encode()
        assert w.cmd_literals(f"p{i} APPEND INBOX ", data, "").status == "OK"
        r = w.cmd(f"q{i} UID SEARCH TEXT {i}needle{i}")
        assert r.untagged[-1] == f"* SEARCH {i + 1}", str(r)
    env.deliver(user, b"Subject: lmtp\r\n\r\ndelivered-infix-token\r\n")
    w.cmd("n1 NOOP").expect(["* 6 EXISTS", "* 6 RECENT"], "n1 OK NOOP completed")
    r = w.cmd("q9 UID SEARCH BODY ered-infix-tok")
    assert r.has(r"\* SEARCH 6"), str(r)


def _substring_file(env: Env) -> Path:
    index_dir = env.srv.cfg.search.index_dir
    return index_dir.parent / f"{index_dir.name}-substring.sqlite"


def _server_with_mail(data: Path) -> tuple[str, Path]:
    """A stopped server's data dir holding two indexed messages; their user, the substring
    file."""
    with checked_env(data) as env:
        user = env.user()
        env.deliver(user, b"Subject: kept\r\n\r\nsome-rebuilt-infix-text\r\n")
        env.deliver(user, b"Subject: other\r\n\r\nnothing special\r\n")
        w = env.session(user)
        w.cmd("s1 SELECT INBOX")
        assert w.cmd("a1 SEARCH TEXT ebuilt-inf").untagged == ["* SEARCH 1"]
        texts = _substring_file(env)
    assert texts.exists()
    return user, texts


def _searches_as_before(env: Env, user: str) -> None:
    w = env.session(user)
    w.cmd("s1 SELECT INBOX")
    assert w.cmd("a1 SEARCH TEXT ebuilt-inf").untagged == ["* SEARCH 1"]
    assert w.cmd("a2 SEARCH TEXT not-there").untagged == ["* SEARCH"]
    assert w.cmd('a3 SEARCH BODY "OTHING SPEC"').untagged == ["* SEARCH 2"]


def test_lost_substring_index_is_refilled_without_rebuilding_the_word_index(
    tmp_path: Path,
) -> None:
    """The substring index is derived data: a server that finds it missing (the first start
    after an upgrade, a lost file) refills it from the store, and SEARCH TEXT (RFC 3501
    §6.4.4) answers as before; the word index is kept as it was (no document re-added, its
    queries still answer)."""
    data = tmp_path / "data"
    user, texts = _server_with_mail(data)
    texts.unlink()
    with checked_env(data) as env:
        _searches_as_before(env, user)
        server = env.srv.server
        assert server is not None and server.indexer is not None
        assert server.indexer.indexed == 0  # the word index was not rebuilt
        acct = env.srv.store.principal_by_address(user).id
        assert server.indexer.search(acct, Text("body", "special")) == {2}


def test_corrupt_substring_index_is_dropped_and_refilled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A substring index file that is not a database (damaged, overwritten) does not stop the
    server: it is dropped with a warning and refilled like a missing one, and SEARCH TEXT
    (RFC 3501 §6.4.4) answers as before."""
    data = tmp_path / "data"
    user, texts = _server_with_mail(data)
    texts.write_bytes(b"this is no SQLite database\n" * 1000)
    with caplog.at_level(logging.WARNING, logger="store.fts.substring"):
        with checked_env(data) as env:
            _searches_as_before(env, user)
    assert any("unreadable" in r.getMessage() for r in caplog.records)
