"""IMAP mailbox transcripts: CREATE (CREATE-SPECIAL-USE), DELETE, RENAME, SUBSCRIBE, LIST
(LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, CHILDREN), LSUB, STATUS (STATUS=SIZE, OBJECTID),
UTF-8 and modified UTF-7 names, QUOTA."""

from __future__ import annotations

import re

from .imap_support import Env, ImapWire, message

R = re.compile

DEFAULT_LIST = [
    '* LIST (\\HasNoChildren) "/" "INBOX"',
    '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
    '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
    '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
    '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
    '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
]


def test_list_default_and_delimiter(env: Env) -> None:
    w = env.session(env.user())
    w.cmd('a1 LIST "" *').expect(DEFAULT_LIST, "a1 OK LIST completed")
    w.cmd('a2 LIST "" ""').expect(['* LIST (\\Noselect) "/" ""'], "a2 OK LIST completed")
    w.cmd('a3 LIST "" inbox').expect(
        ['* LIST (\\HasNoChildren) "/" "INBOX"'], "a3 OK LIST completed"
    )
    w.cmd('a4 LIST "" nothing*').expect([], "a4 OK LIST completed")


def test_create_hierarchy_children_and_percent(env: Env) -> None:
    w = env.session(env.user())
    w.cmd("a1 CREATE Projects/2024/Q1").expect(
        [], R(r"a1 OK \[MAILBOXID \(\S+\)\] CREATE completed")
    )
    w.cmd('a2 LIST "" Projects*').expect(
        [
            '* LIST (\\HasChildren) "/" "Projects"',
            '* LIST (\\HasChildren) "/" "Projects/2024"',
            '* LIST (\\HasNoChildren) "/" "Projects/2024/Q1"',
        ],
        "a2 OK LIST completed",
    )
    w.cmd('a3 LIST "" %').expect(
        [*DEFAULT_LIST[:4], '* LIST (\\HasChildren) "/" "Projects"', *DEFAULT_LIST[4:]],
        "a3 OK LIST completed",
    )
    w.cmd("a4 LIST Projects/ %").expect(
        ['* LIST (\\HasChildren) "/" "Projects/2024"'], "a4 OK LIST completed"
    )
    w.cmd("a5 CREATE Projects/").expect([], "a5 NO [ALREADYEXISTS] Mailbox already exists")
    w.cmd("a6 CREATE inbox").expect([], "a6 NO [ALREADYEXISTS] INBOX already exists")
    w.cmd("a7 CREATE Trash").expect([], "a7 NO [ALREADYEXISTS] Mailbox already exists")


def test_delete_and_rename(env: Env) -> None:
    user = env.user()
    env.deliver(user, message("one"))
    w = env.session(user)
    w.cmd("a1 CREATE Old")
    w.cmd("a2 RENAME Old New/Sub").expect([], "a2 OK RENAME completed")
    w.cmd('a3 LIST "" N*').expect(
        ['* LIST (\\HasChildren) "/" "New"', '* LIST (\\HasNoChildren) "/" "New/Sub"'],
        "a3 OK LIST completed",
    )
    w.cmd("a4 RENAME Missing Other").expect([], "a4 NO [NONEXISTENT] No such mailbox")
    w.cmd("a5 RENAME New/Sub Trash").expect(
        [], "a5 NO [ALREADYEXISTS] Target mailbox already exists"
    )
    w.cmd("a6 RENAME New New/Sub/Deeper").expect(
        [], "a6 NO [CANNOT] Cannot move a mailbox under itself"
    )
    w.cmd("a7 DELETE New/Sub").expect([], "a7 OK DELETE completed")
    w.cmd("a8 DELETE New/Sub").expect([], "a8 NO [NONEXISTENT] No such mailbox")
    w.cmd("a9 DELETE INBOX").expect([], "a9 NO [CANNOT] INBOX cannot be deleted")
    # RENAME INBOX moves its messages to a new mailbox; INBOX stays, empty (RFC 9051 §6.3.6).
    w.cmd("b1 RENAME INBOX Saved").expect([], "b1 OK RENAME completed")
    w.cmd("b2 STATUS INBOX (MESSAGES)").expect(
        ['* STATUS "INBOX" (MESSAGES 0)'], "b2 OK STATUS completed"
    )
    w.cmd("b3 STATUS Saved (MESSAGES)").expect(
        ['* STATUS "Saved" (MESSAGES 1)'], "b3 OK STATUS completed"
    )


