"""RFC 5256 SORT and THREAD: base subjects, sort keys and order, both threading algorithms and
the THREAD response syntax."""

from __future__ import annotations

import pytest

from protocols.imap.sortthread import (
    SortMessage,
    ThreadNode,
    base_subject,
    casemap,
    format_threads,
    is_reply_or_forward,
    sort,
    subject_key,
    thread_orderedsubject,
    thread_references,
)
from protocols.mime import parse_message

# --- base subject (RFC 5256 §2.1) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "base", "refwd"),
    [
        ("test", "test", False),
        ("Re: test", "test", True),
        ("RE:   test", "test", True),
        ("Re: Re: re: test", "test", True),
        ("re:re:fwd: x", "x", True),
        ("Fwd: test", "test", True),
        ("FW: test", "test", True),
        ("Re : test", "test", True),  # subj-refwd allows WSP before ":"
        ("Re[2]: test", "test", True),  # ... and a blob
        ("Fw [list]: test", "test", True),
        ("[PATCH] test", "test", False),  # step 4: a leading blob goes when text remains
        ("[PATCH]", "[PATCH]", False),  # ... but not when it is the whole subject
        ("Re: [blob]", "[blob]", True),
        ("Re: [blob]  ", "[blob]", True),
        ("[a] [b] Re: [c] test", "test", True),
        ("[blob]Re: test", "test", True),
        ("test (fwd)", "test", True),  # step 2: "(fwd)" trailer
        ("test (FWD) (fwd)  ", "test", True),
        ("test(fwd)", "test", True),
        ("[Fwd: test]", "test", True),  # step 6: subj-fwd wrapper
        ("[fwd: Re: [list] test (fwd)]", "test", True),
        ("Re: [Fwd: Re: hello]", "hello", True),
        ("[fwd: x] y", "y", False),  # not a wrapper (does not end in "]"): a plain blob
        ("Re:", "", True),
        ("  ", "", False),
        ("", "", False),
        ("Rex: test", "Rex: test", False),  # "re" must be followed by WSP/blob and ":"
        ("Refwd: test", "Refwd: test", False),
        ("AW: test", "AW: test", False),  # not in RFC 5256's grammar
        ("a\t\tb  \t c", "a b c", False),  # step 1: tabs and runs of spaces
        ("Re: multi\r\n line", "multi line", True),
        ("Re: (fwd)", "", True),
        ("Re: Grüße", "Grüße", True),
    ],
)
def test_base_subject(subject: str, base: str, refwd: bool) -> None:
    assert base_subject(subject) == base
    assert is_reply_or_forward(subject) is refwd


def test_base_subject_none() -> None:
    assert base_subject(None) == ""
    assert not is_reply_or_forward(None)


def test_subject_key_folds_case_and_compatibility_forms() -> None:
    assert subject_key("Re: HELLO World") == subject_key("hello world")
    assert subject_key("Straße") == subject_key("STRASSE")
    assert casemap("ﬁle") == casemap("FILE")  # NFKD of the "fi" ligature
    assert subject_key("Re: a") != subject_key("b")


def test_casemap_is_ascii_casemap_for_ascii() -> None:
    """RFC 5256 §3 / RFC 4790 §9.2 (i;ascii-casemap): a-z become A-Z, then octets compare, so
    the six characters between "Z" and "a" sort after every letter and before "{|}~"."""
    words = ["~e", "{c", "_a", "Z", "[b", "a", "`d", "^f", "\\g", "]h", "B", "0", " s"]
    ordered = sorted(words, key=casemap)
    assert ordered == [" s", "0", "a", "B", "Z", "[b", "\\g", "]h", "^f", "_a", "`d", "{c", "~e"]
    assert casemap("Hello [World]") == "HELLO [WORLD]"
    # Non-ASCII text: folded and decomposed too, then upper case like the ASCII letters.
    assert sorted(["élan", "Ezra", "_x", "Fox"], key=casemap) == ["Ezra", "élan", "Fox", "_x"]


# --- SortMessage from a parsed message ---------------------------------------------------------


def _parsed(headers: str) -> SortMessage:
    raw = (headers.strip("\n").replace("\n", "\r\n") + "\r\n\r\nbody\r\n").encode()
    return SortMessage.from_parsed(
        parse_message(raw), seq=1, uid=10, internal_date=1_000_000, size=len(raw)
    )


