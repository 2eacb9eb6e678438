"""The IMAP command parser: every command and search key to its AST, errors carry the tag."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.imap import commands as C
from protocols.imap import mutf7
from protocols.imap.errors import ImapParseError
from protocols.imap.framing import Frame, FramingLimits, ImapFramer
from protocols.imap.parser import decode_sasl_response, is_idle_done, parse_command
from protocols.imap.section import Partial, SectionSpec


def frame_of(data: bytes) -> Frame:
    framer = ImapFramer(FramingLimits())
    framer.receive_data(data if data.endswith(b"\n") else data + b"\r\n")
    frame = framer.next_frame()
    assert isinstance(frame, Frame), frame
    return frame


def p(data: bytes, *, utf8: bool = False) -> Any:  # Any: tests poke at command fields
    return parse_command(frame_of(data), utf8=utf8)


def bad(data: bytes, *, utf8: bool = False) -> ImapParseError:
    with pytest.raises(ImapParseError) as info:
        p(data, utf8=utf8)
    return info.value


# ------------------------------------------------------------------ simple commands


@pytest.mark.parametrize(
    ("text", "cls"),
    [
        (b"a CAPABILITY", C.Capability),
        (b"a noop", C.Noop),
        (b"a Logout", C.Logout),
        (b"a STARTTLS", C.StartTls),
        (b"a NAMESPACE", C.Namespace),
        (b"a IDLE", C.Idle),
        (b"a CHECK", C.Check),
        (b"a CLOSE", C.Close),
        (b"a UNSELECT", C.Unselect),
        (b"a EXPUNGE", C.Expunge),
    ],
)
def test_no_argument_commands(text: bytes, cls: type[C.Command]) -> None:
    assert p(text) == cls("a")
    assert bad(text + b" x").tag == "a"


def test_tags() -> None:
    assert p(b"A0001 NOOP").tag == "A0001"
    assert p(b"x]y NOOP").tag == "x]y"  # "]" is an ASTRING-CHAR
    for tag in (b"+a", b"a+b", b"*", b"a(b", b'a"', b"a%", b"a{1"):
        err = bad(tag + b" NOOP")
        assert err.tag == "*", tag
        assert err.text == "Invalid tag"


def test_structural_errors_carry_the_tag() -> None:
    assert bad(b"").tag == "*"
    assert bad(b"t1").tag == "t1"
    assert bad(b"t2 FROB").text.startswith("Unknown command")
    assert bad(b"t3  NOOP").tag == "t3"  # two spaces
    assert bad(b"t4 LOGIN a  b").text == "Too many spaces"
    assert bad(b"t5 NOOP ").text == "Unexpected extra arguments"
    assert bad(b"t6 UID FROB 1").text.startswith("Unknown UID command")
    err = bad(b"t7 LOGIN \x01 b")
    assert (err.tag, err.status, err.code) == ("t7", "BAD", None)
    assert err.to_bytes().startswith(b"t7 BAD ")
    err = bad(b"t8 NOOP\x00")
    assert (err.tag, err.text) == ("t8", "NUL octet in command")
    assert err.to_bytes() == b"t8 BAD NUL octet in command\r\n"
    assert bad(b"\x00 NOOP").to_bytes() == b"* BAD Invalid tag\r\n"


def test_authenticate_with_and_without_sasl_ir() -> None:
    assert p(b"a AUTHENTICATE plain") == C.Authenticate("a", "PLAIN")
    assert p(b"a AUTHENTICATE PLAIN =") == C.Authenticate("a", "PLAIN", b"")
    assert p(b"a AUTHENTICATE PLAIN AGJvYgBwdw==") == C.Authenticate("a", "PLAIN", b"\x00bob\x00pw")
    assert bad(b"a AUTHENTICATE PLAIN ***").tag == "a"
    assert bad(b"a AUTHENTICATE PLAIN AGJvYg=").tag == "a"


def test_sasl_continuation_and_idle_done() -> None:
    assert decode_sasl_response(b"*", "t") is None
    assert decode_sasl_response(b"", "t") == b""
    assert decode_sasl_response(b"dGVzdA==", "t") == b"test"
    with pytest.raises(ImapParseError) as info:
        decode_sasl_response(b"d GVz", "t9")
    assert info.value.tag == "t9"
    assert is_idle_done(b"DONE") and is_idle_done(b"done")
    assert not is_idle_done(b"DONE ") and not is_idle_done(b"a1 NOOP")


def test_login_astring_forms() -> None:
    assert p(b"a LOGIN bob secret") == C.Login("a", "bob", "secret")
    assert p(b'a LOGIN "b o\\"b" "p\\\\w"') == C.Login("a", 'b o"b', "p\\w")
    assert p(b'a LOGIN {3}\r\nbob {4+}\r\np w"\r\n') == C.Login("a", "bob", 'p w"')
    assert p('a LOGIN "jörg" {2}\r\nü'.encode()) == C.Login("a", "jörg", "ü")
    assert bad("a LOGIN jörg x".encode()).tag == "a"  # atoms are ASCII
    assert bad(b'a LOGIN "bob').text == "Unterminated quoted string"
    assert bad(b'a LOGIN "b\\ob" x').text == "Invalid escape in quoted string"
    assert bad(b"a LOGIN bob").text == "Missing space"
    assert bad(b"a LOGIN \xff\xfe x").tag == "a"
    assert bad(b"a LOGIN ~{3}\r\nbob x").text == "literal8 is not allowed here"


def test_enable() -> None:
    assert p(b"a ENABLE utf8=accept CONDSTORE") == C.Enable("a", ("UTF8=ACCEPT", "CONDSTORE"))
    assert bad(b"a ENABLE").tag == "a"


# ------------------------------------------------------------------ mailboxes


def test_select_examine_condstore_qresync() -> None:
    assert p(b"a SELECT inbox") == C.Select("a", "INBOX")
    assert p(b"a EXAMINE Inbox") == C.Select("a", "INBOX", readonly=True)
    assert p(b"a SELECT INBOX.Sent (condstore)") == C.Select("a", "INBOX.Sent", condstore=True)
    cmd = p(b"a SELECT x (QRESYNC (67890007 90060115194045000 41:211,214:541))")
    assert cmd == C.Select(
        "a",
        "x",
        qresync=C.QResync(67890007, 90060115194045000, C.SequenceSet(((41, 211), (214, 541)))),
    )
    cmd = p(b"a SELECT x (QRESYNC (1 2 1:* (1,3 5,9)) CONDSTORE)")
    assert isinstance(cmd, C.Select) and cmd.condstore
    assert cmd.qresync == C.QResync(
        1, 2, C.SequenceSet(((1, None),)), (C.SequenceSet.of(1, 3), C.SequenceSet.of(5, 9))
    )
    assert p(b"a SELECT x (QRESYNC (1 2))") == C.Select("a", "x", qresync=C.QResync(1, 2))
    assert bad(b"a SELECT x (QRESYNC (0 2))").tag == "a"  # uidvalidity is nz-number
    assert bad(b"a SELECT x (FOO)").tag == "a"
    assert bad(b"a SELECT x (CONDSTORE CONDSTORE)").tag == "a"


def test_mailbox_names_modified_utf7_and_utf8() -> None:
    cmd = p(b"a SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-")
    assert cmd == C.Select("a", "~peter/mail/台北/日本語")
    assert p(b"a DELETE &-x") == C.Delete("a", "&x")
    # Valid syntax, not modified UTF-7: no parse error (BAD is for syntax, RFC 9051 §7.1) but
    # an UnusableName, which the session answers with NO.
    cmd = p(b"a DELETE &abc")
    assert isinstance(cmd, C.Delete) and isinstance(cmd.mailbox, C.UnusableName)
    assert cmd.mailbox == "&abc" and cmd.mailbox.reason == "unterminated modified base64 run"
    plain = p(b"a DELETE &-x")
    assert isinstance(plain, C.Delete) and not isinstance(plain.mailbox, C.UnusableName)
    # With UTF8=ACCEPT, "&" is just a character and names are UTF-8.
    assert p(b"a DELETE &abc", utf8=True) == C.Delete("a", "&abc")
    assert p('a DELETE "Entwürfe"'.encode(), utf8=True) == C.Delete("a", "Entwürfe")
    cmd = p(b"a DELETE {2}\r\na\x01", utf8=True)
    assert isinstance(cmd, C.Delete) and isinstance(cmd.mailbox, C.UnusableName)
    listed = p(b'a LIST "" ("x" "a&b")')
    assert isinstance(listed, C.List) and isinstance(listed.patterns[1], C.UnusableName)


def test_create_special_use() -> None:
    assert p(b"a CREATE foo") == C.Create("a", "foo")
    assert p(b"a CREATE Drafts (USE (\\drafts \\Sent))") == C.Create(
        "a", "Drafts", ("\\Drafts", "\\Sent")
    )
    # Unknown attributes parse; the handler answers NO [USEATTR] (RFC 6154 §3).
    assert p(b"a CREATE x (USE (\\Bogus))") == C.Create("a", "x", ("\\Bogus",))
    assert bad(b"a CREATE x (FOO (1))").tag == "a"


def test_delete_rename_subscribe() -> None:
    assert p(b"a DELETE x") == C.Delete("a", "x")
    assert p(b'a RENAME "a b" inbox') == C.Rename("a", "a b", "INBOX")
    assert p(b"a SUBSCRIBE x") == C.Subscribe("a", "x")
    assert p(b"a UNSUBSCRIBE x") == C.Unsubscribe("a", "x")
    assert bad(b"a RENAME x").tag == "a"


def test_list_basic_and_extended() -> None:
    assert p(b'a LIST "" *') == C.List("a", "", ("*",))
    assert p(b"a LIST ~/Mail/ %") == C.List("a", "~/Mail/", ("%",))
    assert p(b'a LIST "" "&ZeVnLIqe-/*"') == C.List("a", "", ("日本語/*",))
    cmd = p(b'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("*" %) RETURN (CHILDREN STATUS (MESSAGES))')
    assert cmd == C.List(
        "a",
        "",
        ("*", "%"),
        frozenset({"SUBSCRIBED", "RECURSIVEMATCH"}),
        C.ListReturn(children=True, status=("MESSAGES",)),
        extended=True,
    )
    cmd = p(b'a LIST () "" x RETURN (SUBSCRIBED SPECIAL-USE)')
    assert cmd == C.List(
        "a", "", ("x",), frozenset(), C.ListReturn(True, False, True), extended=True
    )
    assert p(b'a LIST (REMOTE SPECIAL-USE) "" *').selection == {"REMOTE", "SPECIAL-USE"}
    assert bad(b'a LIST (RECURSIVEMATCH) "" *').tag == "a"
    assert bad(b'a LIST (BOGUS) "" *').tag == "a"
    assert bad(b'a LIST "" * RETURN (BOGUS)').tag == "a"
    assert bad(b'a LIST "" ()').tag == "a"


def test_lsub_and_status() -> None:
    assert p(b'a LSUB "" *') == C.Lsub("a", "", "*")
    cmd = p(
        b"a STATUS inbox (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ"
        b" RECENT appendlimit)"
    )
    assert cmd == C.Status(
        "a",
        "INBOX",
        (
            "MESSAGES",
            "UIDNEXT",
            "UIDVALIDITY",
            "UNSEEN",
            "DELETED",
            "SIZE",
            "HIGHESTMODSEQ",
            "RECENT",
            "APPENDLIMIT",
        ),
    )
    assert bad(b"a STATUS x ()").tag == "a"
    assert bad(b"a STATUS x (BOGUS)").tag == "a"


# ------------------------------------------------------------------ APPEND


def test_append_forms() -> None:
    assert p(b"a APPEND x {5}\r\nhello") == C.Append("a", "x", (C.AppendMessage(b"hello"),))
    cmd = p(b'a APPEND inbox (\\seen $Fwd) " 5-Jan-2024 10:00:00 -0130" {2+}\r\nhi')
    assert cmd == C.Append(
        "a",
        "INBOX",
        (
            C.AppendMessage(
                b"hi",
                ("\\Seen", "$Fwd"),
                dt.datetime(2024, 1, 5, 10, 0, tzinfo=dt.timezone(-dt.timedelta(minutes=90))),
            ),
        ),
    )
    date = p(b'a APPEND x "15-Jan-2024 23:59:59 +0000" {1}\r\nz')
    assert date.messages[0].date_time == dt.datetime(2024, 1, 15, 23, 59, 59, tzinfo=dt.UTC)
    assert p(b"a APPEND x () ~{3}\r\n\x00\x01\x02") == C.Append(
        "a", "x", (C.AppendMessage(b"\x00\x01\x02", binary=True),)
    )
    assert p(b"a APPEND x UTF8 (~{2}\r\nhi)") == C.Append(
        "a", "x", (C.AppendMessage(b"hi", binary=True, utf8=True),)
    )


def test_multiappend() -> None:
    cmd = p(b"a APPEND x (\\Seen) {1}\r\n1 {1}\r\n2 (\\Draft) {1+}\r\n3")
    assert cmd == C.Append(
        "a",
        "x",
        (
            C.AppendMessage(b"1", ("\\Seen",)),
            C.AppendMessage(b"2"),
            C.AppendMessage(b"3", ("\\Draft",)),
        ),
    )


def test_append_errors() -> None:
    assert bad(b"a APPEND x").tag == "a"
    assert bad(b"a APPEND x hello").tag == "a"
    assert bad(b'a APPEND x "30-Feb-2024 10:00:00 +0000" {1}\r\nx').text == "Invalid date-time"
    assert bad(b'a APPEND x "1-Foo-2024 10:00:00 +0000" {1}\r\nx').text == "Invalid month"
    assert bad(b'a APPEND x "1-Jan-2024 10:00:00 +9999" {1}\r\nx').tag == "a"
    assert bad(b'a APPEND x "1-Jan-2024 10:00:00 +0160" {1}\r\nx').text == "Invalid time zone"
    assert bad(b"a APPEND x {1}\r\nx ").tag == "a"


# ------------------------------------------------------------------ sequence sets


def test_sequence_set_values() -> None:
    s = C.SequenceSet(((1, 3), (5, 5), (9, None), (12, 10)))
    assert str(s) == "1:3,5,9:*,12:10"
    assert s.normalized(11) == ((1, 3), (5, 5), (9, 11))
    assert s.resolve(7) == [1, 2, 3, 5, 7]  # "9:*" with * = 7 is 7:9 -> 7
    assert s.contains(11, 20) and not s.contains(4, 20)
    assert C.SequenceSet(((None, None),)).resolve(0) == []
    assert C.SequenceSet(((5, None),)).resolve(3) == [3]  # RFC 9051 §6.4.8 UID 5:*
    with pytest.raises(ValueError):
        C.SequenceSet(saved=True).resolve(5)
    assert str(C.SequenceSet(saved=True)) == "$"


def test_sequence_set_parse() -> None:
    cmd = p(b"a FETCH 4:2,*,7:* FLAGS")
    assert isinstance(cmd, C.Fetch)
    assert cmd.sequence_set == C.SequenceSet(((4, 2), (None, None), (7, None)))
    assert p(b"a UID FETCH $ UID").sequence_set == C.SequenceSet(saved=True)
    for text in (b"0", b"1:0", b"1,", b"1::2", b"$,1", b"4294967296", b"-1"):
        assert bad(b"a FETCH " + text + b" FLAGS").tag == "a", text


# ------------------------------------------------------------------ FETCH


def test_fetch_macros_and_simple_items() -> None:
    names = lambda cmd: tuple(i.name for i in cmd.items)  # noqa: E731
    assert names(p(b"a FETCH 1 all")) == ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE")
    assert names(p(b"a FETCH 1 FAST")) == ("FLAGS", "INTERNALDATE", "RFC822.SIZE")
    assert names(p(b"a FETCH 1 FULL")) == (
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODY",
    )
    everything = (
        b"a FETCH 1 (ENVELOPE FLAGS INTERNALDATE RFC822.SIZE BODY BODYSTRUCTURE UID RFC822"
        b" RFC822.HEADER RFC822.TEXT MODSEQ EMAILID THREADID PREVIEW)"
    )
    assert names(p(everything)) == (
        "ENVELOPE",
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "BODY",
        "BODYSTRUCTURE",
        "UID",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.TEXT",
        "MODSEQ",
        "EMAILID",
        "THREADID",
        "PREVIEW",
    )
    assert p(b"a FETCH 1 uid") == C.Fetch("a", C.SequenceSet.of(1), (C.FetchItem("UID"),))
    assert bad(b"a FETCH 1 ()").tag == "a"
    assert bad(b"a FETCH 1 (ALL)").tag == "a"  # macros are not fetch-atts
    assert bad(b"a FETCH 1 BOGUS").tag == "a"


def test_fetch_sections_and_partials() -> None:
    items = p(
        b"a FETCH 1 (BODY[] BODY.PEEK[1.2.HEADER.FIELDS (from X-Y)]<0.100> BODY[HEADER]"
        b" BODY[1.MIME] BODY[TEXT]<5.10> BODY[HEADER.FIELDS.NOT (Subject)] BODY[3]"
        b" BINARY[1.2] BINARY.PEEK[]<0.5> BINARY.SIZE[4])"
    ).items
    assert items == (
        C.FetchItem("BODY", SectionSpec()),
        C.FetchItem(
            "BODY", SectionSpec((1, 2), "HEADER.FIELDS", ("FROM", "X-Y")), Partial(0, 100), True
        ),
        C.FetchItem("BODY", SectionSpec((), "HEADER")),
        C.FetchItem("BODY", SectionSpec((1,), "MIME")),
        C.FetchItem("BODY", SectionSpec((), "TEXT"), Partial(5, 10)),
        C.FetchItem("BODY", SectionSpec((), "HEADER.FIELDS.NOT", ("SUBJECT",))),
        C.FetchItem("BODY", SectionSpec((3,))),
        C.FetchItem("BINARY", SectionSpec((1, 2))),
        C.FetchItem("BINARY", SectionSpec(), Partial(0, 5), peek=True),
        C.FetchItem("BINARY.SIZE", SectionSpec((4,))),
    )
    for wrong in (
        b"BODY[MIME]",
        b"BODY[1.BOGUS]",
        b"BODY[HEADER.FIELDS]",
        b"BODY[HEADER.FIELDS ()]",
        b"BODY.PEEK",
        b"BODY[]<1.0>",
        b"BODY[0]",
        b"BINARY[TEXT]",
        b"BINARY.SIZE",
    ):
        assert bad(b"a FETCH 1 " + wrong).tag == "a", wrong


def test_fetch_preview_lazy_and_modifiers() -> None:
    cmd = p(b"a UID FETCH 1:* (FLAGS PREVIEW (LAZY)) (CHANGEDSINCE 12345 VANISHED)")
    assert cmd == C.Fetch(
        "a",
        C.SequenceSet(((1, None),)),
        (C.FetchItem("FLAGS"), C.FetchItem("PREVIEW", lazy=True)),
        uid=True,
        changed_since=12345,
        vanished=True,
    )
    cmd = p(b"a FETCH 1 PREVIEW (CHANGEDSINCE 5)")
    assert cmd == C.Fetch("a", C.SequenceSet.of(1), (C.FetchItem("PREVIEW"),), changed_since=5)
    assert p(b"a FETCH 1 PREVIEW (LAZY)").items == (C.FetchItem("PREVIEW", lazy=True),)
    assert bad(b"a FETCH 1 FLAGS (CHANGEDSINCE 5 VANISHED)").tag == "a"  # not UID FETCH
    assert bad(b"a UID FETCH 1 FLAGS (VANISHED)").tag == "a"  # no CHANGEDSINCE
    assert bad(b"a FETCH 1 FLAGS (BOGUS)").tag == "a"


# ------------------------------------------------------------------ STORE / COPY / MOVE / EXPUNGE


def test_store_forms() -> None:
    one = C.SequenceSet.of(1)
    assert p(b"a STORE 1 FLAGS (\\seen)") == C.Store("a", one, "SET", ("\\Seen",))
    assert p(b"a STORE 1 +FLAGS.SILENT \\Deleted $Junk") == C.Store(
        "a", one, "ADD", ("\\Deleted", "$Junk"), silent=True
    )
    assert p(b"a UID STORE 1 -flags ()") == C.Store("a", one, "REMOVE", (), uid=True)
    assert p(b"a STORE 1 (UNCHANGEDSINCE 320162338) +FLAGS (\\Seen)") == C.Store(
        "a", one, "ADD", ("\\Seen",), unchanged_since=320162338
    )
    assert bad(b"a STORE 1 FLAGZ (\\Seen)").tag == "a"
    assert bad(b"a STORE 1 +FLAGS").tag == "a"
    assert bad(b"a STORE 1 FLAGS (\\*)").tag == "a"


def test_copy_move_expunge() -> None:
    s = C.SequenceSet(((2, 4),))
    assert p(b"a COPY 2:4 inbox") == C.Copy("a", s, "INBOX")
    assert p(b"a UID COPY 2:4 x") == C.Copy("a", s, "x", uid=True)
    assert p(b"a MOVE 2:4 x") == C.Move("a", s, "x")
    assert p(b"a uid move 2:4 x") == C.Move("a", s, "x", uid=True)
    assert p(b"a UID EXPUNGE 2:4") == C.Expunge("a", s)
    assert bad(b"a UID EXPUNGE").tag == "a"


# ------------------------------------------------------------------ SEARCH


D = dt.date(2024, 2, 1)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (b"ALL", C.SearchAll()),
        (b"ANSWERED", C.SearchFlag("\\Answered")),
        (b"DELETED", C.SearchFlag("\\Deleted")),
        (b"DRAFT", C.SearchFlag("\\Draft")),
        (b"FLAGGED", C.SearchFlag("\\Flagged")),
        (b"SEEN", C.SearchFlag("\\Seen")),
        (b"RECENT", C.SearchFlag("\\Recent")),
        (b"UNANSWERED", C.SearchFlag("\\Answered", False)),
        (b"UNDELETED", C.SearchFlag("\\Deleted", False)),
        (b"UNDRAFT", C.SearchFlag("\\Draft", False)),
        (b"UNFLAGGED", C.SearchFlag("\\Flagged", False)),
        (b"UNSEEN", C.SearchFlag("\\Seen", False)),
        (b"UNRECENT", C.SearchFlag("\\Recent", False)),
        (b"OLD", C.SearchFlag("\\Recent", False)),
        (b"NEW", C.SearchAnd((C.SearchFlag("\\Recent"), C.SearchFlag("\\Seen", False)))),
        (b"KEYWORD $Forwarded", C.SearchFlag("$Forwarded")),
        (b"UNKEYWORD Junk", C.SearchFlag("Junk", False)),
        (b"BCC x", C.SearchText("BCC", "x")),
        (b"CC x", C.SearchText("CC", "x")),
        (b'FROM "a b"', C.SearchText("FROM", "a b")),
        (b"SUBJECT {3}\r\nh i", C.SearchText("SUBJECT", "h i")),
        (b"TO x", C.SearchText("TO", "x")),
        (b"BODY x", C.SearchText("BODY", "x")),
        (b"TEXT x", C.SearchText("TEXT", "x")),
        (b"HEADER list-id foo", C.SearchHeader("LIST-ID", "foo")),
        (b'HEADER X-Y ""', C.SearchHeader("X-Y", "")),
        (b"BEFORE 1-Feb-2024", C.SearchDate(False, "BEFORE", D)),
        (b'ON "01-feb-2024"', C.SearchDate(False, "ON", D)),
        (b"SINCE 1-FEB-2024", C.SearchDate(False, "SINCE", D)),
        (b"SENTBEFORE 1-Feb-2024", C.SearchDate(True, "BEFORE", D)),
        (b"SENTON 1-Feb-2024", C.SearchDate(True, "ON", D)),
        (b"SENTSINCE 1-Feb-2024", C.SearchDate(True, "SINCE", D)),
        (b"LARGER 100", C.SearchSize("LARGER", 100)),
        (b"SMALLER 5000000000", C.SearchSize("SMALLER", 5_000_000_000)),
        (b"NOT SEEN", C.SearchNot(C.SearchFlag("\\Seen"))),
        (b"OR SEEN 1", C.SearchOr(C.SearchFlag("\\Seen"), C.SearchSeq(C.SequenceSet.of(1)))),
        (b"UID 1:*", C.SearchSeq(C.SequenceSet(((1, None),)), uid=True)),
        (b"2,4:5", C.SearchSeq(C.SequenceSet(((2, 2), (4, 5))))),
        (b"*", C.SearchSeq(C.SequenceSet(((None, None),)))),
        (b"$", C.SearchSeq(C.SequenceSet(saved=True))),
        (b"UID $", C.SearchSeq(C.SequenceSet(saved=True), uid=True)),
        (b"(SEEN)", C.SearchFlag("\\Seen")),
        (b"(SEEN DRAFT)", C.SearchAnd((C.SearchFlag("\\Seen"), C.SearchFlag("\\Draft")))),
        (b"MODSEQ 0", C.SearchModSeq(0)),
        (
            b'MODSEQ "/flags/\\\\draft" all 620162338',
            C.SearchModSeq(620162338, "/flags/\\draft", "ALL"),
        ),
        (b'MODSEQ "/flags/$Junk" PRIV 5', C.SearchModSeq(5, "/flags/$Junk", "PRIV")),
        (b"OLDER 3600", C.SearchAge("OLDER", 3600)),
        (b"YOUNGER 60", C.SearchAge("YOUNGER", 60)),
        (b"EMAILID M6d99ac3275bb4e", C.SearchObjectId("EMAILID", "M6d99ac3275bb4e")),
        (b"THREADID T64b478a75b7ea9", C.SearchObjectId("THREADID", "T64b478a75b7ea9")),
    ],
)
def test_every_search_key(text: bytes, key: C.SearchKey) -> None:
    assert p(b"a SEARCH " + text) == C.Search("a", key)


def test_search_lowercase_keywords() -> None:
    assert p(b"a search unseen not deleted") == C.Search(
        "a", C.SearchAnd((C.SearchFlag("\\Seen", False), C.SearchNot(C.SearchFlag("\\Deleted"))))
    )


def test_search_nesting_return_charset() -> None:
    cmd = p(
        b"a UID SEARCH RETURN (MIN max COUNT) CHARSET UTF-8"
        b" OR (FROM bob SINCE 1-Feb-2024) NOT 1:3 HEADER X-Y z"
    )
    assert cmd == C.Search(
        "a",
        C.SearchAnd(
            (
                C.SearchOr(
                    C.SearchAnd((C.SearchText("FROM", "bob"), C.SearchDate(False, "SINCE", D))),
                    C.SearchNot(C.SearchSeq(C.SequenceSet(((1, 3),)))),
                ),
                C.SearchHeader("X-Y", "z"),
            )
        ),
        uid=True,
        charset="UTF-8",
        return_options=("MIN", "MAX", "COUNT"),
    )
    assert p(b"a SEARCH RETURN () ALL").return_options == ()
    assert p(b"a SEARCH RETURN (SAVE ALL) SEEN").return_options == ("SAVE", "ALL")
    assert bad(b"a SEARCH RETURN (BOGUS) ALL").tag == "a"


def test_search_charsets() -> None:
    latin = p(b"a SEARCH CHARSET iso-8859-1 SUBJECT {4}\r\ncaf\xe9")
    assert latin.charset == "ISO-8859-1"
    assert latin.criteria == C.SearchText("SUBJECT", "café")
    utf = p('a SEARCH CHARSET utf-8 SUBJECT "café"'.encode())
    assert utf.criteria == C.SearchText("SUBJECT", "café")
    for charset in (b"X-BOGUS", b"rot13", b"unicode_escape", b"base64"):
        err = bad(b"a SEARCH CHARSET " + charset + b" ALL")
        assert (err.tag, err.status, err.code) == ("a", "NO", "BADCHARSET (UTF-8 US-ASCII)")
    assert bad(b"a SEARCH CHARSET US-ASCII SUBJECT {1}\r\n\xff").tag == "a"


def test_search_errors() -> None:
    for text in (
        b"",
        b"BOGUS",
        b"(SEEN",
        b"()",
        b"OR SEEN",
        b"NOT",
        b"BEFORE 31-Feb-2024",
        b"BEFORE 1-Feb-24",
        b"LARGER x",
        b"KEYWORD \\",
        b'MODSEQ "/x" all 5',
        b'MODSEQ "/flags/x" bogus 5',
        b"EMAILID a.b",
        b"OLDER 0",
        b"SEEN  DRAFT",
    ):
        assert bad(b"t SEARCH " + text).tag == "t", text
    deep = b"a SEARCH " + b"NOT " * 200 + b"ALL"
    assert bad(deep).text == "Search criteria nested too deeply"
    parens = b"a SEARCH " + b"(" * 200 + b"ALL" + b")" * 200
    assert bad(parens).tag == "a"


# ------------------------------------------------------------------ SORT / THREAD / QUOTA / ID


def test_sort_and_thread() -> None:
    cmd = p(
        b"a UID SORT (REVERSE ARRIVAL cc DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO)"
        b" UTF-8 SEEN"
    )
    assert cmd == C.Sort(
        "a",
        (
            C.SortCriterion("ARRIVAL", True),
            C.SortCriterion("CC"),
            C.SortCriterion("DATE"),
            C.SortCriterion("FROM"),
            C.SortCriterion("SIZE"),
            C.SortCriterion("SUBJECT"),
            C.SortCriterion("TO"),
            C.SortCriterion("DISPLAYFROM"),
            C.SortCriterion("DISPLAYTO"),
        ),
        "UTF-8",
        C.SearchFlag("\\Seen"),
        uid=True,
    )
    assert p(b"a SORT (SUBJECT) US-ASCII ALL") == C.Sort(
        "a", (C.SortCriterion("SUBJECT"),), "US-ASCII", C.SearchAll()
    )
    assert p(b"a THREAD REFERENCES UTF-8 ALL") == C.Thread(
        "a", "REFERENCES", "UTF-8", C.SearchAll()
    )
    assert p(b"a UID THREAD orderedsubject US-ASCII SINCE 1-Feb-2024 DELETED") == C.Thread(
        "a",
        "ORDEREDSUBJECT",
        "US-ASCII",
        C.SearchAnd((C.SearchDate(False, "SINCE", D), C.SearchFlag("\\Deleted"))),
        uid=True,
    )
    assert bad(b"a SORT () UTF-8 ALL").tag == "a"
    assert bad(b"a SORT (REVERSE) UTF-8 ALL").tag == "a"
    assert bad(b"a SORT (SUBJECT) ALL").tag == "a"  # charset is mandatory
    assert bad(b"a THREAD BOGUS UTF-8 ALL").tag == "a"


def test_quota_commands() -> None:
    assert p(b'a GETQUOTA ""') == C.GetQuota("a", "")
    assert p(b"a GETQUOTAROOT inbox") == C.GetQuotaRoot("a", "INBOX")
    assert p(b'a SETQUOTA "" (STORAGE 512 message 1000)') == C.SetQuota(
        "a", "", (("STORAGE", 512), ("MESSAGE", 1000))
    )
    assert p(b"a SETQUOTA x ()") == C.SetQuota("a", "x", ())
    assert bad(b"a SETQUOTA x (STORAGE)").tag == "a"


def test_id_and_compress() -> None:
    assert p(b"a ID NIL") == C.Id("a", None)
    assert p(b'a ID ("name" "sodr" "version" NIL)') == C.Id(
        "a", (("name", "sodr"), ("version", None))
    )
    assert p(b"a ID ()") == C.Id("a", ())
    too_many = b"a ID (" + b" ".join(b'"k%d" "v"' % i for i in range(31)) + b")"
    assert bad(too_many).tag == "a"
    assert bad(b'a ID ("name")').tag == "a"
    assert p(b"a COMPRESS deflate") == C.Compress("a", "DEFLATE")


# ------------------------------------------------------------------ modified UTF-7


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"),  # RFC 3501 §5.1.3
        ("&Jjo-!", "☺!"),
        ("Entw&APw-rfe", "Entwürfe"),
        ("&-", "&"),
        ("A&-B", "A&B"),
        ("", ""),
        ("&2D3fAA-", "\U0001f700"),  # a surrogate pair
    ],
)
def test_mutf7_examples(encoded: str, decoded: str) -> None:
    assert mutf7.decode(encoded) == decoded
    assert mutf7.encode(decoded) == encoded


@pytest.mark.parametrize(
    "text", ["&", "&Jjo", "&Jj o-", "&AGE-", "&2D3-", "&Jjo=-", "a\x01", "&A-"]
)
def test_mutf7_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        mutf7.decode(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30))
def test_mutf7_round_trip_property(name: str) -> None:
    encoded = mutf7.encode(name)
    assert encoded.isascii()
    assert all(0x20 <= ord(c) <= 0x7E for c in encoded)
    if all(ord(c) >= 0x20 and ord(c) != 0x7F for c in name):
        assert mutf7.decode(encoded) == name


# ------------------------------------------------------------------ robustness


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80))
def test_parser_only_raises_parse_errors(noise: bytes) -> None:
    for prefix in (b"", b"a1 ", b"a1 SEARCH ", b"a1 FETCH 1 ", b"a1 APPEND x ", b"a1 LIST "):
        frame = Frame((prefix + noise,))
        for utf8 in (False, True):
            try:
                parse_command(frame, utf8=utf8)
            except ImapParseError as exc:
                assert exc.tag == "a1" or not prefix