def test_delete_selected_mailbox_other_session(env: Env) -> None:
    user = env.user()
    w1 = env.session(user)
    w2 = env.session(user)
    w1.cmd("a1 CREATE Doomed")
    w1.cmd_literals("a2 APPEND Doomed ", message("x"), "")
    w2.cmd("b1 SELECT Doomed")
    w1.cmd("a3 DELETE Doomed").expect([], "a3 OK DELETE completed")
    # The deleted mailbox's messages are reported expunged; the session carries on.
    w2.cmd("b2 NOOP").expect(["* 1 EXPUNGE"], "b2 OK NOOP completed")
    w2.cmd("b3 FETCH 1:* FLAGS").expect([], "b3 BAD Invalid message sequence number")
    w2.cmd("b4 LOGOUT").expect(["* BYE Logging out"], "b4 OK LOGOUT completed")


def test_subscribe_lsub_and_list_extended(env: Env) -> None:
    w = env.session(env.user())
    w.cmd("a1 CREATE Lists/Python")
    w.cmd("a2 CREATE Lists/Rust")
    w.cmd("a3 SUBSCRIBE Lists/Rust").expect([], "a3 OK SUBSCRIBE completed")
    w.cmd("a4 SUBSCRIBE Nope").expect([], "a4 NO [NONEXISTENT] No such mailbox")
    w.cmd('a5 LSUB "" Lists/*').expect(
        ['* LSUB (\\HasNoChildren) "/" "Lists/Rust"'], "a5 OK LSUB completed"
    )
    # RFC 5258 §3.1: SUBSCRIBED selection implies the \Subscribed attribute.
    w.cmd('a6 LIST (SUBSCRIBED) "" Lists/*').expect(
        ['* LIST (\\HasNoChildren \\Subscribed) "/" "Lists/Rust"'], "a6 OK LIST completed"
    )
    w.cmd('a7 LIST "" Lists/* RETURN (SUBSCRIBED)').expect(
        [
            '* LIST (\\HasNoChildren) "/" "Lists/Python"',
            '* LIST (\\HasNoChildren \\Subscribed) "/" "Lists/Rust"',
        ],
        "a7 OK LIST completed",
    )
    w.cmd('a8 LIST "" (Lists/Python Lists/Rust) RETURN (CHILDREN)').expect(
        [
            '* LIST (\\HasNoChildren) "/" "Lists/Python"',
            '* LIST (\\HasNoChildren) "/" "Lists/Rust"',
        ],
        "a8 OK LIST completed",
    )
    w.cmd("a9 UNSUBSCRIBE Lists/Rust").expect([], "a9 OK UNSUBSCRIBE completed")
    w.cmd('b1 LSUB "" Lists/*').expect([], "b1 OK LSUB completed")


def test_special_use(env: Env) -> None:
    w = env.session(env.user())
    w.cmd('a1 LIST (SPECIAL-USE) "" *').expect(DEFAULT_LIST[1:], "a1 OK LIST completed")
    w.cmd('a2 LIST "" * RETURN (SPECIAL-USE)').expect(DEFAULT_LIST, "a2 OK LIST completed")
    w.cmd("a3 CREATE Everything (USE (\\All))").expect(
        [], R(r"a3 OK \[MAILBOXID \(\S+\)\] CREATE completed")
    )
    w.cmd('a4 LIST "" Everything').expect(
        ['* LIST (\\HasNoChildren \\All) "/" "Everything"'], "a4 OK LIST completed"
    )
    # RFC 6154 §3: a special use the server cannot create gets a tagged NO [USEATTR].
    w.cmd("a5 CREATE Bogus (USE (\\Whatever))").expect(
        [], "a5 NO [USEATTR] Unsupported special-use attribute"
    )
    w.cmd("a6 CREATE Trash2 (USE (\\Trash))").expect(
        [], "a6 NO [USEATTR] That special use is taken"
    )