def test_sort_message_from_parsed() -> None:
    m = _parsed(
        """
From: =?utf-8?q?Zo=C3=AB?= <Zoe@Example.org>
To: Team: bob@x.org, "Carl" <carl@y.org>;
Cc: "" <Dave@z.org>
Date: Thu, 01 Jan 2004 00:00:00 +0000
Subject: Re: [list] Hello
Message-ID: <m1@x>
References: <r1@x> <r2@x>
In-Reply-To: <r9@x>
"""
    )
    assert (m.seq, m.uid, m.arrival) == (1, 10, 1_000_000)
    assert m.sent == 1072915200
    assert m.from_ == "ZOE"
    # RFC 5256 §3: the first address as ENVELOPE presents it, the group start marker
    # (NIL NIL "Team" NIL): its addr-mailbox is the group name.
    assert m.to == "TEAM"
    assert m.cc == "DAVE"
    assert m.display_from == casemap("Zoë")  # RFC 2047-decoded display name
    assert m.display_to == "TEAM"  # RFC 5957: the list starts with a group: its name
    assert m.subject == "HELLO"
    assert m.is_reply
    assert m.message_id == "m1@x"
    assert m.references == ("r1@x", "r2@x")  # References wins over In-Reply-To


def test_sort_message_fallbacks() -> None:
    m = _parsed(
        """
From: plain@example.org
Date: not a date at all
Subject: Hi
In-Reply-To: junk text <p1@x> more <p2@x>
"""
    )
    assert m.sent == 1_000_000  # RFC 5256 §2.2: invalid Date -> internal date
    assert m.display_from == "PLAIN@EXAMPLE.ORG"  # no display-name: the addr-spec
    assert m.to == "" and m.display_to == "" and m.cc == ""
    assert m.message_id is None
    assert m.references == ("p1@x",)  # first valid id of In-Reply-To
    assert not m.is_reply


def test_sort_message_missing_date() -> None:
    assert _parsed("Subject: x").sent == 1_000_000


# --- SORT (RFC 5256 §3) -----------------------------------------------------------------------


def _m(seq: int, **kw: object) -> SortMessage:
    base: dict[str, object] = {"seq": seq, "uid": seq * 10, "arrival": 0, "sent": 0, "size": 0}
    base.update(kw)
    return SortMessage(**base)  # type: ignore[arg-type]


def _seqs(messages: list[SortMessage]) -> list[int]:
    return [m.seq for m in messages]


def test_sort_single_keys() -> None:
    msgs = [
        _m(1, size=30, arrival=3, sent=10, from_="carol", subject="b"),
        _m(2, size=10, arrival=1, sent=30, from_="alice", subject="c"),
        _m(3, size=20, arrival=2, sent=20, from_="bob", subject="a"),
    ]
    assert _seqs(sort(msgs, [("SIZE", False)])) == [2, 3, 1]
    assert _seqs(sort(msgs, [("ARRIVAL", False)])) == [2, 3, 1]
    assert _seqs(sort(msgs, [("DATE", False)])) == [1, 3, 2]
    assert _seqs(sort(msgs, [("FROM", False)])) == [2, 3, 1]
    assert _seqs(sort(msgs, [("subject", False)])) == [3, 1, 2]  # key names case-insensitive
    assert _seqs(sort(msgs, [("SIZE", True)])) == [1, 3, 2]


def test_sort_ties_keep_sequence_order_even_when_reversed() -> None:
    msgs = [_m(4, size=5), _m(1, size=5), _m(3, size=9), _m(2, size=5)]
    assert _seqs(sort(msgs, [("SIZE", False)])) == [1, 2, 4, 3]
    # REVERSE applies to the key only: equal messages stay in ascending sequence order.
    assert _seqs(sort(msgs, [("SIZE", True)])) == [3, 1, 2, 4]
    assert _seqs(sort(msgs, [])) == [1, 2, 3, 4]


def test_sort_multiple_keys() -> None:
    msgs = [
        _m(1, from_="b", sent=2),
        _m(2, from_="a", sent=2),
        _m(3, from_="b", sent=1),
        _m(4, from_="a", sent=3),
    ]
    assert _seqs(sort(msgs, [("FROM", False), ("DATE", False)])) == [2, 4, 3, 1]
    assert _seqs(sort(msgs, [("FROM", True), ("DATE", False)])) == [3, 1, 2, 4]
    assert _seqs(sort(msgs, [("FROM", False), ("DATE", True)])) == [4, 2, 1, 3]
    assert _seqs(sort(msgs, [("DATE", False), ("FROM", True)])) == [3, 1, 2, 4]


