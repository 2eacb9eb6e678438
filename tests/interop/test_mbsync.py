"""Interop: Debian's ``mbsync`` (isync) syncs a local Maildir with the server, both ways.

Three folders (INBOX, Archive and Projects, a folder that exists only in the Maildir at first
and is created on the server by mbsync) go through three syncs: the first merges messages that
start on each side, the second propagates flag changes, moves and deletes made on both sides
between syncs, the third changes nothing and must not duplicate or re-upload anything. After
each sync both sides hold exactly the expected messages (by Message-ID) with exactly the
expected flags, and every body arrived intact. The server side is read from the store.
"""

from __future__ import annotations

import email.parser
import imaplib
import shutil
import subprocess
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from stalwart_py.accounts import Directory
from stalwart_py.server import passwords_for
from tests.support import ServerThread, make_config

MBSYNC = shutil.which("mbsync")
pytestmark = pytest.mark.skipif(
    MBSYNC is None, reason="mbsync is not installed (Debian: apt-get install -y isync)"
)

USER = "alice@example.org"
PASSWORD = "mbsync-secret"
FOLDERS = ("INBOX", "Archive", "Projects")

# Maildir info flags (the ":2," suffix) <-> IMAP system flags, as mbsync maps them.
MAILDIR_TO_IMAP = {
    "D": "\\Draft",
    "F": "\\Flagged",
    "R": "\\Answered",
    "S": "\\Seen",
    "T": "\\Deleted",
}
IMAP_TO_MAILDIR = {v: k for k, v in MAILDIR_TO_IMAP.items()}
KEYWORD_TO_IMAP = {
    "$seen": "\\Seen",
    "$answered": "\\Answered",
    "$flagged": "\\Flagged",
    "$draft": "\\Draft",
    "$deleted": "\\Deleted",
}

# Folder -> {Message-ID -> flags}: what one side holds.
View = dict[str, dict[str, frozenset[str]]]


def message(mid: str) -> bytes:
    return (
        f"From: Sender <sender@remote.test>\r\n"
        f"To: {USER}\r\n"
        f"Subject: message {mid}\r\n"
        f"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
        f"Message-ID: <{mid}@mbsync.test>\r\n"
        f"\r\n"
        f"{body_of(mid)}"
    ).encode()


def body_of(mid: str) -> str:
    return f"Body of {mid}.\r\nSecond line of {mid}.\r\n"


@dataclass(frozen=True, slots=True)
class Parsed:
    mid: str
    body: str


def parse(raw: bytes) -> Parsed:
    msg = email.parser.BytesParser().parsebytes(raw)
    mid = str(msg["Message-ID"]).strip().strip("<>").removesuffix("@mbsync.test")
    payload = msg.get_payload()
    assert isinstance(payload, str)
    return Parsed(mid, payload.replace("\r\n", "\n"))


def expected_body(mid: str) -> str:
    return body_of(mid).replace("\r\n", "\n")


# -- the Maildir side ---------------------------------------------------------------------------


