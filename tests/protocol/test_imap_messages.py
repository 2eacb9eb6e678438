"""IMAP message transcripts: APPEND (MULTIAPPEND, BINARY literal8, UIDPLUS), FETCH (BINARY,
OBJECTID, PREVIEW), STORE, COPY, MOVE, EXPUNGE / UID EXPUNGE, CLOSE, UNSELECT, EXAMINE, and the
limits TOOBIG and OVERQUOTA."""

from __future__ import annotations

import re
from pathlib import Path

from .imap_support import Env, ImapWire, Reply, message, running_server

R = re.compile

SIMPLE = (
    b"From: Alice <alice@remote.test>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: Lunch\r\n"
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    b"Message-ID: <lunch@remote.test>\r\n"
    b"\r\n"
    b"Shall we meet at noon?\r\n"
)

MULTIPART = (
    b"From: alice@remote.test\r\n"
    b"Subject: Attachment\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n'
    b"\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"See attached.\r\n"
    b"--XX\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAEC/wBoaQ==\r\n"
    b"--XX--\r\n"
)


def append(
    w: ImapWire, data: bytes, mailbox: str = "INBOX", flags: str = "", tag: str = "ap"
) -> Reply:
    head = f"{tag} APPEND {mailbox} " + (f"({flags}) " if flags else "")
    r = w.cmd_literals(head, data, "")
    assert r.status == "OK", str(r)
    return r


def uidvalidity(w: ImapWire, mailbox: str = "INBOX") -> int:
    r = w.cmd(f"uv STATUS {mailbox} (UIDVALIDITY)")
    return int(r.find(r"\* STATUS \S+ \(UIDVALIDITY (\d+)\)").group(1))


def test_append_appenduid_and_fetch_basics(env: Env) -> None:
    w = env.session(env.user())
    uv = uidvalidity(w)
    r = w.cmd_literals('a1 APPEND INBOX (\\Seen $Work) "07-Feb-1994 21:52:25 -0800" ', SIMPLE, "")
    r.expect([], f"a1 OK [APPENDUID {uv} 1] APPEND completed")
    w.cmd("a2 SELECT INBOX")
    w.cmd("a3 FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE)").expect(
        [
            "* 1 FETCH (UID 1 FLAGS (\\Seen $Work \\Recent) "
            f'INTERNALDATE "08-Feb-1994 05:52:25 +0000" RFC822.SIZE {len(SIMPLE)})'
        ],
        "a3 OK FETCH completed",
    )
    w.cmd("a4 FETCH 1 ENVELOPE").expect(
        [
            '* 1 FETCH (ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800" "Lunch" '
            '(("Alice" NIL "alice" "remote.test")) '
            '(("Alice" NIL "alice" "remote.test")) (("Alice" NIL "alice" "remote.test")) '
            '(("Bob" NIL "bob" "example.org")) NIL NIL NIL "<lunch@remote.test>"))'
        ],
        "a4 OK FETCH completed",
    )
    w.cmd("a5 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.9>)").expect(
        [
            "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: Lunch\r\n\r\n "
            "BODY[TEXT]<0> {9}\r\nShall we )"
        ],
        "a5 OK FETCH completed",
    )
    w.cmd("a6 FETCH 1 (BODYSTRUCTURE)").expect(
        [
            '* 1 FETCH (BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 24 1 '
            "NIL NIL NIL NIL))"
        ],
        "a6 OK FETCH completed",
    )
    w.cmd("a7 FETCH 1 (EMAILID THREADID)").expect(
        [R(r"\* 1 FETCH \(EMAILID \(\S+\) THREADID \(\S+\)\)")], "a7 OK FETCH completed"
    )
    header = SIMPLE[: SIMPLE.index(b"\r\n\r\n") + 4].decode()
    w.cmd("a8 UID FETCH 1 (RFC822.HEADER)").expect(
        [f"* 1 FETCH (UID 1 RFC822.HEADER {{{len(header)}}}\r\n{header})"], "a8 OK FETCH completed"
    )
    w.cmd("a9 FETCH 2 FLAGS").expect([], "a9 BAD Invalid message sequence number")
    w.cmd("b1 UID FETCH 99 FLAGS").expect([], "b1 OK FETCH completed")
    w.cmd("b2 FETCH 1 (PREVIEW)").expect(
        ['* 1 FETCH (PREVIEW "Shall we meet at noon?")'], "b2 OK FETCH completed"
    )