def test_sort_address_keys_of_groups_follow_the_envelope() -> None:
    """RFC 5256 §3: FROM/TO/CC sort on the addr-mailbox of the first address as ENVELOPE
    presents it; a list that starts with a group starts with its group start marker, whose
    addr-mailbox is the group name (an empty group too)."""
    team = _parsed("From: Team: zz@x.org;\nCc: undisclosed-recipients:;\nTo: a@b, c@d")
    assert (team.from_, team.cc, team.to) == ("TEAM", "UNDISCLOSED-RECIPIENTS", "A")
    other = _parsed("From: z@x.org\nCc: b@x.org")  # sorts after "TEAM", before its "zz"
    by_from = sort([_m(1, from_=team.from_), _m(2, from_=other.from_)], [("FROM", False)])
    assert _seqs(by_from) == [1, 2]
    assert _seqs(sort([_m(1, cc=team.cc), _m(2, cc=other.cc)], [("CC", False)])) == [2, 1]


def test_sort_display_and_cc_to() -> None:
    msgs = [
        _m(1, display_from="zed", display_to="b", to="y", cc=""),
        _m(2, display_from="adam", display_to="a", to="z", cc="m"),
    ]
    assert _seqs(sort(msgs, [("DISPLAYFROM", False)])) == [2, 1]
    assert _seqs(sort(msgs, [("DISPLAYTO", False)])) == [2, 1]
    assert _seqs(sort(msgs, [("TO", False)])) == [1, 2]
    assert _seqs(sort(msgs, [("CC", False)])) == [1, 2]  # empty sorts first


def test_sort_unknown_key() -> None:
    with pytest.raises(KeyError):
        sort([_m(1)], [("COLOUR", False)])


# --- THREAD ----------------------------------------------------------------------------------


def _t(
    seq: int,
    sent: int,
    subject: str = "x",
    mid: str | None = None,
    refs: tuple[str, ...] = (),
) -> SortMessage:
    return SortMessage(
        seq=seq,
        uid=seq + 100,
        arrival=sent,
        sent=sent,
        size=1,
        subject=subject_key(subject),
        is_reply=is_reply_or_forward(subject),
        message_id=mid if mid is not None else f"m{seq}",
        references=refs,
    )


def test_format_threads_syntax() -> None:
    def n(seq: int, *kids: ThreadNode) -> ThreadNode:
        return ThreadNode(_t(seq, 0), kids)

    tree = (
        n(2),
        n(3, n(6, n(4, n(23)), n(44, n(7, n(96))))),
        ThreadNode(None, (n(8), n(9))),
    )
    assert format_threads(tree) == b"(2)(3 6 (4 23)(44 7 96))((8)(9))"
    assert (
        format_threads(tree, use_uid=True) == b"(102)(103 106 (104 123)(144 107 196))((108)(109))"
    )
    assert format_threads(()) == b""


def test_orderedsubject() -> None:
    msgs = [
        _t(1, 5, "Hello"),
        _t(2, 6, "Re: hello"),
        _t(3, 1, "Other"),
        _t(4, 7, "Re: Hello"),
        _t(5, 2, "re: other"),
        _t(6, 3, "Fwd: HELLO"),
    ]
    # Threads ordered by their first message's date; the first message is the parent of all
    # the others (no grandchildren).  "Fwd: HELLO" (sent 3) is the first of its thread.
    assert format_threads(thread_orderedsubject(msgs)) == b"(3 5)(6 (1)(2)(4))"


def test_orderedsubject_ties_by_sequence() -> None:
    msgs = [_t(2, 5, "a"), _t(1, 5, "a"), _t(3, 5, "b")]
    assert format_threads(thread_orderedsubject(msgs)) == b"(1 2)(3)"


def test_references_rfc_shape() -> None:
    # The formal-syntax example of RFC 5256 §5: "(2)(3 6 (4 23)(44 7 96))".
    msgs = [
        _t(2, 1, "a"),
        _t(3, 2, "b", "m3"),
        _t(6, 3, "Re: b", "m6", ("m3",)),
        _t(4, 4, "Re: b", "m4", ("m3", "m6")),
        _t(23, 5, "Re: b", "m23", ("m3", "m6", "m4")),
        _t(44, 6, "Re: b", "m44", ("m3", "m6")),
        _t(7, 7, "Re: b", "m7", ("m3", "m6", "m44")),
        _t(96, 8, "Re: b", "m96", ("m3", "m6", "m44", "m7")),
    ]
    assert format_threads(thread_references(msgs)) == b"(2)(3 6 (4 23)(44 7 96))"