def test_status_items(env: Env) -> None:
    user = env.user()
    env.deliver(user, message("one"))
    env.deliver(user, message("two"))
    w = env.session(user)
    r = w.cmd(
        "a1 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ MAILBOXID)"
    )
    r.expect(
        [
            R(
                r'\* STATUS "INBOX" \(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+ UNSEEN 2 DELETED 0 '
                r"SIZE \d+ HIGHESTMODSEQ \d+ MAILBOXID \(\S+\)\)"
            )
        ],
        "a1 OK STATUS completed",
    )
    size = int(r.find(r".* SIZE (\d+) .*").group(1))
    assert size > 200
    w.cmd("a2 STATUS INBOX (RECENT)").expect(
        ['* STATUS "INBOX" (RECENT 2)'], "a2 OK STATUS completed"
    )
    w.cmd("a3 STATUS Nowhere (MESSAGES)").expect([], "a3 NO [NONEXISTENT] No such mailbox")
    w.cmd("a4 STATUS INBOX (BOGUS)").expect([], R(r"a4 BAD .+"))


def test_list_status(env: Env) -> None:
    user = env.user()
    env.deliver(user, message("one"))
    w = env.session(user)
    w.cmd('a1 LIST "" (INBOX Drafts) RETURN (STATUS (MESSAGES UNSEEN))').expect(
        [
            '* LIST (\\HasNoChildren) "/" "INBOX"',
            '* STATUS "INBOX" (MESSAGES 1 UNSEEN 1)',
            '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
            '* STATUS "Drafts" (MESSAGES 0 UNSEEN 0)',
        ],
        "a1 OK LIST completed",
    )


def test_utf8_and_mutf7_names(env: Env) -> None:
    w = env.session(env.user())
    # Without UTF8=ACCEPT names travel in modified UTF-7 (RFC 3501 §5.1.3).
    w.cmd("a1 CREATE &AMk-t&AOk-").expect([], R(r"a1 OK .*"))
    w.cmd('a2 LIST "" &AMk-*').expect(
        ['* LIST (\\HasNoChildren) "/" "&AMk-t&AOk-"'], "a2 OK LIST completed"
    )
    w.cmd("a3 ENABLE UTF8=ACCEPT").expect(["* ENABLED UTF8=ACCEPT"], "a3 OK ENABLE completed")
    w.cmd('a4 LIST "" "É*"').expect(['* LIST (\\HasNoChildren) "/" "Été"'], "a4 OK LIST completed")
    w.cmd('a5 CREATE "Пример/子"').expect([], R(r"a5 OK .*"))
    w.cmd('a6 LIST "" "Пример/*"').expect(
        ['* LIST (\\HasNoChildren) "/" "Пример/子"'], "a6 OK LIST completed"
    )
    w.cmd('a7 SELECT "Пример/子"').expect(
        [R(r"\* .*")] * 7 + [R(r"\* OK \[MAILBOXID \(\S+\)\] Ok")],
        "a7 OK [READ-WRITE] SELECT completed",
    )
    w.cmd('a8 STATUS "Été" (MESSAGES)').expect(
        ['* STATUS "Été" (MESSAGES 0)'], "a8 OK STATUS completed"
    )