def test_append_errors(env: Env) -> None:
    w = env.session(env.user())
    w.cmd_literals("a1 APPEND Nowhere ", SIMPLE, "").expect(
        [], "a1 NO [TRYCREATE] Mailbox does not exist"
    )
    w.cmd_literals("a2 APPEND INBOX (\\Bogus) ", SIMPLE, "").expect([], R(r"a2 BAD .+"))
    w.cmd_literals("a3 APPEND INBOX ", b"", "").expect([], R(r"a3 (NO|BAD) .+"))
    w.cmd("a4 NOOP").expect([], "a4 OK NOOP completed")


def test_append_literal_plus_and_status_size(env: Env) -> None:
    w = env.session(env.user())
    r = w.cmd_literals("a1 APPEND INBOX ", SIMPLE, "", plus=True)
    assert re.fullmatch(r"a1 OK \[APPENDUID \d+ 1\] APPEND completed", r.tagged)
    w.cmd("a2 STATUS INBOX (MESSAGES SIZE)").expect(
        [f'* STATUS "INBOX" (MESSAGES 1 SIZE {len(SIMPLE)})'], "a2 OK STATUS completed"
    )


def test_multiappend(env: Env) -> None:
    w = env.session(env.user())
    uv = uidvalidity(w)
    r = w.cmd_literals(
        "a1 APPEND INBOX ",
        SIMPLE,
        " (\\Flagged) ",
        MULTIPART,
        " ",
        b"Subject: 3\r\n\r\nthree\r\n",
        "",
    )
    r.expect([], f"a1 OK [APPENDUID {uv} 1:3] APPEND completed")
    w.cmd("a2 SELECT INBOX")
    w.cmd("a3 FETCH 1:3 (FLAGS)").expect(
        [
            "* 1 FETCH (FLAGS (\\Recent))",
            "* 2 FETCH (FLAGS (\\Flagged \\Recent))",
            "* 3 FETCH (FLAGS (\\Recent))",
        ],
        "a3 OK FETCH completed",
    )


def test_multiappend_is_atomic_over_quota(env: Env) -> None:
    user = env.user(quota=len(SIMPLE) + 100)
    w = env.session(user)
    r = w.cmd_literals("a1 APPEND INBOX ", SIMPLE, " ", SIMPLE.replace(b"noon", b"one!"), "")
    r.expect([], R(r"a1 NO \[OVERQUOTA\] .+"))
    w.cmd("a2 STATUS INBOX (MESSAGES)").expect(
        ['* STATUS "INBOX" (MESSAGES 0)'], "a2 OK STATUS completed"
    )
    # One message fits.
    append(w, SIMPLE, tag="a3")
    w.cmd_literals("a4 APPEND INBOX ", SIMPLE.replace(b"Lunch", b"Lunch2"), "").expect(
        [], R(r"a4 NO \[OVERQUOTA\] .+")
    )


def test_toobig_literal(tmp_path: Path) -> None:
    with running_server(tmp_path / "d", {"STALWART_IMAP_MAX_LITERAL_SIZE": "1000"}) as srv:
        env = Env(srv)
        w = env.session(env.user())
        w.send("a1 APPEND INBOX {5000}\r\n")
        line = w.read_line()
        assert re.fullmatch(r"a1 NO \[TOOBIG\] .+", line), line
        w.cmd("a2 NOOP").expect([], "a2 OK NOOP completed")
        # Non-synchronising: the server has to swallow (or refuse) the octets that follow.
        w.send(b"a3 APPEND INBOX {5000+}\r\n" + b"x" * 5000 + b"\r\n")
        line = w.read_line()
        assert re.fullmatch(r"(a3 NO \[TOOBIG\] .+|\* BYE .+)", line), line
        if line.startswith("a3"):
            w.cmd("a4 NOOP").expect([], "a4 OK NOOP completed")
        else:
            assert w.closed()
        assert "Traceback" not in w.text()
        env.close_all()


