"""IMAP SEARCH transcripts: rev1 ``* SEARCH`` vs rev2 ESEARCH, ESEARCH return options,
SEARCHRES ($), WITHIN, OBJECTID keys, full-text keys, SORT (SORT=DISPLAY) and THREAD."""

from __future__ import annotations

import re
import time

from .imap_support import Env, ImapWire, message

R = re.compile


def msg(subject: str, sender: str, date: str, body: str, extra: str = "") -> bytes:
    return (
        f"From: {sender}\r\nTo: bob@example.org\r\nSubject: {subject}\r\nDate: {date}\r\n"
        f"{extra}\r\n{body}\r\n"
    ).encode()


MESSAGES = [
    # 1..5, appended in this order (arrival order == UID order)
    msg(
        "Zebra crossing",
        "Carol <carol@c.test>",
        "Wed, 03 Jan 2024 10:00:00 +0000",
        "walking the zebra",
        "Message-ID: <a@t>\r\n",
    ),
    msg(
        "Re: Zebra crossing",
        "alice@a.test",
        "Thu, 04 Jan 2024 10:00:00 +0000",
        "reply about zebras",
        "Message-ID: <b@t>\r\nIn-Reply-To: <a@t>\r\nReferences: <a@t>\r\n",
    ),
    msg(
        "apple pie",
        "Bob <bob@b.test>",
        "Mon, 01 Jan 2024 10:00:00 +0000",
        "baking recipes",
        "Message-ID: <c@t>\r\n",
    ),
    msg(
        "Re: Re: Zebra crossing",
        "dave@d.test",
        "Fri, 05 Jan 2024 10:00:00 +0000",
        "third in thread",
        "Message-ID: <d@t>\r\nReferences: <a@t> <b@t>\r\n",
    ),
    msg(
        "Mango",
        "Aaron <zed@z.test>",
        "Tue, 02 Jan 2024 10:00:00 +0000",
        "x" * 2000,
        "Message-ID: <e@t>\r\n",
    ),
]


def mailbox(env: Env, *, rev2: bool = False) -> ImapWire:
    w = env.session(env.user())
    if rev2:
        w.cmd("e1 ENABLE IMAP4rev2")
    for i, data in enumerate(MESSAGES):
        r = w.cmd_literals(f"p{i} APPEND INBOX ", data, "")
        assert r.status == "OK", str(r)
    w.cmd("s1 SELECT INBOX")
    w.cmd("s2 STORE 1,3 +FLAGS.SILENT (\\Seen)")
    w.cmd("s3 STORE 2 +FLAGS.SILENT (\\Flagged $Todo)")
    return w


def test_search_rev1(env: Env) -> None:
    w = mailbox(env)
    w.cmd("a1 SEARCH ALL").expect(["* SEARCH 1 2 3 4 5"], "a1 OK SEARCH completed")
    w.cmd("a2 SEARCH UNSEEN").expect(["* SEARCH 2 4 5"], "a2 OK SEARCH completed")
    w.cmd("a3 SEARCH FLAGGED KEYWORD $Todo").expect(["* SEARCH 2"], "a3 OK SEARCH completed")
    w.cmd("a4 SEARCH OR SEEN FLAGGED").expect(["* SEARCH 1 2 3"], "a4 OK SEARCH completed")
    w.cmd("a5 SEARCH NOT SEEN LARGER 1000").expect(["* SEARCH 5"], "a5 OK SEARCH completed")
    w.cmd("a6 UID SEARCH 2:4 SMALLER 1000").expect(
        ["* SEARCH 2 3 4"], R(r"a6 OK (UID )?SEARCH completed")
    )
    w.cmd("a7 SEARCH SENTBEFORE 03-Jan-2024").expect(["* SEARCH 3 5"], "a7 OK SEARCH completed")
    w.cmd("a8 SEARCH SENTON 04-Jan-2024").expect(["* SEARCH 2"], "a8 OK SEARCH completed")
    w.cmd("a9 SEARCH HEADER Message-ID <c@t>").expect(["* SEARCH 3"], "a9 OK SEARCH completed")
    w.cmd("b1 SEARCH RECENT").expect(["* SEARCH 1 2 3 4 5"], "b1 OK SEARCH completed")
    w.cmd("b2 SEARCH NEW").expect(["* SEARCH 2 4 5"], "b2 OK SEARCH completed")
    w.cmd("b3 SEARCH KEYWORD $Nothing").expect(["* SEARCH"], "b3 OK SEARCH completed")
    w.cmd("b4 SEARCH FROB").expect([], R(r"b4 BAD .+"))
    w.cmd("b5 SEARCH CHARSET UTF-8 SUBJECT apple").expect(["* SEARCH 3"], "b5 OK SEARCH completed")
    w.cmd("b6 SEARCH CHARSET KOI8-XYZ ALL").expect([], R(r"b6 NO \[BADCHARSET.*\] .+"))


