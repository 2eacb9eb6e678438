"""COPY and MOVE to the selected mailbox itself (RFC 6851 does not forbid it; RFC 4315 COPYUID;
RFC 7162 VANISHED): the messages get new UIDs there, as Dovecot answers, instead of
``NO [CANNOT]``."""

from __future__ import annotations

import re

from .imap_support import Env, ImapWire, message

R = re.compile


def _filled(env: Env, n: int) -> tuple[str, ImapWire, int]:
    user = env.user()
    w = env.session(user)
    for i in range(n):
        assert w.cmd_literals(f"p{i} APPEND INBOX ", message(f"m{i}"), "").status == "OK"
    r = w.cmd("s1 SELECT INBOX")
    uv = int(r.find(r"\* OK \[UIDVALIDITY (\d+)\] .*").group(1))
    return user, w, uv


def _email_ids(w: ImapWire, tag: str) -> dict[int, str]:
    r = w.cmd(f"{tag} FETCH 1:* (UID EMAILID)")
    assert r.status == "OK", str(r)
    return {
        int(m.group(1)): m.group(2)
        for m in (
            re.fullmatch(r"\* \d+ FETCH \(UID (\d+) EMAILID \((\S+)\)\)", ln) for ln in r.lines
        )
        if m
    }


def test_copy_to_the_selected_mailbox_gives_new_uids_rfc4315(env: Env) -> None:
    """COPY to the selected mailbox: new messages with new UIDs, announced by EXISTS (and
    RECENT: this session is the first told of them), COPYUID in the tagged OK (RFC 4315 §3);
    the copies carry the flags (RFC 9051 §6.4.7)."""
    _, w, uv = _filled(env, 2)
    w.cmd("a1 STORE 1 +FLAGS.SILENT (\\Flagged)")
    w.cmd("a2 COPY 1:2 INBOX").expect(
        ["* 4 EXISTS", "* 4 RECENT"], f"a2 OK [COPYUID {uv} 1:2 3:4] COPY completed"
    )
    w.cmd("a3 UID FETCH 3:4 (FLAGS)").expect(
        [
            "* 3 FETCH (UID 3 FLAGS (\\Flagged \\Recent))",
            "* 4 FETCH (UID 4 FLAGS (\\Recent))",
        ],
        R(r"a3 OK (UID )?FETCH completed"),
    )


def test_move_to_the_selected_mailbox_renumbers_rfc6851(env: Env) -> None:
    """RFC 6851 §4.3 / RFC 4315: MOVE to the selected mailbox is allowed (it used to answer
    NO [CANNOT]): an untagged OK [COPYUID] names the new UIDs, the old ones are expunged,
    EXISTS counts the new ones; flags are kept, the JMAP email id (EMAILID, RFC 8474) too,
    and another session on the mailbox sees the same renumbering."""
    user, w, uv = _filled(env, 3)
    other = env.session(user)
    other.cmd("o1 SELECT INBOX")
    w.cmd("a1 STORE 2 +FLAGS.SILENT (\\Flagged $work)")
    before = _email_ids(w, "a2")
    w.cmd("a3 UID MOVE 1:2 INBOX").expect(
        [
            f"* OK [COPYUID {uv} 1:2 4:5] Moved",
            "* 2 EXPUNGE",
            "* 1 EXPUNGE",
            "* 3 EXISTS",
            "* 3 RECENT",
        ],
        "a3 OK MOVE completed",
    )
    after = _email_ids(w, "a4")
    assert after == {3: before[3], 4: before[1], 5: before[2]}
    w.cmd("a5 FETCH 1:* (UID FLAGS)").expect(
        [
            "* 1 FETCH (UID 3 FLAGS (\\Recent))",
            "* 2 FETCH (UID 4 FLAGS (\\Recent))",
            "* 3 FETCH (UID 5 FLAGS (\\Flagged $work \\Recent))",
        ],
        "a5 OK FETCH completed",
    )
    w.cmd("a6 STATUS INBOX (MESSAGES UIDNEXT)").expect(
        ['* STATUS "INBOX" (MESSAGES 3 UIDNEXT 6)'], "a6 OK STATUS completed"
    )
    r = other.cmd("o2 NOOP")
    # $work is new to this session: FLAGS announces it first (RFC 9051 §7.3.5).
    assert r.lines[0].startswith("* FLAGS (") and "$work" in r.lines[0], str(r)
    news = [line for line in r.lines if not line.startswith(("* FLAGS", "* OK [PERMANENTFLAGS"))]
    assert news[:2] == ["* 2 EXPUNGE", "* 1 EXPUNGE"] and "* 3 EXISTS" in news, str(r)
    other.cmd("o3 UID SEARCH ALL").expect(["* SEARCH 3 4 5"], R(r"o3 OK (UID )?SEARCH completed"))
    # Sequence-number MOVE, and MOVE of a UID that is gone: nothing to do.
    w.cmd("a7 MOVE 1 INBOX").expect(
        [f"* OK [COPYUID {uv} 3 6] Moved", "* 1 EXPUNGE", "* 3 EXISTS", "* 3 RECENT"],
        "a7 OK MOVE completed",
    )
    w.cmd("a8 UID MOVE 3 INBOX").expect([], R(r"a8 OK MOVE completed.*"))


def test_move_to_the_selected_mailbox_with_qresync_rfc7162(env: Env) -> None:
    """A QRESYNC client is told of the old UIDs by VANISHED (RFC 7162 §3.2.10), after the
    COPYUID and before EXISTS; its next SELECT (QRESYNC ...) from the old modseq reports
    them VANISHED (EARLIER) as well."""
    user, _, uv = _filled(env, 2)
    q = env.session(user)
    q.cmd("e1 ENABLE QRESYNC").expect(["* ENABLED QRESYNC"], "e1 OK ENABLE completed")
    r = q.cmd("q1 SELECT INBOX (CONDSTORE)")
    modseq = int(r.find(r"\* OK \[HIGHESTMODSEQ (\d+)\] .*").group(1))
    q.cmd("q2 UID MOVE 1 INBOX").expect(
        [f"* OK [COPYUID {uv} 1 3] Moved", "* VANISHED 1", "* 2 EXISTS", "* 1 RECENT"],
        "q2 OK MOVE completed",
    )
    q.cmd("q3 UID FETCH 1:* (FLAGS)").expect(
        [
            R(r"\* 1 FETCH \(UID 2 FLAGS \(.*\) MODSEQ \(\d+\)\)"),
            R(r"\* 2 FETCH \(UID 3 FLAGS \(.*\) MODSEQ \(\d+\)\)"),
        ],
        R(r"q3 OK (UID )?FETCH completed"),
    )
    q2 = env.session(user)
    q2.cmd("f1 ENABLE QRESYNC")
    r = q2.cmd(f"f2 SELECT INBOX (QRESYNC ({uv} {modseq}))")
    assert "* VANISHED (EARLIER) 1" in r.lines, str(r)
    assert r.has(r"\* 2 FETCH \(UID 3 FLAGS \(.*\) MODSEQ \(\d+\)\)"), str(r)