def test_binary_append_and_fetch(env: Env) -> None:
    w = env.session(env.user())
    r = w.cmd_literals("a1 APPEND INBOX ", MULTIPART, "")
    assert r.status == "OK"
    raw = (
        b"Subject: bin\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02binary\x00data"
    )
    r = w.cmd_literals("a2 APPEND INBOX ", raw, "", binary=True)
    assert re.fullmatch(r"a2 OK \[APPENDUID \d+ 2\] APPEND completed", r.tagged), str(r)
    w.cmd("a3 SELECT INBOX")
    w.cmd("a4 FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2])").expect(
        ["* 1 FETCH (BINARY.SIZE[2] 7 BINARY[2] ~{7}\r\n\x00\x01\x02\ufffd\x00hi)"],
        "a4 OK FETCH completed",
    )
    w.cmd("a5 FETCH 1 (BINARY.PEEK[1])").expect(
        ["* 1 FETCH (BINARY[1] {13}\r\nSee attached.)"], "a5 OK FETCH completed"
    )
    w.cmd("a6 FETCH 2 (BINARY.PEEK[1] RFC822.SIZE)").expect(
        [f"* 2 FETCH (BINARY[1] ~{{14}}\r\n\x00\x01\x02binary\x00data RFC822.SIZE {len(raw)})"],
        "a6 OK FETCH completed",
    )
    # Fetching BINARY without PEEK sets \Seen (RFC 3516 §4.2).
    w.cmd("a7 FETCH 1 (BINARY[1])").expect(
        ["* 1 FETCH (BINARY[1] {13}\r\nSee attached. FLAGS (\\Seen \\Recent))"],
        "a7 OK FETCH completed",
    )


def test_store_flags(env: Env) -> None:
    w = env.session(env.user())
    for i in range(3):
        append(w, message(f"m{i}"), tag=f"p{i}")
    w.cmd("a1 SELECT INBOX")
    # RFC 3501 §7.2.6: the new keyword is announced in FLAGS before the FETCH that uses it,
    # spelled as set (keywords are case-insensitive, RFC 3501 §2.3.2, but keep their case).
    w.cmd("a2 STORE 1 +FLAGS (\\Flagged $Important)").expect(
        [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important)",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important \\*)]"
            " Flags permitted",
            "* 1 FETCH (FLAGS (\\Flagged $Important \\Recent))",
        ],
        "a2 OK STORE completed",
    )
    w.cmd("a3 STORE 1:2 FLAGS (\\Seen)").expect(
        ["* 1 FETCH (FLAGS (\\Seen \\Recent))", "* 2 FETCH (FLAGS (\\Seen \\Recent))"],
        "a3 OK STORE completed",
    )
    w.cmd("a4 STORE 2 -FLAGS.SILENT (\\Seen)").expect([], "a4 OK STORE completed")
    w.cmd("a5 UID STORE 3 +FLAGS (\\Answered)").expect(
        ["* 3 FETCH (UID 3 FLAGS (\\Answered \\Recent))"], R(r"a5 OK (UID )?STORE completed")
    )
    w.cmd("a6 FETCH 1:* FLAGS").expect(
        [
            "* 1 FETCH (FLAGS (\\Seen \\Recent))",
            "* 2 FETCH (FLAGS (\\Recent))",
            "* 3 FETCH (FLAGS (\\Answered \\Recent))",
        ],
        "a6 OK FETCH completed",
    )
    w.cmd("a7 STORE 1 +FLAGS (\\Recent)").expect(
        ["* 1 FETCH (FLAGS (\\Seen \\Recent))"], "a7 OK STORE completed"
    )
    w.cmd("a8 STORE 1 +FLAGS (\\Nonsense)").expect([], R(r"a8 BAD .+"))
    w.cmd("a9 STORE 9 +FLAGS (\\Seen)").expect([], "a9 BAD Invalid message sequence number")
    # SELECT shows keywords in FLAGS/PERMANENTFLAGS.
    w.cmd("b1 STORE 2 +FLAGS ($Label1)")
    r = w.cmd("b2 SELECT INBOX")
    assert "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)" in r.lines, str(r)