class Maildir:
    """The near side: ``root/INBOX`` and ``root/<Folder>`` (SubFolders Verbatim)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._counter = 0

    def folder(self, name: str) -> Path:
        path = self.root / name
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        return path

    def files(self, name: str) -> Iterator[Path]:
        path = self.root / name
        for sub in ("cur", "new"):
            if (path / sub).is_dir():
                yield from (p for p in (path / sub).iterdir() if not p.name.startswith("."))

    def add(self, name: str, mid: str, flags: str = "", *, new: bool = False) -> None:
        self._counter += 1
        base = f"1700000000.{self._counter}_{mid}.test"
        folder = self.folder(name)
        target = folder / "new" / base if new else folder / "cur" / f"{base}:2,{flags}"
        target.write_bytes(message(mid))

    def find(self, name: str, mid: str) -> Path:
        matches = [p for p in self.files(name) if parse(p.read_bytes()).mid == mid]
        assert len(matches) == 1, f"{mid} in local {name}: {matches}"
        return matches[0]

    def set_flags(self, name: str, mid: str, flags: str) -> None:
        path = self.find(name, mid)
        base = path.name.split(":2,")[0]
        path.rename(path.parent.parent / "cur" / f"{base}:2,{''.join(sorted(flags))}")

    def delete(self, name: str, mid: str) -> None:
        self.find(name, mid).unlink()

    def move(self, src: str, dst: str, mid: str) -> None:
        """What a mail reader does: rename into the other folder, dropping mbsync's ``,U=``
        (the UID belongs to the old folder; mbsync(1) asks MUAs to strip it on moves)."""
        path = self.find(src, mid)
        base, _, info = path.name.partition(":2,")
        base = base.split(",U=")[0]
        path.rename(self.folder(dst) / "cur" / f"{base}:2,{info}")

    def view(self) -> View:
        out: View = {}
        for name in FOLDERS:
            folder: dict[str, frozenset[str]] = {}
            for path in self.files(name):
                parsed = parse(path.read_bytes())
                assert parsed.body == expected_body(parsed.mid), path
                # mbsync files unseen messages in new/ but still with an info suffix.
                info = path.name.partition(":2,")[2]
                assert parsed.mid not in folder, f"duplicate {parsed.mid} in local {name}"
                folder[parsed.mid] = frozenset(MAILDIR_TO_IMAP[c] for c in info)
            out[name] = folder
        return out


# -- the server side ----------------------------------------------------------------------------


def server_view(srv: ServerThread) -> View:
    store = srv.store
    principal = store.principal_by_address(USER)
    assert principal is not None
    by_name = {
        "INBOX" if mb.role == "inbox" else mb.name: mb for mb in store.mailboxes(principal.id)
    }
    out: View = {}
    for name in FOLDERS:
        folder: dict[str, frozenset[str]] = {}
        mailbox = by_name.get(name)
        if mailbox is not None:
            for _uid, eid in store.mailbox_uids(principal.id, mailbox.id):
                mail = store.email(principal.id, eid)
                assert mail is not None
                raw = store.blob(mail.blob)
                assert raw is not None
                parsed = parse(raw)
                assert parsed.body == expected_body(parsed.mid), (name, parsed)
                assert parsed.mid not in folder, f"duplicate {parsed.mid} in server {name}"
                folder[parsed.mid] = frozenset(KEYWORD_TO_IMAP.get(k, k) for k in mail.keywords)
        out[name] = folder
    return out


def server_uids(srv: ServerThread) -> dict[str, list[tuple[int, int]]]:
    store = srv.store
    principal = store.principal_by_address(USER)
    assert principal is not None
    return {
        mb.name: store.mailbox_uids(principal.id, mb.id) for mb in store.mailboxes(principal.id)
    }


def expect(spec: dict[str, dict[str, str]]) -> View:
    """``{"INBOX": {"m1": "FS"}}`` with Maildir letters -> a View with IMAP flags."""
    return {
        name: {
            mid: frozenset(MAILDIR_TO_IMAP[c] for c in letters)
            for mid, letters in spec.get(name, {}).items()
        }
        for name in FOLDERS
    }


# -- mbsync -------------------------------------------------------------------------------------


def write_rc(path: Path, port: int, maildir: Path) -> None:
    path.write_text(
        textwrap.dedent(
            f"""\
            IMAPAccount stalwart
            Host 127.0.0.1
            Port {port}
            User {USER}
            Pass {PASSWORD}
            SSLType None
            AuthMechs LOGIN PLAIN

            IMAPStore remote
            Account stalwart

            MaildirStore local
            Path {maildir}/
            Inbox {maildir}/INBOX
            SubFolders Verbatim

            Channel sync
            Far :remote:
            Near :local:
            Patterns {" ".join(FOLDERS)}
            Create Both
            Expunge Both
            SyncState *
            """
        )
    )


def mbsync(rc: Path, home: Path) -> str:
    assert MBSYNC is not None
    done = subprocess.run(
        [MBSYNC, "-c", str(rc), "--all"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    output = f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 0, output
    assert "error" not in done.stderr.lower(), output
    return output


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[ServerThread]:
    cfg = make_config(tmp_path / "data", {"STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "true"})
    srv = ServerThread(cfg).start()
    try:
        Directory(srv.store, passwords_for(srv.cfg)).create_account(USER, PASSWORD)
        yield srv
    finally:
        srv.stop()


def imap_client(srv: ServerThread) -> imaplib.IMAP4:
    assert srv.server is not None
    client = imaplib.IMAP4("127.0.0.1", srv.server.ports["imap"], timeout=30)
    client.login(USER, PASSWORD)
    return client


def ok(result: tuple[str, Sequence[object]]) -> list[object]:
    status, data = result
    assert status == "OK", result
    return list(data)


def uid_of(client: imaplib.IMAP4, mid: str) -> str:
    data = ok(client.uid("SEARCH", "HEADER", "Message-ID", f"<{mid}@mbsync.test>"))
    uids = data[0].split() if isinstance(data[0], bytes) else []
    assert len(uids) == 1, (mid, data)
    return uids[0].decode()


def test_mbsync_two_way_sync(imap_server: ServerThread, tmp_path: Path) -> None:
    srv = imap_server
    assert srv.server is not None
    maildir = Maildir(tmp_path / "mail")
    home = tmp_path / "home"
    home.mkdir()
    rc = tmp_path / "mbsyncrc"
    write_rc(rc, srv.server.ports["imap"], maildir.root)

    # -- starting point: messages on each side ------------------------------------------------
    client = imap_client(srv)
    try:
        for folder, mid, flags in (
            ("INBOX", "m1", "()"),
            ("INBOX", "m2", "(\\Seen)"),
            ("INBOX", "m3", "(\\Seen \\Answered)"),
            ("Archive", "a1", "(\\Flagged \\Seen)"),
            ("Archive", "a2", "()"),
        ):
            ok(client.append(folder, flags, None, message(mid)))
    finally:
        client.logout()
    maildir.add("INBOX", "l1", new=True)
    maildir.add("Projects", "p1", "S")
    maildir.add("Projects", "p2", "")
    assert server_view(srv)["Projects"] == {}  # Projects does not exist on the server yet

    # -- sync 1: merge --------------------------------------------------------------------------
    mbsync(rc, home)
    want = expect(
        {
            "INBOX": {"m1": "", "m2": "S", "m3": "RS", "l1": ""},
            "Archive": {"a1": "FS", "a2": ""},
            "Projects": {"p1": "S", "p2": ""},
        }
    )
    assert server_view(srv) == want
    assert maildir.view() == want
    principal = srv.store.principal_by_address(USER)
    projects = [mb for mb in srv.store.mailboxes(principal.id) if mb.name == "Projects"]
    assert len(projects) == 1 and projects[0].parent_id == 0

    # -- changes on both sides ------------------------------------------------------------------
    client = imap_client(srv)
    try:
        ok(client.select("INBOX"))
        ok(client.uid("STORE", uid_of(client, "m1"), "+FLAGS", "(\\Flagged)"))
        ok(client.uid("STORE", uid_of(client, "m2"), "-FLAGS", "(\\Seen)"))
        ok(client.uid("MOVE", uid_of(client, "m3"), "Archive"))
        ok(client.select("Archive"))
        ok(client.uid("STORE", uid_of(client, "a2"), "+FLAGS", "(\\Deleted)"))
        ok(client.expunge())
        ok(client.append("Projects", "(\\Draft)", None, message("p3")))
    finally:
        client.logout()
    maildir.set_flags("INBOX", "l1", "S")
    maildir.set_flags("Archive", "a1", "S")  # \Flagged removed locally
    maildir.delete("Projects", "p2")
    maildir.move("Projects", "INBOX", "p1")

    # -- sync 2: propagate flags, moves, deletes ------------------------------------------------
    mbsync(rc, home)
    want = expect(
        {
            "INBOX": {"m1": "F", "m2": "", "l1": "S", "p1": "S"},
            "Archive": {"a1": "S", "m3": "RS"},
            "Projects": {"p3": "D"},
        }
    )
    assert server_view(srv) == want
    assert maildir.view() == want

    # -- sync 3: nothing changed, nothing moves ------------------------------------------------
    before = server_uids(srv)
    files_before = {name: sorted(p.name for p in maildir.files(name)) for name in FOLDERS}
    mbsync(rc, home)
    assert server_view(srv) == want
    assert maildir.view() == want
    assert server_uids(srv) == before
    assert {name: sorted(p.name for p in maildir.files(name)) for name in FOLDERS} == files_before
