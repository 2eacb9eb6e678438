"""IMAP mailbox names that parse but name nothing: NO, not BAD (RFC 3501 §7.1 / RFC 9051 §7.1),
in every command that takes a mailbox; and "&" in IMAP4rev2 / UTF8=ACCEPT sessions, where names
are UTF-8 (RFC 9051 §5.1, RFC 6855 §3) and "&" is an ordinary character."""

from __future__ import annotations

import re

from .imap_support import Env, message

R = re.compile

# Valid astring syntax, but not modified UTF-7: the "&" opens no base64 run ending in "-"
# (RFC 3501 §5.1.3).
BAD_MUTF7 = '"!#$&\'+,-."'


def test_invalid_modified_utf7_name_is_no_not_bad_rfc3501_7_1(env: Env) -> None:
    """RFC 3501 §7.1: BAD reports a syntax error; a name that parses but does not decode as
    modified UTF-7 is a failed command (NO), in every command that takes a mailbox name.
    CREATE and RENAME's new name: ``[CANNOT]`` (it can never be created); elsewhere
    ``[NONEXISTENT]`` (no ``[TRYCREATE]``: CREATE would fail as well)."""
    w = env.session(env.user())
    nonexistent = R(r"(\w+) NO \[NONEXISTENT\] Invalid mailbox name: .+")
    cannot = R(r"(\w+) NO \[CANNOT\] Invalid mailbox name: .+")
    w.cmd(f"a1 CREATE {BAD_MUTF7}").expect([], cannot)
    w.cmd("a2 CREATE a&b").expect([], cannot)  # "&b" is an unterminated base64 run
    w.cmd("a3 CREATE &AGE-").expect([], cannot)  # "A" (printable ASCII) encoded in base64
    w.cmd(f"a4 RENAME Archive {BAD_MUTF7}").expect([], cannot)
    w.cmd(f"a5 RENAME {BAD_MUTF7} Elsewhere").expect([], nonexistent)
    for i, command in enumerate(
        [
            f"DELETE {BAD_MUTF7}",
            f"SUBSCRIBE {BAD_MUTF7}",
            f"UNSUBSCRIBE {BAD_MUTF7}",
            f"STATUS {BAD_MUTF7} (MESSAGES)",
            f"GETQUOTAROOT {BAD_MUTF7}",
            f"EXAMINE {BAD_MUTF7}",
            f"SELECT {BAD_MUTF7}",
        ]
    ):
        w.cmd(f"b{i} {command}").expect([], nonexistent)
    data = message("appended")
    w.cmd_literals(f"c1 APPEND {BAD_MUTF7} ", data, "").expect([], nonexistent)
    # A pattern that names nothing matches nothing: OK, no LIST lines (as Dovecot answers).
    w.cmd(f'c2 LIST "" {BAD_MUTF7}').expect([], "c2 OK LIST completed")
    w.cmd('c3 LIST "" "*&*"').expect([], "c3 OK LIST completed")
    w.cmd(f'c4 LSUB "" {BAD_MUTF7}').expect([], "c4 OK LSUB completed")
    w.cmd(f'c5 LIST {BAD_MUTF7} "*"').expect([], "c5 OK LIST completed")
    w.cmd(f'c6 LIST "" ("INBOX" {BAD_MUTF7})').expect(
        ['* LIST (\\HasNoChildren) "/" "INBOX"'], "c6 OK LIST completed"
    )
    # A control character is no syntax error in a quoted string either.
    w.cmd('c7 CREATE "x\x01y"').expect([], cannot)
    # COPY and MOVE in the selected state; the selection survives them.
    assert w.cmd_literals("d0 APPEND INBOX ", data, "").status == "OK"
    w.cmd("d1 SELECT INBOX")
    w.cmd(f"d2 COPY 1 {BAD_MUTF7}").expect([], nonexistent)
    w.cmd(f"d3 MOVE 1 {BAD_MUTF7}").expect([], nonexistent)
    w.cmd(f"d4 UID COPY 1 {BAD_MUTF7}").expect([], nonexistent)
    w.cmd("d5 FETCH 1 (UID)").expect(["* 1 FETCH (UID 1)"], "d5 OK FETCH completed")
    # A failed SELECT leaves no mailbox selected (RFC 9051 §6.3.1), this one too.
    w.cmd(f"d6 SELECT {BAD_MUTF7}").expect(["* OK [CLOSED] Previous mailbox closed"], nonexistent)
    w.cmd("d7 FETCH 1 (UID)").expect([], "d7 BAD Command not valid in the authenticated state")
    w.cmd('d8 LIST "" *').expect(
        [R(r'\* LIST \([^)]*\) "/" "\w+"')] * 6, "d8 OK LIST completed"
    )  # nothing was created


