"""Keywords over IMAP: the FLAGS list clients record (RFC 3501 §7.2.6 / RFC 9051 §7.3.5) is sent
again *before* any FETCH that shows a keyword the session was not told of — whoever introduced
it (this session's STORE or APPEND, another session, a delivery) — and a keyword keeps the case
an IMAP client first gave it while matching case-insensitively (RFC 3501 §2.3.2 / RFC 9051
§2.3.2).  Transcripts over real sockets, for IMAP4rev1 and IMAP4rev2 sessions.  The FLAGS
tests use lower-case keywords, so that they check the announcement and nothing of the case."""

from __future__ import annotations

import re

import pytest

from .imap_support import Env, ImapWire, message

SYSTEM = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"
REV = pytest.mark.parametrize("rev2", [False, True], ids=["rev1", "rev2"])


def flags_lines(*keywords: str) -> list[str]:
    """The FLAGS and PERMANENTFLAGS responses of a read-write mailbox with these keywords."""
    words = "".join(f" {k}" for k in keywords)
    return [
        f"* FLAGS ({SYSTEM}{words})",
        f"* OK [PERMANENTFLAGS ({SYSTEM}{words} \\*)] Flags permitted",
    ]


def stored(w: ImapWire, command: str, announced: list[str], *fetches: str) -> None:
    """``command`` (a tagged STORE) answers FLAGS and PERMANENTFLAGS listing ``announced``
    when any is given, then exactly ``fetches``."""
    tag = command.split()[0]
    told = flags_lines(*announced) if announced else []
    w.cmd(command).expect([*told, *fetches], f"{tag} OK STORE completed")


def recent(rev2: bool) -> str:
    return "" if rev2 else " \\Recent"


def selected(env: Env, user: str, *, rev2: bool, examine: bool = False) -> ImapWire:
    w = env.session(user)
    if rev2:
        w.cmd("e1 ENABLE IMAP4rev2").expect(["* ENABLED IMAP4rev2"], "e1 OK ENABLE completed")
    r = w.cmd("s1 EXAMINE INBOX" if examine else "s1 SELECT INBOX")
    assert r.status == "OK", str(r)
    return w


def mailbox_with(env: Env, count: int) -> str:
    user = env.user()
    for n in range(count):
        env.deliver(user, message(f"m{n}"))
    return user


# -- RFC 3501 §7.2.6 / RFC 9051 §7.3.5: FLAGS before the FETCH that uses a new keyword ----------


@REV
def test_own_store_sends_flags_before_the_fetch_using_a_new_keyword(env: Env, rev2: bool) -> None:
    a = selected(env, mailbox_with(env, 2), rev2=rev2)
    r = recent(rev2)
    stored(a, "t1 STORE 1 +FLAGS (\\Seen $new)", ["$new"], f"* 1 FETCH (FLAGS ($new \\Seen{r}))")
    # Told once: the same keyword on another message needs no new FLAGS.
    stored(a, "t2 STORE 2 +FLAGS ($new)", [], f"* 2 FETCH (FLAGS ($new{r}))")
    # .SILENT too: the client is told of the mailbox's new keyword, just not of the message.
    stored(a, "t3 STORE 2 +FLAGS.SILENT ($quiet)", ["$new", "$quiet"])


@REV
def test_another_sessions_new_keyword_comes_in_flags_before_the_news(env: Env, rev2: bool) -> None:
    user = mailbox_with(env, 1)
    a = selected(env, user, rev2=rev2)
    b = selected(env, user, rev2=rev2)
    stored(b, "t1 STORE 1 +FLAGS.SILENT ($other)", ["$other"])
    a.cmd("t2 NOOP").expect(
        [*flags_lines("$other"), f"* 1 FETCH (UID 1 FLAGS ($other{recent(rev2)}))"],
        "t2 OK NOOP completed",
    )


@REV
def test_idle_announces_a_new_keyword_before_the_fetch(env: Env, rev2: bool) -> None:
    user = mailbox_with(env, 1)
    a = selected(env, user, rev2=rev2)
    b = selected(env, user, rev2=rev2)
    a.send("i1 IDLE\r\n")
    assert a.read_line().startswith("+ ")
    b.cmd("t1 STORE 1 +FLAGS ($idle)")
    lines = [a.read_line() for _ in range(3)]
    assert lines[:2] == flags_lines("$idle"), lines
    assert re.fullmatch(r"\* 1 FETCH \(UID 1 FLAGS \(\$idle( \\Recent)?\)\)", lines[2]), lines
    a.send("DONE\r\n")
    a.read_until_tagged("i1").expect([], "i1 OK IDLE terminated")