def test_references_dummy_root_keeps_siblings_together() -> None:
    # Two replies to a message that is not in the mailbox: a dummy holds them ("((3)(5))").
    msgs = [_t(3, 1, "Re: lost", refs=("gone",)), _t(5, 2, "Re: lost", refs=("gone",))]
    assert format_threads(thread_references(msgs)) == b"((3)(5))"


def test_references_missing_middle_parent_is_pruned() -> None:
    msgs = [_t(1, 1, "a", "root"), _t(2, 2, "Re: a", "r2", ("root", "missing"))]
    # root -> dummy(missing) -> 2: the dummy is not at the top level, so 2 is promoted.
    assert format_threads(thread_references(msgs)) == b"(1 2)"


def test_references_single_child_dummy_at_root_is_promoted() -> None:
    msgs = [_t(1, 1, "Re: a", refs=("gone1", "gone2"))]
    assert format_threads(thread_references(msgs)) == b"(1)"


def test_references_subject_merge_reply_joins_original() -> None:
    # A reply whose client dropped References/In-Reply-To joins its original by subject.
    msgs = [_t(1, 1, "Hello"), _t(2, 2, "Re: Hello"), _t(3, 3, "Unrelated")]
    assert format_threads(thread_references(msgs)) == b"(1 2)(3)"


def test_references_subject_merge_two_originals_get_a_dummy() -> None:
    msgs = [_t(1, 1, "Hello"), _t(2, 2, "hello"), _t(3, 3, "Re: hello")]
    # 1 and 2 are both originals: a new dummy parents them; the reply 3 joins that dummy.
    assert format_threads(thread_references(msgs)) == b"((1)(2)(3))"


def test_references_subject_merge_prefers_dummy_and_non_reply() -> None:
    msgs = [
        _t(1, 1, "Re: topic"),  # a reply, not linked
        _t(2, 2, "topic"),  # the original, arrives later
        _t(3, 3, "Re: topic", refs=("gone",)),
        _t(4, 4, "Re: topic", refs=("gone",)),  # 3 and 4 share a dummy parent
    ]
    # The dummy (3, 4) takes the subject; 1 and 2 become its children: one thread.
    assert format_threads(thread_references(msgs)) == b"((1)(2)(3)(4))"


def test_references_empty_subjects_are_not_merged() -> None:
    msgs = [_t(1, 1, ""), _t(2, 2, "Re:"), _t(3, 3, "")]
    assert format_threads(thread_references(msgs)) == b"(1)(2)(3)"


def test_references_duplicate_message_ids() -> None:
    msgs = [
        _t(1, 1, "a", "dup"),
        _t(2, 2, "b", "dup"),  # duplicate: gets a unique id of its own
        _t(3, 3, "c", "m3", ("dup",)),  # replies to the first holder of "dup"
    ]
    assert format_threads(thread_references(msgs)) == b"(1 3)(2)"


def test_references_missing_message_ids() -> None:
    msgs = [
        SortMessage(seq=1, uid=1, arrival=1, sent=1, size=1, subject="a"),
        SortMessage(seq=2, uid=2, arrival=2, sent=2, size=1, subject="b"),
    ]
    assert format_threads(thread_references(msgs)) == b"(1)(2)"


def test_references_loop_is_not_created() -> None:
    msgs = [_t(1, 1, "a", "ma", ("mb",)), _t(2, 2, "b", "mb", ("ma",))]
    out = format_threads(thread_references(msgs))
    assert out == b"(2 1)"


def test_references_loop_breaks_the_link_other_references_made() -> None:
    """RFC 5256 §4 step 1.B: a message's existing parent (set by another message's
    References) is broken *before* its own link is made, and stays broken when that link
    is refused because it would make a loop.  A lists "b c"; C's own References say A
    (a loop); B is unrelated to C and A as far as C and A's own headers go: (2 1)(3), as
    Dovecot answers, not (3 2 1)."""
    msgs = [
        _t(1, 1, "one", "a", ("b", "c")),
        _t(2, 2, "two", "c", ("a",)),
        _t(3, 3, "three", "b"),
    ]
    assert format_threads(thread_references(msgs)) == b"(2 1)(3)"
    # ORDEREDSUBJECT does not look at references at all.
    assert format_threads(thread_orderedsubject(msgs)) == b"(1)(2)(3)"


