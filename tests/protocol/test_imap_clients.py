"""Real IMAP clients against the real server: Python's imaplib and the imapclient library."""

from __future__ import annotations

import imaplib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from tests.support import require_corpus

from .imap_support import PASSWORD, Env, client_tls, message, running_server


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with running_server(tmp_path / "data") as srv:
        yield Env(srv)


def test_imaplib_session(env: Env) -> None:
    user = env.user()
    env.deliver(user, message("from lmtp", "body one\r\n"))
    typ: str
    data: Any
    with imaplib.IMAP4("127.0.0.1", env.port) as m:
        assert "IMAP4REV2" in m.capabilities
        m.starttls(ssl_context=client_tls())
        typ, _ = m.login(user, PASSWORD)
        assert typ == "OK"
        typ, data = m.select("INBOX")
        assert (typ, data) == ("OK", [b"1"])
        typ, data = m.append("INBOX", "(\\Flagged)", None, message("appended", "body two\r\n"))
        assert typ == "OK" and data[0].startswith(b"[APPENDUID ")
        typ, data = m.search(None, "FLAGGED")
        assert data == [b"2"]
        typ, data = m.fetch("1:2", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        headers = [d[1] for d in data if isinstance(d, tuple)]
        assert headers == [b"Subject: from lmtp\r\n\r\n", b"Subject: appended\r\n\r\n"]
        typ, data = m.store("1", "+FLAGS", "(\\Deleted)")
        assert typ == "OK"
        typ, data = m.expunge()
        assert (typ, data) == ("OK", [b"1"])
        typ, data = m.uid("SEARCH", "ALL")
        assert data == [b"2"]
        typ, data = m.create("Archive/2024")
        assert typ == "OK"
        typ, data = m.list('""', "Archive*")
        assert data == [
            b'(\\HasChildren \\Archive) "/" "Archive"',
            b'(\\HasNoChildren) "/" "Archive/2024"',
        ]
        typ, data = m.uid("COPY", "2", "Archive/2024")
        assert typ == "OK"
        typ, data = m.status("Archive/2024", "(MESSAGES UIDNEXT)")
        assert data == [b'"Archive/2024" (MESSAGES 1 UIDNEXT 2)']
        typ, data = m.namespace()
        assert data == [b'(("" "/")) NIL NIL']
        typ, _ = m.close()
        assert typ == "OK"
        m.logout()


def test_imaplib_ssl_and_authenticate(env: Env) -> None:
    user = env.user()
    with imaplib.IMAP4_SSL("127.0.0.1", env.tls_port, ssl_context=client_tls()) as m:
        typ, _ = m.authenticate("PLAIN", lambda _: f"\0{user}\0{PASSWORD}".encode())
        assert typ == "OK"
        typ, data = m.getquotaroot("INBOX")
        assert typ == "OK"
        m.logout()
    with imaplib.IMAP4("127.0.0.1", env.port) as m:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            m.login(user, "wrong")


def test_imapclient_session(env: Env) -> None:
    user = env.user()
    for i in range(3):
        env.deliver(user, message(f"msg {i}", f"body {i}\r\n"))
    with IMAPClient("127.0.0.1", port=env.port, ssl=False) as c:
        c.login(user, PASSWORD)
        assert c.has_capability("IMAP4REV2") and c.has_capability("MOVE")
        ident = c.id_({"name": "imapclient"})
        assert ident[0][:2] == (b"name", b"stalwart-py"), ident
        info = c.select_folder("INBOX")
        assert info[b"EXISTS"] == 3 and info[b"UIDNEXT"] == 4
        assert c.search(["UNSEEN"]) == [1, 2, 3]
        data = c.fetch(
            [1, 2], ["ENVELOPE", "FLAGS", "RFC822.SIZE", "INTERNALDATE", "BODYSTRUCTURE"]
        )
        assert data[1][b"ENVELOPE"].subject == b"msg 0"
        assert data[2][b"ENVELOPE"].subject == b"msg 1"
        c.add_flags([1], [b"\\Seen", b"$Work"])
        assert set(c.get_flags([1])[1]) == {b"\\Seen", b"$Work", b"\\Recent"}
        c.create_folder("Moved")
        c.move([2], "Moved")
        assert c.search(["ALL"]) == [1, 3]
        assert c.folder_status("Moved", ["MESSAGES"])[b"MESSAGES"] == 1
        assert c.sort(["REVERSE SUBJECT"]) == [3, 1]
        assert c.thread() == ((1,), (3,))
        c.delete_messages([3])
        c.uid_expunge([3])
        assert c.search(["ALL"]) == [1]
        folders = [f[2] for f in c.list_folders()]
        assert "INBOX" in folders and "Moved" in folders
        c.unselect_folder()


def test_imapclient_idle_and_condstore(env: Env) -> None:
    user = env.user()
    env.deliver(user, message("first"))
    with IMAPClient("127.0.0.1", port=env.port, ssl=False) as c:
        c.login(user, PASSWORD)
        c.enable("CONDSTORE")
        info = c.select_folder("INBOX")
        base = info[b"HIGHESTMODSEQ"]
        c.idle()
        env.deliver(user, message("second"))
        deadline = time.monotonic() + 5
        events: list[tuple[object, ...]] = []
        while time.monotonic() < deadline and (2, b"EXISTS") not in events:
            events += c.idle_check(timeout=1)
        c.idle_done()
        assert (2, b"EXISTS") in events
        c.add_flags([1], [b"\\Flagged"])
        changed = c.fetch([1, 2], ["FLAGS"], modifiers=[f"CHANGEDSINCE {base}"])
        assert set(changed) == {1, 2}
        assert all(b"MODSEQ" in v for v in changed.values())


def test_imapclient_corpus_round_trip(env: Env) -> None:
    """APPEND every corpus message; FETCH gives back the same octets and a BODYSTRUCTURE."""
    corpus = require_corpus()
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix in (".eml", ".msg", ""))
    files = [p for p in files if p.name not in ("README.md", "LICENSE-MIT.txt")][:40]
    assert files, "corpus is empty"
    user = env.user()
    with IMAPClient("127.0.0.1", port=env.port, ssl=False) as c:
        c.login(user, PASSWORD)
        c.select_folder("INBOX")
        sent: dict[int, bytes] = {}
        for path in files:
            data = path.read_bytes()
            if not data:
                continue
            result = c.append("INBOX", data)
            uid = int(result.split(b" ")[2].rstrip(b"]"))
            sent[uid] = re.sub(rb"\r\n|\r|\n", b"\r\n", data)  # imaplib sends CRLF lines
        fetched = c.fetch(list(sent), ["BODY.PEEK[]", "BODYSTRUCTURE", "ENVELOPE", "RFC822.SIZE"])
        for uid, data in sent.items():
            assert fetched[uid][b"BODY[]"] == data, f"uid {uid} differs"
            assert fetched[uid][b"RFC822.SIZE"] == len(data)
