"""IMAP synchronisation transcripts: CONDSTORE, QRESYNC, rev1 vs rev2 responses, two sessions on
one mailbox (EXISTS, FETCH FLAGS, deferred EXPUNGE), and IDLE (deliveries, keepalive)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .imap_support import Env, ImapWire, checked_env, message

R = re.compile


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with checked_env(tmp_path / "data", {"STALWART_IMAP_IDLE_KEEPALIVE": "0.4s"}) as e:
        yield e


def filled(env: Env, n: int, *, rev2: bool = False) -> tuple[str, ImapWire]:
    user = env.user()
    w = env.session(user)
    if rev2:
        w.cmd("e0 ENABLE IMAP4rev2")
    for i in range(n):
        r = w.cmd_literals(f"p{i} APPEND INBOX ", message(f"m{i}"), "")
        assert r.status == "OK", str(r)
    return user, w


def modseq_of(w: ImapWire, seq: int) -> int:
    r = w.cmd(f"ms FETCH {seq} (MODSEQ)")
    return int(r.find(rf"\* {seq} FETCH \(MODSEQ \((\d+)\)\)").group(1))


def highest(r_lines: list[str]) -> int:
    for ln in r_lines:
        m = re.fullmatch(r"\* OK \[HIGHESTMODSEQ (\d+)\].*", ln)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no HIGHESTMODSEQ in {r_lines!r}")


# -- CONDSTORE -----------------------------------------------------------------------------------


def test_condstore_fetch_store_search(env: Env) -> None:
    _, w = filled(env, 3)
    r = w.cmd("a1 SELECT INBOX (CONDSTORE)")
    assert r.tagged == "a1 OK [READ-WRITE] SELECT completed"
    base = highest(r.lines)
    w.cmd("a2 STORE 2 +FLAGS (\\Flagged)").expect(
        [R(r"\* 2 FETCH \(FLAGS \(\\Flagged \\Recent\) MODSEQ \((\d+)\)\)")],
        "a2 OK STORE completed",
    )
    m2 = modseq_of(w, 2)
    assert m2 > base
    w.cmd(f"a3 FETCH 1:* (FLAGS) (CHANGEDSINCE {base})").expect(
        [f"* 2 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ ({m2}))"], "a3 OK FETCH completed"
    )
    w.cmd(f"a4 UID FETCH 1:* (UID) (CHANGEDSINCE {m2})").expect([], "a4 OK FETCH completed")
    w.cmd(f"a5 SEARCH MODSEQ {base + 1}").expect(
        [f"* SEARCH 2 (MODSEQ {m2})"], "a5 OK SEARCH completed"
    )
    w.cmd(f'a6 SEARCH MODSEQ "/flags/\\\\draft" all {base + 1}').expect(
        [f"* SEARCH 2 (MODSEQ {m2})"], "a6 OK SEARCH completed"
    )
    # UNCHANGEDSINCE: message 2 changed after `base`, message 1 did not (RFC 7162 §3.1.3).
    w.cmd(f"a7 STORE 1:2 (UNCHANGEDSINCE {base}) +FLAGS (\\Seen)").expect(
        [R(r"\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) MODSEQ \(\d+\)\)")],
        "a7 OK [MODIFIED 2] Some messages were modified",
    )
    w.cmd(f"a8 UID STORE 2 (UNCHANGEDSINCE {m2}) +FLAGS.SILENT (\\Answered)").expect(
        [R(r"\* 2 FETCH \(UID 2 MODSEQ \(\d+\)\)")], R(r"a8 OK (UID )?STORE completed")
    )
    w.cmd("a9 STORE 3 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)").expect(
        [], "a9 OK [MODIFIED 3] Some messages were modified"
    )
    r = w.cmd("b1 STATUS INBOX (HIGHESTMODSEQ)")
    assert int(r.find(r'\* STATUS "INBOX" \(HIGHESTMODSEQ (\d+)\)').group(1)) >= m2 + 2


def test_condstore_enabled_by_enable(env: Env) -> None:
    _, w = filled(env, 1)
    w.cmd("a1 ENABLE CONDSTORE").expect(["* ENABLED CONDSTORE"], "a1 OK ENABLE completed")
    w.cmd("a2 SELECT INBOX")
    # Once CONDSTORE is on, FETCH FLAGS carries MODSEQ (RFC 7162 §3.1.4.1).
    w.cmd("a3 FETCH 1 (FLAGS)").expect(
        [R(r"\* 1 FETCH \(FLAGS \(\\Recent\) MODSEQ \(\d+\)\)")], "a3 OK FETCH completed"
    )


# -- QRESYNC -------------------------------------------------------------------------------------


def test_qresync_select_and_vanished(env: Env) -> None:
    user, w = filled(env, 5)
    r = w.cmd("a1 STATUS INBOX (UIDVALIDITY HIGHESTMODSEQ)")
    m = r.find(r'\* STATUS "INBOX" \(UIDVALIDITY (\d+) HIGHESTMODSEQ (\d+)\)')
    uv, base = int(m.group(1)), int(m.group(2))
    w.cmd("a3 SELECT INBOX")
    # Without ENABLE QRESYNC the parameter is a BAD, and the selection stays (RFC 7162 §3.2.5).
    w.cmd("a31 SELECT INBOX (QRESYNC (1 1))").expect([], "a31 BAD QRESYNC was not enabled")
    w.cmd("a32 FETCH 1 (UID)").expect(["* 1 FETCH (UID 1)"], "a32 OK FETCH completed")
    # Change things while the "client" is away: expunge 2 and 4, flag 3.
    w.cmd("a4 STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    w.cmd("a5 EXPUNGE")
    w.cmd("a6 STORE 2 +FLAGS.SILENT (\\Flagged)")  # seq 2 is now UID 3
    w.cmd("a7 LOGOUT")
    w2 = env.session(user)
    w2.cmd("b1 ENABLE QRESYNC").expect(["* ENABLED QRESYNC"], "b1 OK ENABLE completed")
    r = w2.cmd(f"b2 SELECT INBOX (QRESYNC ({uv} {base} 1:5))")
    assert r.tagged == "b2 OK [READ-WRITE] SELECT completed"
    assert "* VANISHED (EARLIER) 2,4" in r.lines, str(r)
    assert r.has(r"\* 2 FETCH \(UID 3 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)"), str(r)
    assert not r.has(r"\* \d+ FETCH \(UID (1|5) .*"), str(r)
    # UID FETCH ... (CHANGEDSINCE m VANISHED) (RFC 7162 §3.2.6).
    w2.cmd(f"b3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE {base} VANISHED)").expect(
        ["* VANISHED (EARLIER) 2,4", R(r"\* 2 FETCH \(UID 3 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)")],
        "b3 OK FETCH completed",
    )
    w2.cmd(f"b4 FETCH 1:* (FLAGS) (CHANGEDSINCE {base} VANISHED)").expect([], R(r"b4 BAD .+"))
    # After ENABLE QRESYNC, EXPUNGE is reported as VANISHED (RFC 7162 §3.2.10).
    w2.cmd("b5 STORE 1 +FLAGS.SILENT (\\Deleted)")
    w2.cmd("b6 EXPUNGE").expect(["* VANISHED 1"], "b6 OK EXPUNGE completed")
    # MOVE reports its expunges as VANISHED too (RFC 6851 §4.3 with RFC 7162).
    w2.cmd("b61 UID MOVE 3 Trash").expect(
        [R(r"\* OK \[COPYUID \d+ 3 1\] Moved"), "* VANISHED 3"], "b61 OK MOVE completed"
    )
    # A stale UIDVALIDITY gets no VANISHED/FETCH.
    r = w2.cmd(f"b7 SELECT INBOX (QRESYNC ({uv + 1} {base}))")
    assert not r.has(r"\* VANISHED.*") and not r.has(r"\* \d+ FETCH.*"), str(r)


# -- rev1 vs rev2 --------------------------------------------------------------------------------


def test_rev1_recent_and_rev2_differences(env: Env) -> None:
    user, w = filled(env, 2)
    r = w.cmd("a1 SELECT INBOX")
    assert "* 2 EXISTS" in r.lines and "* 2 RECENT" in r.lines
    assert not r.has(r"\* LIST .*")
    w.cmd("a2 FETCH 1 FLAGS").expect(["* 1 FETCH (FLAGS (\\Recent))"], "a2 OK FETCH completed")
    # \Recent belongs to one session only: a second session sees none.
    w2 = env.session(user)
    r = w2.cmd("b1 SELECT INBOX")
    assert "* 0 RECENT" in r.lines
    w3 = env.session(user)
    w3.cmd("c1 ENABLE IMAP4rev2").expect(["* ENABLED IMAP4rev2"], "c1 OK ENABLE completed")
    r = w3.cmd("c2 SELECT INBOX")
    assert "* 2 EXISTS" in r.lines
    assert not r.has(r"\* \d+ RECENT") and not r.has(r"\* OK \[UNSEEN .*"), str(r)
    assert '* LIST () "/" "INBOX"' in r.lines
    w3.cmd("c3 SEARCH ALL").expect(['* ESEARCH (TAG "c3") ALL 1:2'], "c3 OK SEARCH completed")
    # ENABLE is only valid in the authenticated state (RFC 5161 §3.1).
    w3.cmd("c4 ENABLE CONDSTORE").expect([], "c4 BAD Command not valid in the selected state")
    # New mail in a rev2 session: EXISTS without RECENT.
    w.cmd_literals("a3 APPEND INBOX ", message("new"), "")
    w3.cmd("c5 NOOP").expect(["* 3 EXISTS"], "c5 OK NOOP completed")


def test_examine_reports_recent_as_select_would_without_clearing_it(env: Env) -> None:
    """RFC 3501 §6.3.2: EXAMINE returns the same untagged responses as SELECT, RECENT
    included, but the mailbox is read-only, so it clears no \\Recent flag (§2.3.2: the
    flag belongs to the first read-write session told about the message)."""
    user, a = filled(env, 2)
    r = a.cmd("a1 EXAMINE INBOX")
    assert "* 2 EXISTS" in r.lines and "* 2 RECENT" in r.lines, str(r)
    a.cmd("a2 FETCH 1:* (FLAGS)").expect(
        ["* 1 FETCH (FLAGS (\\Recent))", "* 2 FETCH (FLAGS (\\Recent))"], "a2 OK FETCH completed"
    )
    c = env.session(user)
    c.cmd("c1 STATUS INBOX (RECENT)").expect(
        ['* STATUS "INBOX" (RECENT 2)'], "c1 OK STATUS completed"
    )
    assert "* 2 RECENT" in a.cmd("a3 EXAMINE INBOX").lines
    b = env.session(user)
    assert "* 2 RECENT" in b.cmd("b1 SELECT INBOX").lines  # EXAMINE cleared nothing
    # Now the read-write session holds them: EXAMINE says what SELECT would say now.
    assert "* 0 RECENT" in a.cmd("a4 EXAMINE INBOX").lines
    a.cmd("a5 FETCH 1:* (FLAGS)").expect(
        ["* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS ())"], "a5 OK FETCH completed"
    )
    # A new message: the examining session reports it recent, and leaves it for the next
    # read-write session to claim.
    c.cmd_literals("c2 APPEND INBOX ", message("third"), "")
    a.cmd("a6 NOOP").expect(["* 3 EXISTS", "* 1 RECENT"], "a6 OK NOOP completed")
    b.cmd("b2 NOOP").expect(["* 3 EXISTS", "* 3 RECENT"], "b2 OK NOOP completed")


# -- two sessions --------------------------------------------------------------------------------


def test_two_sessions_exists_flags_expunge(env: Env) -> None:
    user, w1 = filled(env, 3)
    w1.cmd("a1 SELECT INBOX")
    w2 = env.session(user)
    w2.cmd("b1 SELECT INBOX")
    # The appending session is the first to hear of the new message, so it is \Recent there.
    w1.cmd_literals("a2 APPEND INBOX ", message("fourth"), "").expect(
        ["* 4 EXISTS", "* 4 RECENT"], R(r"a2 OK \[APPENDUID \d+ 4\] APPEND completed")
    )
    w2.cmd("b2 NOOP").expect(["* 4 EXISTS", "* 0 RECENT"], "b2 OK NOOP completed")
    w1.cmd("a3 NOOP").expect([], "a3 OK NOOP completed")
    w1.cmd("a4 STORE 2 +FLAGS (\\Flagged)").expect(
        ["* 2 FETCH (FLAGS (\\Flagged \\Recent))"], "a4 OK STORE completed"
    )
    w2.cmd("b3 NOOP").expect(["* 2 FETCH (UID 2 FLAGS (\\Flagged))"], "b3 OK NOOP completed")
    # w1 expunges message 1; w2 must not hear of it during FETCH, STORE or SEARCH.
    w1.cmd("a5 STORE 1 +FLAGS.SILENT (\\Deleted)")
    w1.cmd("a6 EXPUNGE").expect(["* 1 EXPUNGE"], "a6 OK EXPUNGE completed")
    r = w2.cmd("b4 FETCH 2:4 (UID)")
    r.expect(
        ["* 2 FETCH (UID 2)", "* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)"], "b4 OK FETCH completed"
    )
    r = w2.cmd("b5 STORE 3 +FLAGS (\\Seen)")
    assert not r.has(r"\* \d+ EXPUNGE"), str(r)
    assert "* 3 FETCH (FLAGS (\\Seen))" in r.lines, str(r)
    r = w2.cmd("b6 SEARCH ALL")
    assert r.lines == ["* SEARCH 1 2 3 4"] or r.lines == ["* SEARCH 2 3 4"], str(r)
    r = w2.cmd("b7 UID SEARCH ALL")
    assert not r.has(r"\* \d+ EXPUNGE"), str(r)
    # The expunged message, still numbered 1 here, cannot be fetched.
    r = w2.cmd("b8 FETCH 1 (FLAGS)")
    assert not r.has(r"\* \d+ EXPUNGE"), str(r)
    assert r.tagged in (
        "b8 NO [EXPUNGEISSUED] Some messages were expunged",
        "b8 OK FETCH completed",
    ), str(r)
    w2.cmd("b9 NOOP").expect(["* 1 EXPUNGE"], "b9 OK NOOP completed")
    # Sequence numbers now agree in both sessions.
    # w2's STORE reaches w1 as unsolicited FETCH FLAGS (allowed during FETCH, RFC 9051 §7.5.2).
    w1.cmd("a7 FETCH 1:* (UID)").expect(
        [
            "* 1 FETCH (UID 2)",
            "* 2 FETCH (UID 3)",
            "* 3 FETCH (UID 4)",
            "* 2 FETCH (UID 3 FLAGS (\\Seen \\Recent))",
        ],
        "a7 OK FETCH completed",
    )
    w2.cmd("c1 FETCH 1:* (UID)").expect(
        ["* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)", "* 3 FETCH (UID 4)"], "c1 OK FETCH completed"
    )
    w1.cmd("a8 NOOP").expect([], "a8 OK NOOP completed")


def test_two_sessions_expunge_same_message(env: Env) -> None:
    user, w1 = filled(env, 2)
    w1.cmd("a1 SELECT INBOX")
    w2 = env.session(user)
    w2.cmd("b1 SELECT INBOX")
    w1.cmd("a2 STORE 1 +FLAGS.SILENT (\\Deleted)")
    w2.cmd("b2 STORE 1 +FLAGS.SILENT (\\Deleted)")
    w1.cmd("a3 EXPUNGE").expect(["* 1 EXPUNGE"], "a3 OK EXPUNGE completed")
    w2.cmd("b3 EXPUNGE").expect(["* 1 EXPUNGE"], "b3 OK EXPUNGE completed")
    w1.cmd("a4 NOOP").expect([], "a4 OK NOOP completed")
    w2.cmd("b4 FETCH 1:* (UID)").expect(["* 1 FETCH (UID 2)"], "b4 OK FETCH completed")
    w1.cmd("a5 STATUS INBOX (MESSAGES)")  # the session survives STATUS on its own mailbox


def test_move_seen_by_other_session(env: Env) -> None:
    user, w1 = filled(env, 2)
    w1.cmd("a1 SELECT INBOX")
    w2 = env.session(user)
    w2.cmd("b1 SELECT INBOX")
    w1.cmd("a2 MOVE 1 Trash")
    w2.cmd("b2 NOOP").expect(["* 1 EXPUNGE"], "b2 OK NOOP completed")
    w2.cmd("b3 FETCH 1 (UID)").expect(["* 1 FETCH (UID 2)"], "b3 OK FETCH completed")


# -- IDLE ----------------------------------------------------------------------------------------


def test_idle_delivery_and_keepalive(env: Env) -> None:
    user, w = filled(env, 1)
    w.cmd("a1 SELECT INBOX")
    w.send("a2 IDLE\r\n")
    assert w.read_line().startswith("+ ")
    env.deliver(user, message("during idle"))
    lines = [w.read_line(), w.read_line()]
    assert lines == ["* 2 EXISTS", "* 2 RECENT"], lines
    started = time.monotonic()
    assert w.read_line() == "* OK Still here"
    assert time.monotonic() - started < 3
    w.send("DONE\r\n")
    w.read_until_tagged("a2").expect([], "a2 OK IDLE terminated")
    w.cmd("a3 FETCH 2 (FLAGS)").expect(["* 2 FETCH (FLAGS (\\Recent))"], "a3 OK FETCH completed")


def test_idle_flag_and_expunge_from_other_session(env: Env) -> None:
    user, w1 = filled(env, 2, rev2=True)
    w1.cmd("a1 SELECT INBOX")
    w2 = env.session(user)
    w2.cmd("b1 SELECT INBOX")
    w1.send("a2 IDLE\r\n")
    assert w1.read_line().startswith("+ ")
    w2.cmd("b2 STORE 2 +FLAGS (\\Seen)")
    assert w1.read_line() == "* 2 FETCH (UID 2 FLAGS (\\Seen))"
    w2.cmd("b3 STORE 1 +FLAGS.SILENT (\\Deleted)")
    w2.cmd("b4 EXPUNGE")
    line = w1.read_line()
    while line.startswith("* 1 FETCH") or line == "* OK Still here":
        line = w1.read_line()
    assert line == "* 1 EXPUNGE"
    w1.send("DONE\r\n")
    w1.read_until_tagged("a2").expect([], "a2 OK IDLE terminated")


def test_idle_bad_continuation_and_idle_in_auth_state(env: Env) -> None:
    _, w = filled(env, 1)
    w.send("a1 IDLE\r\n")
    assert w.read_line().startswith("+ ")
    w.send("NOT-DONE\r\n")
    w.read_until_tagged("a1").expect([], "a1 BAD Expected DONE")
    w.cmd("a2 NOOP").expect([], "a2 OK NOOP completed")


def test_search_modseq_names_only_returned_messages(env: Env) -> None:
    """RFC 7162 §3.1.5 / RFC 4731 §3.2: the MODSEQ in a SEARCH/ESEARCH answer is the highest of
    the messages returned, not of every message the MODSEQ key looked at."""
    _, w = filled(env, 3)
    base = highest(w.cmd("a1 SELECT INBOX (CONDSTORE)").lines)
    w.cmd("a2 STORE 1 +FLAGS (\\Flagged)")
    m1 = modseq_of(w, 1)
    w.cmd("a3 STORE 3 +FLAGS (\\Seen)")  # the newest change, on a message UNSEEN drops
    m3 = modseq_of(w, 3)
    assert m3 > m1 > base
    w.cmd(f"a4 SEARCH MODSEQ {base + 1} UNSEEN").expect(
        [f"* SEARCH 1 (MODSEQ {m1})"], "a4 OK SEARCH completed"
    )
    w.cmd("a5 STORE 2 +FLAGS (\\Answered)")
    m2 = modseq_of(w, 2)
    w.cmd(f"a6 SEARCH RETURN (MIN) MODSEQ {base + 1}").expect(
        [f'* ESEARCH (TAG "a6") MIN 1 MODSEQ {m1}'], "a6 OK SEARCH completed"
    )
    w.cmd(f"a7 SEARCH RETURN (MIN MAX) MODSEQ {base + 1}").expect(
        [f'* ESEARCH (TAG "a7") MIN 1 MAX 3 MODSEQ {m3}'], "a7 OK SEARCH completed"
    )
    w.cmd(f"a8 SEARCH RETURN (COUNT) MODSEQ {base + 1}").expect(
        [f'* ESEARCH (TAG "a8") COUNT 3 MODSEQ {max(m1, m2, m3)}'], "a8 OK SEARCH completed"
    )
