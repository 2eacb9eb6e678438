"""JMAP's view of the IMAP mailbox rules: subscriptions that outlive their mailbox (RFC 3501
§6.3.6) are IMAP state only, MOVE to the selected mailbox (RFC 6851) keeps the JMAP email, and
JMAP threads (RFC 8621 §3) are not fooled by References loops (RFC 5256 §4's concern)."""

from __future__ import annotations

import imaplib
import smtplib
import time
from typing import Any

from tests.e2e.test_jmap_http import JMAP_CORE, JMAP_MAIL, Jmap, SseReader, jmap
from tests.protocol.imap_support import ImapWire

__all__ = ["jmap"]

MAIL = (JMAP_CORE, JMAP_MAIL)


def _imap(j: Jmap) -> imaplib.IMAP4:
    imap = imaplib.IMAP4("127.0.0.1", j.ports["imap"])
    imap.login(j.user, j.password)
    return imap


def _mailboxes(j: Jmap) -> dict[str, dict[str, Any]]:
    [(name, result, _)] = j.call(
        ["Mailbox/get", {"accountId": j.account_id, "ids": None}, "m"], using=MAIL
    )
    assert name == "Mailbox/get", result
    return {m["name"]: m for m in result["list"]}


def _state(j: Jmap, type_name: str) -> int:
    acct = j.srv.store.account(int(j.account_id[1:]))
    assert acct is not None
    return acct.type_state(type_name)


def test_subscription_kept_after_imap_delete_is_imap_state_only(jmap: Jmap) -> None:
    """JMAP's isSubscribed is the mailbox's own flag, the same one IMAP SUBSCRIBE sets; a
    name kept subscribed after IMAP DELETE (RFC 3501 §6.3.6) has no JMAP object, changes no
    JMAP state and is never pushed; an IMAP CREATE of the name gives a subscribed mailbox."""
    sse = SseReader(jmap, "types=*&closeafter=no&ping=0")
    w = ImapWire.connect(jmap.ports["imap"])
    w.login(jmap.user, jmap.password)

    def ok(line: str) -> None:
        reply = w.cmd(line)
        assert reply.status == "OK", str(reply)

    try:
        ok("a1 CREATE Kept")
        ok("a2 SUBSCRIBE Kept")
        assert _mailboxes(jmap)["Kept"]["isSubscribed"] is True
        ok("a3 DELETE Kept")
        assert "Kept" not in _mailboxes(jmap)
        w.cmd('a4 LIST (SUBSCRIBED) "" Kept').expect(
            ['* LIST (\\Subscribed \\NonExistent) "/" "Kept"'], "a4 OK LIST completed"
        )
        before = {t: _state(jmap, t) for t in ("Mailbox", "Email", "Thread")}
        ok("a5 UNSUBSCRIBE Kept")  # changes only the IMAP-only list
        assert {t: _state(jmap, t) for t in before} == before
        assert w.cmd("a6 SUBSCRIBE Kept").status == "NO"  # no mailbox: nothing to subscribe
        ok("a7 CREATE Kept")
        assert _mailboxes(jmap)["Kept"]["isSubscribed"] is False  # unsubscribed before
        ok("a8 SUBSCRIBE Kept")
        ok("a9 DELETE Kept")
        ok("b1 CREATE Kept")
        assert _mailboxes(jmap)["Kept"]["isSubscribed"] is True  # took the subscription over
        # Every StateChange pushed meanwhile names JMAP types only.
        jmap.deliver("after subscriptions")
        while True:
            states = sse.next()["json"]["changed"][jmap.account_id]
            assert all(not t.startswith("imap") for t in states), states
            if states.get("Email") == str(_state(jmap, "Email")):
                break
    finally:
        w.close()
        sse.close()


def test_move_to_the_selected_mailbox_keeps_the_jmap_email(jmap: Jmap) -> None:
    """IMAP MOVE to the selected mailbox (RFC 6851) gives the message a new UID but keeps
    the JMAP Email: same id, same mailboxIds, reported updated by Email/changes (RFC 8620
    §5.2), neither destroyed nor created."""
    jmap.deliver("renumbered")
    imap = _imap(jmap)
    try:
        typ, data = imap.select("INBOX")
        count = int(data[0] or b"0")
        typ, data = imap.fetch(str(count), "(UID EMAILID)")
        line = data[0].decode() if isinstance(data[0], bytes) else ""
        uid = int(line.split("UID ")[1].split(" ")[0])
        email_id = line.split("EMAILID (")[1].split(")")[0]
        [(_, got, _)] = jmap.call(
            ["Email/get", {"accountId": jmap.account_id, "ids": [email_id]}, "g"], using=MAIL
        )
        old_state, mailbox_ids = got["state"], got["list"][0]["mailboxIds"]
        typ, data = imap.uid("MOVE", str(uid), "INBOX")
        assert typ == "OK", data
        typ, data = imap.fetch(str(count), "(UID EMAILID)")
        line = data[0].decode() if isinstance(data[0], bytes) else ""
        assert f"EMAILID ({email_id})" in line and f"UID {uid} " not in line, line
    finally:
        imap.logout()
    [(_, got, _)] = jmap.call(
        ["Email/get", {"accountId": jmap.account_id, "ids": [email_id]}, "g"], using=MAIL
    )
    assert got["list"][0]["mailboxIds"] == mailbox_ids
    [(_, changes, _)] = jmap.call(
        ["Email/changes", {"accountId": jmap.account_id, "sinceState": old_state}, "c"],
        using=MAIL,
    )
    assert changes["updated"] == [email_id], changes
    assert changes["created"] == [] and changes["destroyed"] == []


def test_jmap_threads_with_a_references_loop(jmap: Jmap) -> None:
    """JMAP threading (RFC 8621 §3) groups emails that share a Message-ID (own, In-Reply-To
    or References) and the base subject, as sets: a References loop (A lists B, B lists A)
    cannot make a cycle there, and an email that shares no id stays in a thread of its own
    even under the same subject."""
    tag = f"loop{time.monotonic_ns()}"
    for mid, subject, refs in (("a", "loop", "b"), ("b", "Re: loop", "a"), ("c", "loop", "")):
        head = f"From: s@example.net\r\nTo: {jmap.user}\r\nSubject: {subject}\r\n"
        head += f"Message-ID: <{mid}{tag}@x>\r\n"
        if refs:
            head += f"References: <{refs}{tag}@x>\r\n"
        with smtplib.LMTP("127.0.0.1", jmap.ports["lmtp"]) as lmtp:
            lmtp.sendmail("s@example.net", [jmap.user], f"{head}\r\n{tag}\r\n".encode())
    [(_, query, _), (_, emails, _)] = jmap.call(
        ["Email/query", {"accountId": jmap.account_id, "filter": {"text": tag}}, "q"],
        [
            "Email/get",
            {
                "accountId": jmap.account_id,
                "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
                "properties": ["threadId", "messageId"],
            },
            "g",
        ],
        using=MAIL,
    )
    threads = {e["messageId"][0].split("@")[0][0]: e["threadId"] for e in emails["list"]}
    assert threads.keys() == {"a", "b", "c"}, (query, emails)
    assert threads["a"] == threads["b"] != threads["c"]