@REV
def test_a_new_message_with_a_new_keyword_is_announced_with_its_exists(
    env: Env, rev2: bool
) -> None:
    """APPEND by another session (and, the same way, delivery or JMAP import: tests/e2e)."""
    user = mailbox_with(env, 1)
    a = selected(env, user, rev2=rev2)
    b = env.session(user)
    data = message("appended")
    b.cmd_literals("p1 APPEND INBOX ($arrived) ", data, "")
    r = a.cmd("t1 NOOP")
    # \Recent: a claimed the first message at SELECT and now the second (RFC 3501 §2.3.2).
    want = [*flags_lines("$arrived"), "* 2 EXISTS"] + ([] if rev2 else ["* 2 RECENT"])
    r.expect(want, "t1 OK NOOP completed")
    a.cmd("t2 FETCH 2 (FLAGS)").expect(
        [f"* 2 FETCH (FLAGS ($arrived{recent(rev2)}))"], "t2 OK FETCH completed"
    )


def test_own_append_to_the_selected_mailbox_announces_its_keyword(env: Env) -> None:
    a = selected(env, mailbox_with(env, 1), rev2=False)
    r = a.cmd_literals("p1 APPEND INBOX ($mine) ", message("mine"), "")
    assert r.lines[:3] == [*flags_lines("$mine"), "* 2 EXISTS"], r.lines


@pytest.mark.parametrize("command", ["COPY", "MOVE"])
def test_a_message_copied_or_moved_in_is_announced_with_its_exists(env: Env, command: str) -> None:
    user = env.user()
    env.deliver(user, message("elsewhere"))
    b = env.session(user)
    b.cmd("c1 CREATE Other")
    b.cmd("c2 SELECT INBOX")
    b.cmd("c3 STORE 1 +FLAGS.SILENT ($carried)")
    w = env.session(user)
    w.cmd("s1 SELECT Other")
    assert b.cmd(f"c4 {command} 1 Other").status == "OK"
    w.cmd("t1 NOOP").expect(
        [*flags_lines("$carried"), "* 1 EXISTS", "* 1 RECENT"], "t1 OK NOOP completed"
    )


@REV
def test_fetch_showing_another_sessions_new_keyword_sends_flags_first(env: Env, rev2: bool) -> None:
    """FETCH reads the current flags (its news comes after its own lines): a keyword another
    session just set is announced before the FETCH line that shows it."""
    user = mailbox_with(env, 1)
    a = selected(env, user, rev2=rev2)
    b = selected(env, user, rev2=rev2)
    b.cmd("t1 STORE 1 +FLAGS.SILENT ($late)")
    r = a.cmd("t2 FETCH 1 (FLAGS)")
    # (then the change as news too: FETCH does not count as having reported it)
    assert r.lines[:3] == [*flags_lines("$late"), f"* 1 FETCH (FLAGS ($late{recent(rev2)}))"], r


@REV
def test_read_only_sessions_get_flags_but_permanentflags_stays_empty(env: Env, rev2: bool) -> None:
    user = mailbox_with(env, 1)
    a = selected(env, user, rev2=rev2, examine=True)
    b = selected(env, user, rev2=rev2)
    b.cmd("t1 STORE 1 +FLAGS.SILENT ($ro)")
    # EXAMINE shows the message \Recent as SELECT would (RFC 3501 §6.3.2); rev2 has no \Recent.
    recent = "" if rev2 else " \\Recent"
    a.cmd("t2 NOOP").expect(
        [f"* FLAGS ({SYSTEM} $ro)", f"* 1 FETCH (UID 1 FLAGS ($ro{recent}))"],
        "t2 OK NOOP completed",
    )


# -- RFC 3501 §2.3.2 / RFC 9051 §2.3.2: case kept, matched case-insensitively ----------------