def test_fetch_sets_seen_and_examine_is_read_only(env: Env) -> None:
    w = env.session(env.user())
    append(w, SIMPLE)
    w.cmd("a1 EXAMINE INBOX").expect(
        [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* OK [PERMANENTFLAGS ()] No permanent flags permitted",
            "* 1 EXISTS",
            "* 1 RECENT",  # RFC 3501 §6.3.2: as SELECT would report it (not claimed)
            "* OK [UNSEEN 1] First unseen",
            R(r"\* OK \[UIDVALIDITY \d+\] UIDs valid"),
            "* OK [UIDNEXT 2] Predicted next UID",
            R(r"\* OK \[HIGHESTMODSEQ \d+\] Highest"),
            R(r"\* OK \[MAILBOXID \(\S+\)\] Ok"),
        ],
        "a1 OK [READ-ONLY] EXAMINE completed",
    )
    w.cmd("a2 FETCH 1 (BODY[TEXT])").expect(
        ["* 1 FETCH (BODY[TEXT] {24}\r\nShall we meet at noon?\r\n)"], "a2 OK FETCH completed"
    )
    w.cmd("a3 STORE 1 +FLAGS (\\Deleted)").expect([], "a3 NO [READ-ONLY] Mailbox is read-only")
    w.cmd("a4 EXPUNGE").expect([], "a4 NO [READ-ONLY] Mailbox is read-only")
    w.cmd("a5 MOVE 1 Trash").expect([], "a5 NO [READ-ONLY] Mailbox is read-only")
    r = w.cmd("a6 SELECT INBOX")
    assert r.lines[0] == "* OK [CLOSED] Previous mailbox closed", str(r)
    assert "* 1 RECENT" in r.lines
    w.cmd("a7 FETCH 1 (BODY[TEXT])").expect(
        ["* 1 FETCH (BODY[TEXT] {24}\r\nShall we meet at noon?\r\n FLAGS (\\Seen \\Recent))"],
        "a7 OK FETCH completed",
    )
    w.cmd("a8 FETCH 1 (FLAGS)").expect(
        ["* 1 FETCH (FLAGS (\\Seen \\Recent))"], "a8 OK FETCH completed"
    )


def test_copy_move_uidplus(env: Env) -> None:
    w = env.session(env.user())
    for i in range(4):
        append(w, message(f"m{i}"), tag=f"p{i}")
    w.cmd("a0 CREATE Dest")
    uv = uidvalidity(w, "Dest")
    w.cmd("a1 SELECT INBOX")
    w.cmd("a2 COPY 2:3 Dest").expect([], f"a2 OK [COPYUID {uv} 2:3 1:2] COPY completed")
    w.cmd("a3 UID COPY 4,1 Dest").expect([], f"a3 OK [COPYUID {uv} 1,4 3:4] COPY completed")
    w.cmd("a4 COPY 1 Nowhere").expect([], "a4 NO [TRYCREATE] Mailbox does not exist")
    w.cmd("a5 MOVE 2 Dest").expect(
        [f"* OK [COPYUID {uv} 2 5] Moved", "* 2 EXPUNGE"], "a5 OK MOVE completed"
    )
    w.cmd("a6 UID MOVE 3:4 Dest").expect(
        [f"* OK [COPYUID {uv} 3:4 6:7] Moved", "* 3 EXPUNGE", "* 2 EXPUNGE"], "a6 OK MOVE completed"
    )
    # MOVE to the selected mailbox renumbers (tests/protocol/test_imap_copymove_self.py).
    assert w.cmd("a7 MOVE 1 INBOX").tagged == "a7 OK MOVE completed"
    w.cmd("a8 STATUS Dest (MESSAGES)").expect(
        ['* STATUS "Dest" (MESSAGES 7)'], "a8 OK STATUS completed"
    )
    w.cmd("a9 UID MOVE 100 Dest").expect([], R(r"a9 OK MOVE completed.*"))