def test_full_text_search(env: Env) -> None:
    w = mailbox(env)
    # The index lags by design: wait until it has the messages.
    deadline = time.monotonic() + 10
    while True:
        r = w.cmd("a1 SEARCH BODY walking")
        if r.lines == ["* SEARCH 1"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    r.expect(["* SEARCH 1"], "a1 OK SEARCH completed")
    w.cmd("a2 SEARCH SUBJECT zebra").expect(["* SEARCH 1 2 4"], "a2 OK SEARCH completed")
    w.cmd("a3 SEARCH FROM carol").expect(["* SEARCH 1"], "a3 OK SEARCH completed")
    w.cmd("a4 SEARCH TEXT recipes").expect(["* SEARCH 3"], "a4 OK SEARCH completed")


def test_envelope_field_keys_match_substrings_at_once(env: Env) -> None:
    """SUBJECT, FROM, TO, CC, BCC: "contains the specified string" (RFC 9051 §6.4.4), case-
    insensitively, on the decoded field; no waiting for the full-text index."""
    w = mailbox(env)
    w.cmd("a1 SEARCH SUBJECT ebra").expect(["* SEARCH 1 2 4"], "a1 OK SEARCH completed")
    w.cmd('a2 SEARCH SUBJECT "A CROSS"').expect(["* SEARCH 1 2 4"], "a2 OK SEARCH completed")
    w.cmd("a3 SEARCH SUBJECT zebras").expect(["* SEARCH"], "a3 OK SEARCH completed")
    w.cmd("a4 SEARCH FROM c.test").expect(["* SEARCH 1"], "a4 OK SEARCH completed")
    w.cmd("a5 SEARCH FROM CAROL").expect(["* SEARCH 1"], "a5 OK SEARCH completed")
    w.cmd('a6 SEARCH FROM "Aaron <zed@"').expect(["* SEARCH 5"], "a6 OK SEARCH completed")
    w.cmd("a7 SEARCH TO bob@example").expect(["* SEARCH 1 2 3 4 5"], "a7 OK SEARCH completed")
    w.cmd("a8 SEARCH CC bob").expect(["* SEARCH"], "a8 OK SEARCH completed")
    w.cmd('a9 SEARCH SUBJECT ""').expect(["* SEARCH 1 2 3 4 5"], "a9 OK SEARCH completed")
    w.cmd("b1 SEARCH NOT FROM a.test SUBJECT re:").expect(["* SEARCH 4"], "b1 OK SEARCH completed")


def test_searches_see_other_sessions_and_deliveries(env: Env) -> None:
    """Records are shared between sessions: a change from another session, or from LMTP, must
    still show in the next command of every session (RFC 9051 §7: no stale data)."""
    w = mailbox(env)
    user = env.user()
    other = env.session(user)
    for i, data in enumerate(MESSAGES[:3]):
        assert other.cmd_literals(f"p{i} APPEND INBOX ", data, "").status == "OK"
    other.cmd("s1 SELECT INBOX")
    w2 = env.session(user)
    w2.cmd("s2 SELECT INBOX")
    other.cmd("c1 SEARCH FLAGGED").expect(["* SEARCH"], "c1 OK SEARCH completed")
    w2.cmd("c2 STORE 2 +FLAGS (\\Flagged)")
    other.cmd("c3 SEARCH FLAGGED").expect(
        ["* SEARCH 2", "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))"], "c3 OK SEARCH completed"
    )
    other.cmd("c4 FETCH 2 (FLAGS)").expect(
        ["* 2 FETCH (FLAGS (\\Flagged \\Recent))"], "c4 OK FETCH completed"
    )
    env.deliver(user, MESSAGES[4])
    other.cmd("c5 NOOP").expect(["* 4 EXISTS", "* 4 RECENT"], "c5 OK NOOP completed")
    other.cmd("c6 SEARCH FROM zed").expect(["* SEARCH 4"], "c6 OK SEARCH completed")
    w2.cmd("c7 STORE 4 +FLAGS.SILENT (\\Deleted)")
    w2.cmd("c8 EXPUNGE")
    other.cmd("c9 SEARCH DELETED").expect(["* SEARCH"], "c9 OK SEARCH completed")
    # The first mailbox's sessions were untouched by all this.
    w.cmd("d1 SEARCH FLAGGED").expect(["* SEARCH 2"], "d1 OK SEARCH completed")


def test_esearch_return_options(env: Env) -> None:
    w = mailbox(env)
    w.cmd("a1 SEARCH RETURN (MIN MAX COUNT) UNSEEN").expect(
        ['* ESEARCH (TAG "a1") MIN 2 MAX 5 COUNT 3'], "a1 OK SEARCH completed"
    )
    w.cmd("a2 SEARCH RETURN () ALL").expect(
        ['* ESEARCH (TAG "a2") ALL 1:5'], "a2 OK SEARCH completed"
    )
    w.cmd("a3 UID SEARCH RETURN (ALL) NOT 3").expect(
        ['* ESEARCH (TAG "a3") UID ALL 1:2,4:5'], R(r"a3 OK (UID )?SEARCH completed")
    )
    w.cmd("a4 SEARCH RETURN (MIN MAX ALL COUNT) KEYWORD $None").expect(
        ['* ESEARCH (TAG "a4") COUNT 0'], "a4 OK SEARCH completed"
    )


def test_searchres(env: Env) -> None:
    w = mailbox(env)
    w.cmd("a1 SEARCH RETURN (SAVE) UNSEEN").expect([], R(r"a1 OK SEARCH completed.*"))
    w.cmd("a2 FETCH $ (UID)").expect(
        ["* 2 FETCH (UID 2)", "* 4 FETCH (UID 4)", "* 5 FETCH (UID 5)"], "a2 OK FETCH completed"
    )
    w.cmd("a3 STORE $ +FLAGS.SILENT (\\Answered)").expect([], "a3 OK STORE completed")
    w.cmd("a4 UID SEARCH UID $ ANSWERED").expect(
        ["* SEARCH 2 4 5"], R(r"a4 OK (UID )?SEARCH completed")
    )
    w.cmd("a5 SEARCH RETURN (SAVE MIN) UNSEEN").expect(
        ['* ESEARCH (TAG "a5") MIN 2'], "a5 OK SEARCH completed"
    )
    w.cmd("a6 UID FETCH $ (FLAGS)").expect(
        ["* 2 FETCH (UID 2 FLAGS (\\Answered \\Flagged $Todo \\Recent))"], "a6 OK FETCH completed"
    )
    w.cmd("a7 SEARCH RETURN (SAVE COUNT) SEEN").expect(
        ['* ESEARCH (TAG "a7") COUNT 2'], "a7 OK SEARCH completed"
    )
    w.cmd("a8 SEARCH $").expect(["* SEARCH 1 3"], "a8 OK SEARCH completed")
    # A new selection forgets the saved result (RFC 5182 §2.1).
    w.cmd("a9 SELECT INBOX")
    w.cmd("b1 SEARCH $").expect(["* SEARCH"], "b1 OK SEARCH completed")


def test_within_and_objectid_search(env: Env) -> None:
    w = mailbox(env)
    w.cmd("a1 SEARCH YOUNGER 3600").expect(["* SEARCH 1 2 3 4 5"], "a1 OK SEARCH completed")
    w.cmd("a2 SEARCH OLDER 3600").expect(["* SEARCH"], "a2 OK SEARCH completed")
    r = w.cmd("a3 FETCH 2 (EMAILID THREADID)")
    m = r.find(r"\* 2 FETCH \(EMAILID \((\S+)\) THREADID \((\S+)\)\)")
    w.cmd(f"a4 SEARCH EMAILID {m.group(1)}").expect(["* SEARCH 2"], "a4 OK SEARCH completed")
    w.cmd(f"a5 SEARCH THREADID {m.group(2)}").expect(["* SEARCH 1 2 4"], "a5 OK SEARCH completed")


def test_rev2_search_is_esearch(env: Env) -> None:
    w = mailbox(env, rev2=True)
    w.cmd("a1 SEARCH UNSEEN").expect(['* ESEARCH (TAG "a1") ALL 2,4:5'], "a1 OK SEARCH completed")
    w.cmd("a2 UID SEARCH SEEN").expect(
        ['* ESEARCH (TAG "a2") UID ALL 1,3'], R(r"a2 OK (UID )?SEARCH completed")
    )
    w.cmd("a3 SEARCH KEYWORD $none").expect(['* ESEARCH (TAG "a3")'], "a3 OK SEARCH completed")
    # No \Recent in IMAP4rev2 (RFC 9051 Appendix E).
    r = w.cmd("a4 FETCH 1 FLAGS")
    r.expect(["* 1 FETCH (FLAGS (\\Seen))"], "a4 OK FETCH completed")


def test_sort(env: Env) -> None:
    w = mailbox(env)
    w.cmd("a1 SORT (SUBJECT) UTF-8 ALL").expect(["* SORT 3 5 1 2 4"], "a1 OK SORT completed")
    w.cmd("a2 SORT (DATE) UTF-8 ALL").expect(["* SORT 3 5 1 2 4"], "a2 OK SORT completed")
    w.cmd("a3 SORT (REVERSE DATE) UTF-8 UNSEEN").expect(["* SORT 4 2 5"], "a3 OK SORT completed")
    w.cmd("a4 SORT (SIZE) UTF-8 ALL").expect([R(r"\* SORT( \d){4} 5")], "a4 OK SORT completed")
    w.cmd("a5 SORT (FROM) UTF-8 ALL").expect(["* SORT 2 3 1 4 5"], "a5 OK SORT completed")
    # SORT=DISPLAY (RFC 5957): the display name when there is one.
    w.cmd("a6 SORT (DISPLAYFROM) UTF-8 ALL").expect(["* SORT 5 2 3 1 4"], "a6 OK SORT completed")
    w.cmd("a7 UID SORT (ARRIVAL) UTF-8 2:4").expect(
        ["* SORT 2 3 4"], R(r"a7 OK (UID )?SORT completed")
    )
    w.cmd("a8 SORT (BOGUS) UTF-8 ALL").expect([], R(r"a8 BAD .+"))


def test_thread(env: Env) -> None:
    w = mailbox(env)
    w.cmd("a1 THREAD REFERENCES UTF-8 ALL").expect(
        ["* THREAD (3)(5)(1 2 4)"], "a1 OK THREAD completed"
    )
    # ORDEREDSUBJECT: later messages of a subject are all children of the first (RFC 5256 §3).
    w.cmd("a2 THREAD ORDEREDSUBJECT UTF-8 ALL").expect(
        ["* THREAD (3)(5)(1 (2)(4))"], "a2 OK THREAD completed"
    )
    w.cmd("a3 UID THREAD REFERENCES UTF-8 NOT 2").expect(
        ["* THREAD (3)(5)(1 4)"], R(r"a3 OK (UID )?THREAD completed")
    )
    w.cmd("a4 THREAD FANCY UTF-8 ALL").expect([], R(r"a4 (BAD|NO) .+"))


def test_address_keys_match_group_names(env: Env) -> None:
    """The envelope fields §6.4.4 searches hold group names: ``To: undisclosed-recipients:;``
    is found by TO "undisclosed", a named group by its name as well as by its members."""
    user = env.user()
    env.deliver(
        user,
        b"From: Ann <ann@a.test>\r\nTo: undisclosed-recipients:;\r\n"
        b"Cc: Team: bob@b.test, Carol <carol@c.test>;\r\nSubject: groups\r\n"
        b"Message-ID: <g1@a.test>\r\n\r\nbody\r\n",
    )
    env.deliver(user, message("plain", "body\r\n"))
    w = env.session(user)
    w.cmd("s SELECT INBOX")
    w.cmd("a1 SEARCH TO undisclosed").expect(["* SEARCH 1"], "a1 OK SEARCH completed")
    w.cmd("a2 SEARCH CC team").expect(["* SEARCH 1"], "a2 OK SEARCH completed")
    w.cmd("a3 SEARCH CC carol@c").expect(["* SEARCH 1"], "a3 OK SEARCH completed")
    w.cmd("a4 SEARCH FROM team").expect(["* SEARCH"], "a4 OK SEARCH completed")


def test_sort_uses_ascii_casemap_and_envelope_group_names(env: Env) -> None:
    """RFC 5256 §3 sorts strings with i;ascii-casemap (RFC 4790 §9.2: a-z become A-Z first),
    so "_", "[" and the other 0x5B-0x60 characters sort after the letters and before "{|}~";
    and the FROM/TO/CC key is the first address as ENVELOPE presents it, which for
    ``Cc: Team: a@b;`` is the group name (not the first member, not "")."""
    user = env.user()
    rows = [
        ("_under", "_u@x.test", "Zed <zed@z.test>"),
        ("apple", "bob@x.test", "Team: aaron@a.test;"),
        ("Zulu", "Zoe@x.test", "undisclosed-recipients:;"),
        ("{brace", "~t@x.test", "carl@c.test"),
    ]
    w = env.session(user)
    for i, (subject, sender, cc) in enumerate(rows):
        data = msg(subject, sender, "Mon, 01 Jan 2024 10:00:00 +0000", "b", f"Cc: {cc}\r\n")
        assert w.cmd_literals(f"p{i} APPEND INBOX ", data, "").status == "OK"
    w.cmd("s SELECT INBOX")
    w.cmd("a1 SORT (SUBJECT) UTF-8 ALL").expect(["* SORT 2 3 1 4"], "a1 OK SORT completed")
    w.cmd("a2 SORT (FROM) UTF-8 ALL").expect(["* SORT 2 3 1 4"], "a2 OK SORT completed")
    w.cmd("a3 SORT (DISPLAYFROM) UTF-8 ALL").expect(["* SORT 2 3 1 4"], "a3 OK SORT completed")
    # CC: carl, TEAM (group), UNDISCLOSED-RECIPIENTS (empty group), Zed's zed.
    w.cmd("a4 SORT (CC) UTF-8 ALL").expect(["* SORT 4 2 3 1"], "a4 OK SORT completed")
    w.cmd("a5 SORT (REVERSE CC) UTF-8 ALL").expect(["* SORT 1 3 2 4"], "a5 OK SORT completed")