@REV
def test_a_keyword_keeps_the_case_first_set_and_matches_case_insensitively(
    env: Env, rev2: bool
) -> None:
    user = mailbox_with(env, 3)
    a = selected(env, user, rev2=rev2)
    r = f"{recent(rev2)}"
    stored(
        a,
        "t1 STORE 1 +FLAGS (MyKeyWord \\SEEN)",
        ["MyKeyWord"],
        f"* 1 FETCH (FLAGS (\\Seen MyKeyWord{r}))",
    )
    # Another spelling is the same keyword: shown as first set, listed once.
    stored(a, "t2 STORE 2 +FLAGS (mykeyword)", [], f"* 2 FETCH (FLAGS (MyKeyWord{r}))")
    a.cmd("t3 UID SEARCH KEYWORD MYKEYWORD").expect(
        [R_SEARCH(rev2, "1:2", "1 2")], re.compile(r"t3 OK .*")
    )
    stored(a, "t4 STORE 1 -FLAGS (mykeyword)", [], f"* 1 FETCH (FLAGS (\\Seen{r}))")
    # Another session, and a fresh SELECT, see the first spelling once.
    b = env.session(user)
    sel = b.cmd("s1 SELECT INBOX")
    assert sel.lines[:2] == flags_lines("MyKeyWord"), sel.lines
    b.cmd("f1 FETCH 2 (FLAGS)").expect(
        [re.compile(r"\* 2 FETCH \(FLAGS \(MyKeyWord( \\Recent)?\)\)")], "f1 OK FETCH completed"
    )
    # APPEND keeps the spelling too (first set by APPEND here).
    b.cmd_literals("p1 APPEND INBOX (ApPended) ", message("x"), "")
    b.cmd("f2 FETCH 4 (FLAGS)").expect(
        [re.compile(r"\* 4 FETCH \(FLAGS \(ApPended( \\Recent)?\)\)")], "f2 OK FETCH completed"
    )
    # The store (and so JMAP, RFC 8621 §4.1.1) has them lower-cased.
    store = env.srv.store
    principal = store.principal_by_address(user)
    assert principal is not None
    keywords = {k for e in store.emails(principal.id) for k in e.keywords}
    assert keywords == {"mykeyword", "appended", "$seen"}


def R_SEARCH(rev2: bool, esearch: str, plain: str) -> str:
    return f'* ESEARCH (TAG "t3") UID ALL {esearch}' if rev2 else f"* SEARCH {plain}"


# -- limits: keywords per message, and the spellings kept per account ---------------------------


def test_too_many_keywords_on_a_message_is_no_limit(env: Env) -> None:
    """RFC 5530 §3 LIMIT: a STORE that would put more than 128 keywords on a message is refused
    with NO [LIMIT] (not [EXPUNGEISSUED]: the message is there), and removing keywords from a
    message always works."""
    user = mailbox_with(env, 1)
    w = selected(env, user, rev2=True)
    first = " ".join(f"k{n}" for n in range(128))
    r = w.cmd(f"a1 STORE 1 +FLAGS.SILENT ({first})")
    assert r.status == "OK", str(r)
    r = w.cmd("a2 STORE 1 +FLAGS.SILENT (one-more)")
    assert r.status == "NO" and r.tagged.startswith("a2 NO [LIMIT]"), str(r)
    w.cmd("a3 FETCH 1 (FLAGS)")
    r = w.cmd("a4 STORE 1 -FLAGS.SILENT (k0 k1)")
    assert r.status == "OK", str(r)
    r = w.cmd("a5 STORE 1 +FLAGS.SILENT (one-more)")
    assert r.status == "OK", str(r)
    r = w.cmd("a6 APPEND INBOX (" + first + " extra) {3+}\r\nx\r\n")
    assert r.status == "NO" and "[LIMIT]" in r.tagged, str(r)


def test_spellings_kept_per_account_are_bounded(env: Env) -> None:
    """The first IMAP spelling of each keyword is kept for at most 1,000 keywords per account:
    a client inventing keywords cannot grow the table without bound; later ones show in lower
    case (still matched case-insensitively, RFC 9051 §2.3.2)."""
    user = mailbox_with(env, 1)
    w = selected(env, user, rev2=True)
    for batch in range(10):
        words = " ".join(f"Kw{batch}x{n}" for n in range(100))
        assert w.cmd(f"a{batch} STORE 1 +FLAGS.SILENT ({words})").status == "OK"
        assert w.cmd(f"b{batch} STORE 1 -FLAGS.SILENT ({words})").status == "OK"
    r = w.cmd("c1 STORE 1 +FLAGS (Kw0x0 Late)")
    fetch = next(line for line in r.lines if " FETCH " in line)
    assert "Kw0x0" in fetch and "late" in fetch and "Late" not in fetch, str(r)