def test_expunge_uid_expunge_close_unselect(env: Env) -> None:
    w = env.session(env.user())
    for i in range(5):
        append(w, message(f"m{i}"), tag=f"p{i}")
    w.cmd("a1 SELECT INBOX")
    w.cmd("a2 STORE 1:4 +FLAGS.SILENT (\\Deleted)").expect([], "a2 OK STORE completed")
    # UID EXPUNGE only removes the named \Deleted messages (RFC 4315 §2.1).
    w.cmd("a3 UID EXPUNGE 2:3").expect(
        ["* 3 EXPUNGE", "* 2 EXPUNGE"], R(r"a3 OK (UID )?EXPUNGE completed")
    )
    w.cmd("a4 FETCH 1:* UID").expect(
        ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 4)", "* 3 FETCH (UID 5)"], "a4 OK FETCH completed"
    )
    w.cmd("a5 EXPUNGE").expect(["* 2 EXPUNGE", "* 1 EXPUNGE"], "a5 OK EXPUNGE completed")
    w.cmd("a6 STORE 1 +FLAGS.SILENT (\\Deleted)")
    # UNSELECT does not expunge (RFC 3691).
    w.cmd("a7 UNSELECT").expect([], "a7 OK UNSELECT completed")
    w.cmd("a8 STATUS INBOX (MESSAGES)").expect(
        ['* STATUS "INBOX" (MESSAGES 1)'], "a8 OK STATUS completed"
    )
    w.cmd("a9 SELECT INBOX")
    # CLOSE expunges silently (RFC 9051 §6.4.1).
    w.cmd("b1 CLOSE").expect([], "b1 OK CLOSE completed")
    w.cmd("b2 STATUS INBOX (MESSAGES)").expect(
        ['* STATUS "INBOX" (MESSAGES 0)'], "b2 OK STATUS completed"
    )
    w.cmd("b3 FETCH 1 FLAGS").expect([], "b3 BAD Command not valid in the authenticated state")
    w.cmd("b4 SELECT Nowhere").expect([], "b4 NO [NONEXISTENT] No such mailbox")


def test_select_nonexistent_leaves_nothing_selected(env: Env) -> None:
    w = env.session(env.user())
    w.cmd("a1 SELECT INBOX")
    r = w.cmd("a2 SELECT Nowhere")
    r.expect(["* OK [CLOSED] Previous mailbox closed"], "a2 NO [NONEXISTENT] No such mailbox")
    w.cmd("a3 FETCH 1 FLAGS").expect([], "a3 BAD Command not valid in the authenticated state")


def test_expunge_of_message_in_two_mailboxes_after_move(env: Env) -> None:
    w = env.session(env.user())
    append(w, SIMPLE)
    w.cmd("a0 CREATE Other")
    w.cmd("a1 SELECT INBOX")
    w.cmd("a2 COPY 1 Other")
    w.cmd("a3 STORE 1 +FLAGS.SILENT (\\Deleted)")
    w.cmd("a4 EXPUNGE").expect(["* 1 EXPUNGE"], "a4 OK EXPUNGE completed")
    w.cmd("a5 STATUS Other (MESSAGES)").expect(
        ['* STATUS "Other" (MESSAGES 1)'], "a5 OK STATUS completed"
    )


def test_empty_mailbox_sequence_sets(env: Env) -> None:
    w = env.session(env.user())
    w.cmd("a1 SELECT INBOX")
    # "*" in an empty mailbox is not a valid message number (RFC 9051 §6.4.x note on "*").
    w.cmd("a2 FETCH 1:* FLAGS").expect([], "a2 BAD Invalid message sequence number")
    w.cmd("a3 FETCH * FLAGS").expect([], "a3 BAD No messages in the mailbox")
    w.cmd("a4 UID FETCH 1:* FLAGS").expect([], "a4 OK FETCH completed")
    w.cmd("a5 UID STORE 1:* +FLAGS (\\Seen)").expect([], "a5 OK STORE completed")
    w.cmd("a6 SEARCH ALL").expect(["* SEARCH"], "a6 OK SEARCH completed")
    w.cmd("a7 CHECK").expect([], "a7 OK CHECK completed")
    w.cmd("a8 EXPUNGE").expect([], "a8 OK EXPUNGE completed")