def test_quota(env: Env) -> None:
    user = env.user()
    w = env.session(user)
    w.cmd("a1 GETQUOTAROOT INBOX").expect(['* QUOTAROOT "INBOX"'], "a1 OK GETQUOTAROOT completed")
    w.cmd('a2 GETQUOTA ""').expect([], "a2 NO [NONEXISTENT] No such quota root")
    env.directory.set_quota(user, 10 * 1024 * 1024)
    env.deliver(user, message("one", "x" * 3000))
    w.cmd("a3 GETQUOTAROOT INBOX").expect(
        ['* QUOTAROOT "INBOX" ""', R(r'\* QUOTA "" \(STORAGE [1-9] 10240\)')],
        "a3 OK GETQUOTAROOT completed",
    )
    w.cmd('a4 GETQUOTA ""').expect(
        [R(r'\* QUOTA "" \(STORAGE [1-9] 10240\)')], "a4 OK GETQUOTA completed"
    )
    w.cmd('a5 SETQUOTA "" (STORAGE 1)').expect(
        [], "a5 NO [NOPERM] Quotas are managed by the administrator"
    )
    w.cmd("a6 GETQUOTAROOT Nowhere").expect([], "a6 NO [NONEXISTENT] No such mailbox")


def test_subscribed_children_of_unsubscribed_parents(env: Env) -> None:
    w = env.session(env.user())
    w.cmd("a1 CREATE Zq/B")
    w.cmd("a2 SUBSCRIBE Zq/B")
    # RFC 3501 §6.3.9: "%" hides Zq/B, so its unsubscribed parent is listed \Noselect.
    w.cmd('a3 LSUB "" Zq%').expect(['* LSUB (\\Noselect) "/" "Zq"'], "a3 OK LSUB completed")
    w.cmd('a4 LSUB "" Zq*').expect(['* LSUB (\\HasNoChildren) "/" "Zq/B"'], "a4 OK LSUB completed")
    # RFC 5258 §3.5: RECURSIVEMATCH reports the parent with CHILDINFO.
    w.cmd('a5 LIST (SUBSCRIBED RECURSIVEMATCH) "" Zq%').expect(
        ['* LIST (\\HasChildren) "/" "Zq" ("CHILDINFO" ("SUBSCRIBED"))'], "a5 OK LIST completed"
    )
    w.cmd('a6 LIST (SUBSCRIBED) "" Zq%').expect([], "a6 OK LIST completed")
    w.cmd('a7 LIST (RECURSIVEMATCH) "" %').expect([], R(r"a7 BAD .+"))


def test_select_after_changes_shows_them_though_listings_are_shared(env: Env) -> None:
    """Sessions selecting a mailbox at the same account state share one listing (UIDs and the
    keywords for FLAGS); any change to the account must show in the next SELECT."""
    user = env.user()
    for n in range(3):
        env.deliver(user, message(f"m{n}", "body\r\n"))
    a, b = env.session(user), env.session(user)

    def select(w: ImapWire, tag: str) -> list[str]:
        r = w.cmd(f"{tag} SELECT INBOX")
        assert r.tagged.startswith(f"{tag} OK"), r.tagged
        return r.lines

    first = select(a, "a1")
    assert "* 3 EXISTS" in first

    # The same state, the same answer (a shared listing), but for \Recent (a claimed them).
    def same(lines: list[str]) -> list[str]:
        return [line for line in lines if not line.endswith(" RECENT")]

    assert same(select(b, "b1")) == same(first)
    a.cmd("a2 STORE 2 +FLAGS ($Hello)").expect(
        [R(r"\* FLAGS \(.* \$Hello\)"), R(r"\* OK \[PERMANENTFLAGS .*"), R(r"\* 2 FETCH .*")],
        "a2 OK STORE completed",
    )
    flags = next(line for line in select(b, "b2") if line.startswith("* FLAGS"))
    assert "$Hello" in flags  # the spelling a client first set (stored lower case for JMAP)
    env.deliver(user, message("m3", "body\r\n"))
    assert "* 4 EXISTS" in select(b, "b3")
    # a has not been told of the fourth message yet, so 1:* is its three (RFC 9051 §7.4.1).
    a.cmd("a3 STORE 1:* +FLAGS.SILENT (\\Deleted)")
    a.cmd("a4 EXPUNGE")
    after = select(b, "b4")
    assert "* 1 EXISTS" in after
    assert not any("$hello" in line.lower() for line in after if line.startswith("* FLAGS"))
