"""Keywords shared by IMAP and JMAP: JMAP sees them lower-cased (RFC 8621 §4.1.1) whatever case
an IMAP client gave them, IMAP keeps that case (RFC 3501 §2.3.2: case-insensitive, so the same
keyword), and a keyword JMAP introduces reaches a selected IMAP session in FLAGS before the
FETCH or with the EXISTS that shows it (RFC 3501 §7.2.6 / RFC 9051 §7.3.5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_jmap_conformance_core import Client, jc
from tests.protocol.imap_support import ImapWire

__all__ = ["jc"]

SYSTEM = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"


@pytest.fixture
def imap(jc: Client) -> Iterator[ImapWire]:
    w = ImapWire.connect(jc.ports["imap"])
    w.login(jc.user, jc.password)
    try:
        yield w
    finally:
        w.close()


def email_ids(jc: Client) -> list[str]:
    ids: list[str] = jc.ok("Email/query", {"filter": {"inMailbox": jc.mailbox("inbox")}})["ids"]
    return ids


def test_imap_spelling_is_kept_for_imap_and_lower_cased_for_jmap(
    jc: Client, imap: ImapWire
) -> None:
    jc.deliver("spelled")
    sel = imap.cmd("s1 SELECT INBOX")
    seq = next(int(ln.split()[1]) for ln in sel.lines if ln.endswith(" EXISTS"))
    r = imap.cmd(f"t1 STORE {seq} +FLAGS (ImapCase)")
    assert f"* {seq} FETCH (FLAGS (ImapCase \\Recent))" in r.lines, r.lines
    line = imap.cmd(f"t2 FETCH {seq} (EMAILID)").lines[0]
    eid = line.split("EMAILID (")[1].split(")")[0]
    got = jc.ok("Email/get", {"ids": [eid], "properties": ["keywords"]})["list"][0]
    assert got["keywords"] == {"imapcase": True}  # RFC 8621 §4.1.1: lower case for JMAP
    # JMAP's change of the same keyword is the same keyword for IMAP, still spelled as set.
    jc.ok("Email/set", {"update": {eid: {"keywords/imapcase": None}}})
    jc.ok("Email/set", {"update": {eid: {"keywords/imapcase": True}}})
    imap.cmd("t3 NOOP").expect(
        [f"* {seq} FETCH (UID {uid_of(imap, seq)} FLAGS (ImapCase \\Recent))"],
        "t3 OK NOOP completed",
    )


def uid_of(w: ImapWire, seq: int) -> int:
    line = w.cmd(f"u1 FETCH {seq} (UID)").lines[0]
    return int(line.split("UID ")[1].rstrip(")"))


def test_a_keyword_set_by_jmap_comes_in_flags_before_the_fetch(jc: Client, imap: ImapWire) -> None:
    jc.deliver("jmap keyword")
    imap.cmd("s1 SELECT INBOX")
    eid = email_ids(jc)[0]
    jc.ok("Email/set", {"update": {eid: {"keywords/$jmapword": True}}})
    r = imap.cmd("t1 NOOP")
    flags = next(i for i, ln in enumerate(r.lines) if ln.startswith("* FLAGS"))
    fetch = next(i for i, ln in enumerate(r.lines) if "$jmapword" in ln and " FETCH " in ln)
    assert flags < fetch and "$jmapword" in r.lines[flags], r.lines
    assert (
        r.lines[flags + 1].startswith("* OK [PERMANENTFLAGS (")
        and "$jmapword" in (r.lines[flags + 1])
    )


def test_a_message_imported_by_jmap_with_a_keyword_is_announced(jc: Client, imap: ImapWire) -> None:
    imap.cmd("s1 SELECT INBOX")
    raw = b"From: a@example.net\r\nSubject: imported kw\r\nMessage-ID: <ikw@x>\r\n\r\nbody\r\n"
    blob = jc.upload(raw, "message/rfc822")["blobId"]
    out = jc.ok(
        "Email/import",
        {
            "emails": {
                "i": {
                    "blobId": blob,
                    "mailboxIds": {jc.mailbox("inbox"): True},
                    "keywords": {"$imported": True},
                }
            }
        },
    )
    assert "i" in out["created"], out
    r = imap.cmd("t1 NOOP")
    flags = next(i for i, ln in enumerate(r.lines) if ln.startswith("* FLAGS"))
    exists = next(i for i, ln in enumerate(r.lines) if ln.endswith(" EXISTS"))
    assert flags < exists and " $imported" in r.lines[flags], r.lines
    assert r.lines[flags].startswith(f"* FLAGS ({SYSTEM}"), r.lines
