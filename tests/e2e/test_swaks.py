"""Interop: the Debian ``swaks`` tool delivers over LMTP to the real server.

One transaction with a valid, an unknown, a full and a too-small-for-this-message recipient; the
transcript swaks prints is parsed for each recipient's reply, and the store is checked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from stalwart_py.accounts import Directory
from tests.support import ServerThread

SWAKS = shutil.which("swaks")
pytestmark = pytest.mark.skipif(
    SWAKS is None, reason="swaks is not installed (Debian: apt-get install -y swaks)"
)

MESSAGE = (
    b"From: Sender <sender@remote.test>\r\n"
    b"To: undisclosed-recipients:;\r\n"
    b"Subject: swaks interop\r\n"
    b"Message-ID: <swaks-1@remote.test>\r\n"
    b"\r\n"
    b"Delivered by swaks.\r\n"
    b".leading dot, stuffed by swaks and unstuffed by the server\r\n"
) + b"filler line to exceed the small quota\r\n" * 10


@dataclass(frozen=True, slots=True)
class Line:
    direction: str  # "->" client, "<-" server OK, "<**" server error, "===" swaks info
    text: str


_LINE = re.compile(r"^(?P<dir> ->|<- |<\*\*|===|\*\*\*) ?(?P<text>.*)$")


def transcript(stdout: str) -> list[Line]:
    out = []
    for raw in stdout.splitlines():
        m = _LINE.match(raw)
        if m:
            out.append(Line(m["dir"].strip(), m["text"].strip()))
    return out


def replies_by_recipient(lines: list[Line]) -> tuple[dict[str, str], dict[str, str]]:
    """(RCPT replies, post-DATA replies) per recipient, from a swaks LMTP transcript."""
    rcpt: dict[str, str] = {}
    order: list[str] = []
    i = 0
    while i < len(lines):
        m = (
            re.fullmatch(r"RCPT TO:<([^>]*)>", lines[i].text)
            if lines[i].direction == "->"
            else None
        )
        if m:
            reply = lines[i + 1]
            assert reply.direction in ("<-", "<**"), reply
            rcpt[m[1]] = reply.text
            if reply.text.startswith("2"):
                order.append(m[1])
        i += 1
    # The end-of-data line "." from the client, then one reply per accepted recipient.
    end = next(n for n, ln in enumerate(lines) if ln.direction == "->" and ln.text == ".")
    after = [ln.text for ln in lines[end + 1 :] if ln.direction in ("<-", "<**")]
    assert len(after) >= len(order), after
    return rcpt, dict(zip(order, after[: len(order)], strict=True))


def code_and_enhanced(reply: str) -> tuple[int, str]:
    code, enhanced, _ = reply.split(" ", 2)
    return int(code), enhanced


def swaks(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    assert SWAKS is not None
    return subprocess.run(
        [SWAKS, "--protocol", "LMTP", "--server", "127.0.0.1", "--port", str(port), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_swaks_lmtp_transaction(server: ServerThread, directory: Directory, tmp_path: Path) -> None:
    for name in ("alice", "full", "small"):
        directory.create_account(f"{name}@example.org", "pw")
    # full: one message, then a 1-byte quota: over quota already, refused at RCPT.
    seed_file = tmp_path / "seed.eml"
    seed_file.write_bytes(b"Subject: seed\r\n\r\nseed\r\n")
    seed = swaks(server.lmtp_port, "--to", "full@example.org", "--data", str(seed_file))
    assert seed.returncode == 0, seed.stdout + seed.stderr
    directory.set_quota("full@example.org", 1)
    # small: empty, but this message does not fit: accepted at RCPT, 452 after DATA.
    directory.set_quota("small@example.org", 200)
    assert len(MESSAGE) > 200

    data_file = tmp_path / "message.eml"
    data_file.write_bytes(MESSAGE)
    recipients = [
        "alice@example.org",
        "nobody@example.org",
        "full@example.org",
        "small@example.org",
    ]
    result = swaks(
        server.lmtp_port,
        "--helo", "swaks.test",
        "--from", "sender@remote.test",
        "--to", ",".join(recipients),
        "--data", str(data_file),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = transcript(result.stdout)
    rcpt, data = replies_by_recipient(lines)

    assert code_and_enhanced(rcpt["alice@example.org"]) == (250, "2.1.5")
    assert code_and_enhanced(rcpt["nobody@example.org"]) == (550, "5.1.1")
    assert code_and_enhanced(rcpt["full@example.org"]) == (452, "4.2.2")
    assert code_and_enhanced(rcpt["small@example.org"]) == (250, "2.1.5")
    assert {r: code_and_enhanced(t) for r, t in data.items()} == {
        "alice@example.org": (250, "2.0.0"),
        "small@example.org": (452, "4.2.2"),
    }
    protocol = [ln for ln in lines if ln.direction != "==="]
    assert protocol[-2:] == [Line("->", "QUIT"), Line("<-", "221 2.0.0 Bye")]

    store = server.store
    counts = {}
    for name in ("alice", "full", "small"):
        p = store.principal_by_address(f"{name}@example.org")
        counts[name] = store.account(p.id).email_count
    assert counts == {"alice": 1, "full": 1, "small": 0}

    alice = store.principal_by_address("alice@example.org")
    inbox = store.mailbox_by_role(alice.id, "inbox")
    assert inbox.total == 1
    ((_, eid),) = store.mailbox_uids(alice.id, inbox.id)
    raw = store.blob(store.email(alice.id, eid).blob)
    assert raw is not None
    assert raw.startswith(
        b"Return-Path: <sender@remote.test>\r\nDelivered-To: alice@example.org\r\n"
    )
    assert b"from swaks.test (127.0.0.1:" in raw
    assert b"for <alice@example.org>" in raw
    # The message as swaks sent it, dot-unstuffed (swaks ends its DATA with an extra CRLF).
    body = raw[raw.index(b"\r\nFrom: Sender") + 2 :]
    assert body == MESSAGE + b"\r\n"