def test_ampersand_is_ordinary_in_rev2_and_encoded_for_rev1_rfc9051_5_1(env: Env) -> None:
    """RFC 9051 §5.1 / RFC 6855 §3: after ENABLE IMAP4rev2 (or UTF8=ACCEPT) names are UTF-8
    and "&" is just a character, so a rev2 client creates and selects ``a&b``; an IMAP4rev1
    session sees that mailbox in modified UTF-7, ``a&-b`` (RFC 3501 §5.1.3), selects it by
    that name, and cannot reach it by the rev2 spelling (not valid modified UTF-7: NO)."""
    user = env.user()
    rev2 = env.session(user)
    rev2.cmd("e1 ENABLE IMAP4rev2").expect(["* ENABLED IMAP4rev2"], "e1 OK ENABLE completed")
    rev2.cmd("a1 CREATE a&b").expect([], R(r"a1 OK \[MAILBOXID \(\S+\)\] CREATE completed"))
    rev2.cmd(f"a2 CREATE {BAD_MUTF7}").expect(
        [], R(r"a2 OK \[MAILBOXID \(\S+\)\] CREATE completed")
    )
    r = rev2.cmd("a3 SELECT a&b")
    assert r.tagged == "a3 OK [READ-WRITE] SELECT completed", str(r)
    assert '* LIST () "/" "a&b"' in r.lines, str(r)
    rev2.cmd('a4 LIST "" "*&*"').expect(
        [
            '* LIST (\\HasNoChildren) "/" "!#$&\'+,-."',
            '* LIST (\\HasNoChildren) "/" "a&b"',
        ],
        "a4 OK LIST completed",
    )
    utf8 = env.session(user)
    utf8.cmd("u1 ENABLE UTF8=ACCEPT").expect(["* ENABLED UTF8=ACCEPT"], "u1 OK ENABLE completed")
    utf8.cmd('u2 STATUS "a&b" (MESSAGES)').expect(
        ['* STATUS "a&b" (MESSAGES 0)'], "u2 OK STATUS completed"
    )
    rev1 = env.session(user)
    rev1.cmd('b1 LIST "" "*&-*"').expect(
        [
            '* LIST (\\HasNoChildren) "/" "!#$&-\'+,-."',
            '* LIST (\\HasNoChildren) "/" "a&-b"',
        ],
        "b1 OK LIST completed",
    )
    assert rev1.cmd("b2 SELECT a&-b").tagged == "b2 OK [READ-WRITE] SELECT completed"
    rev1.cmd("b3 SELECT a&b").expect(
        ["* OK [CLOSED] Previous mailbox closed"], R(r"b3 NO \[NONEXISTENT\] .+")
    )
    rev1.cmd('b4 STATUS "!#$&-\'+,-." (MESSAGES)').expect(
        ['* STATUS "!#$&-\'+,-." (MESSAGES 0)'], "b4 OK STATUS completed"
    )
    rev1.cmd(f"b5 STATUS {BAD_MUTF7} (MESSAGES)").expect([], R(r"b5 NO \[NONEXISTENT\] .+"))