def test_references_mutual_loop_keeps_unrelated_message_apart() -> None:
    """RFC 5256 §4 step 1.A/1.B: 2 references 3 and 3 references 2; 1 stays alone:
    (1)(3 2)."""
    msgs = [
        _t(1, 1, "m1", "1"),
        _t(2, 2, "m2", "2", ("3",)),
        _t(3, 3, "m3", "3", ("2",)),
    ]
    assert format_threads(thread_references(msgs)) == b"(1)(3 2)"


def test_references_self_reference_in_a_chain() -> None:
    """RFC 5256 §4 step 1.A: a message that lists its own id among its References is not
    made its own ancestor (no loop), and its reply still threads below it."""
    msgs = [_t(1, 1, "one", "a", ("x", "a")), _t(2, 2, "two", "b", ("a",))]
    assert format_threads(thread_references(msgs)) == b"(1 2)"


def test_references_duplicate_id_in_a_loop() -> None:
    """RFC 5256 §4 step 1.A: a duplicate Message-ID is treated as if it were unique; its
    References still link it (3 references the first "a", message 1)."""
    msgs = [
        _t(1, 1, "one", "a"),
        _t(2, 2, "two", "b", ("a",)),
        _t(3, 3, "three", "a", ("b",)),  # the duplicate "a" replies to b
    ]
    assert format_threads(thread_references(msgs)) == b"(1 2 3)"


def test_references_self_reference() -> None:
    assert format_threads(thread_references([_t(1, 1, "a", "me", ("me",))])) == b"(1)"


def test_references_truncated_references_are_corrected() -> None:
    # D (seq 1) lists only "a c"; C (seq 4) knows its real parent b: the link a->c made for D
    # is replaced by b->c (RFC 5256 §4 step 1.B).
    msgs = [
        _t(1, 4, "x", "d", ("a", "c")),
        _t(2, 1, "x", "a"),
        _t(3, 2, "Re: x", "b", ("a",)),
        _t(4, 3, "Re: x", "c", ("a", "b")),
    ]
    assert format_threads(thread_references(msgs)) == b"(2 3 4 1)"


def test_references_siblings_sorted_by_date_and_threads_by_first_date() -> None:
    msgs = [
        _t(1, 10, "p", "p"),
        _t(2, 30, "Re: p", "c2", ("p",)),
        _t(3, 20, "Re: p", "c3", ("p",)),
        _t(4, 5, "q", "q"),
        _t(5, 40, "Re: lost", refs=("nowhere",)),
        _t(6, 1, "Re: lost", refs=("nowhere",)),
    ]
    # The dummy thread (5, 6) sorts by its first child, 6 (sent 1).
    assert format_threads(thread_references(msgs)) == b"((6)(5))(4)(1 (3)(2))"


def test_references_every_message_appears_once() -> None:
    msgs = [
        _t(
            i,
            (i * 7) % 11,
            ["a", "Re: a", "b", "Fwd: b", ""][i % 5],
            f"m{i}",
            tuple(f"m{j}" for j in range(max(1, i - 3), i) if j % 3),
        )
        for i in range(1, 40)
    ]

    def walk(nodes: tuple[ThreadNode, ...]) -> list[int]:
        out: list[int] = []
        for n in nodes:
            if n.message is not None:
                out.append(n.message.seq)
            out.extend(walk(n.children))
        return out

    for tree in (thread_references(msgs), thread_orderedsubject(msgs)):
        seen = walk(tree)
        assert sorted(seen) == list(range(1, 40))


def test_references_deep_chain_has_no_recursion_limit() -> None:
    n = 1500  # deeper than the default recursion limit
    msgs = [_t(1, 1, "deep", "m1")]
    msgs += [_t(i, i, "Re: deep", f"m{i}", (f"m{i - 1}",)) for i in range(2, n + 1)]
    out = format_threads(thread_references(msgs))
    assert out == ("(" + " ".join(str(i) for i in range(1, n + 1)) + ")").encode()
    # A deep chain of branches: every message has two replies, one of which continues.
    msgs = [_t(1, 1, "b", "b1")]
    for i in range(2, 2 * n, 2):
        parent = f"b{i - 1}"
        msgs.append(_t(i, i, "Re: b", f"b{i}", (parent,)))  # a leaf
        msgs.append(_t(i + 1, i + 1, "Re: b", f"b{i + 1}", (parent,)))  # continues
    out = format_threads(thread_references(msgs))
    assert out.startswith(b"(1 (2)(3 (4)(5 (6)(7 ") and out.endswith(b")" * n)
