"""SENTON / SENTBEFORE / SENTSINCE compare the Date: header's day in its own zone (RFC 3501
§6.4.4 / RFC 9051 §6.4.4: "disregarding time and timezone"), in IMAP4rev1 and IMAP4rev2
sessions; without a parsable Date: the internal date stands in, as in Dovecot."""

from __future__ import annotations

import pytest

from protocols.imap.serializer import format_sequence_set

from .imap_support import Env, ImapWire


def dated(date: str | None, subject: str) -> bytes:
    head = f"From: a@remote.test\r\nSubject: {subject}\r\n"
    if date is not None:
        head += f"Date: {date}\r\n"
    return (head + "\r\nbody\r\n").encode()


# (message, internal date), UIDs 1..4 in this order.
MESSAGES = [
    (dated("Sun, 25 Mar 2007 00:00:00 +0200", "early"), "27-Mar-2007 12:00:00 +0000"),  # 24th UTC
    (dated("Sat, 24 Mar 2007 23:30:00 -0500", "late"), "27-Mar-2007 12:00:00 +0000"),  # 25th UTC
    (dated(None, "no date"), "25-Mar-2007 12:00:00 +0000"),
    (dated("the day after tomorrow", "junk date"), "26-Mar-2007 01:00:00 +0000"),
]


def mailbox(env: Env, rev2: bool) -> ImapWire:
    w = env.session(env.user())
    if rev2:
        assert w.cmd("e1 ENABLE IMAP4rev2").status == "OK"
    for i, (data, internal) in enumerate(MESSAGES):
        r = w.cmd_literals(f'p{i} APPEND INBOX () "{internal}" ', data, "")
        assert r.status == "OK", str(r)
    w.cmd("s1 SELECT INBOX")
    return w


@pytest.mark.parametrize("rev2", [False, True], ids=["imap4rev1", "imap4rev2"])
def test_sent_date_keys_use_the_headers_own_zone(env: Env, rev2: bool) -> None:
    """RFC 3501 §6.4.4 SENTON: "whose [RFC-2822] Date: header (disregarding time and timezone)
    is within the specified date" — ``Sun, 25 Mar 2007 00:00:00 +0200`` is sent on the 25th."""
    w = mailbox(env, rev2)
    cases = [
        ("SENTON 25-Mar-2007", [1, 3]),
        ("SENTON 24-Mar-2007", [2]),
        ("SENTBEFORE 25-Mar-2007", [2]),
        ("SENTSINCE 25-Mar-2007", [1, 3, 4]),
        ("SENTSINCE 26-Mar-2007", [4]),
        ("SENTBEFORE 24-Mar-2007", []),
        ("NOT SENTON 25-Mar-2007", [2, 4]),
        # The internal-date keys are unchanged: whole UTC days of INTERNALDATE.
        ("ON 27-Mar-2007", [1, 2]),
    ]
    for n, (key, want) in enumerate(cases):
        tag = f"a{n}"
        r = w.cmd(f"{tag} UID SEARCH {key}")
        assert r.status == "OK", str(r)
        if rev2:
            line = f'* ESEARCH (TAG "{tag}") UID' + (
                " ALL " + format_sequence_set(want) if want else ""
            )
        else:
            line = "* SEARCH" + "".join(f" {u}" for u in want)
        assert r.lines == [line], (key, str(r))
