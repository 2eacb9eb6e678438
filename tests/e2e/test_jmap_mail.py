"""JMAP Mail through the jmapc client library, and JMAP and IMAP seeing each other's changes
(IMAP STORE → JMAP state + EventSource; JMAP Email/set → an IDLEing IMAP client).

Each test skips, naming the method, when the Mail method it needs is not registered yet."""

from __future__ import annotations

import imaplib
import re
import time
import warnings
from collections.abc import Iterator
from typing import Any

import jmapc
import pytest
from jmapc.methods import EmailGet, EmailQuery, EmailSet, MailboxGet

from tests.e2e.test_jmap_http import JMAP_CORE, JMAP_MAIL, Jmap, SseReader, jmap

__all__ = ["jmap"]


def need(j: Jmap, *methods: str) -> None:
    missing = [m for m in methods if not j.has_method(m)]
    if missing:
        pytest.skip(f"JMAP methods not registered yet: {', '.join(missing)}")


def jmapc_client(https_port: int, user: str, password: str) -> jmapc.Client:
    """A jmapc client for the test server's HTTPS port (its certificate is self-signed)."""
    c = jmapc.Client.create_with_password(f"127.0.0.1:{https_port}", user, password)
    c.requests_session.verify = False
    c.requests_session.trust_env = False
    return c


@pytest.fixture
def client(jmap: Jmap) -> Iterator[jmapc.Client]:
    c = jmapc_client(jmap.ports["https"], jmap.user, jmap.password)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield c


def inbox_id(client: jmapc.Client) -> str:
    mailboxes: Any = client.request(MailboxGet(ids=None), raise_errors=True, single_response=True)
    return next(m.id for m in mailboxes.data if m.role == "inbox")


def find_by_subject(client: jmapc.Client, mailbox: str, subject: str) -> str:
    """Email/query with a text filter: exercises the full-text index wiring (search_text).

    No ``sort`` here: jmapc 0.4 serialises extra members (anchorOffset, position,
    calculateTotal) into each Comparator, which a strict server refuses."""
    result: Any = client.request(
        EmailQuery(filter=jmapc.EmailQueryFilterCondition(in_mailbox=mailbox, text=subject)),
        raise_errors=True,
        single_response=True,
    )
    ids = list(result.ids)
    assert len(ids) == 1, ids
    return str(ids[0])


def imap_login(j: Jmap) -> imaplib.IMAP4:
    imap = imaplib.IMAP4("127.0.0.1", j.ports["imap"])
    imap.login(j.user, j.password)
    imap.select("INBOX")
    return imap


def test_mailboxes_query_get_with_jmapc(jmap: Jmap, client: jmapc.Client) -> None:
    need(jmap, "Mailbox/get", "Email/query", "Email/get")
    jmap.deliver("jmapc one")
    jmap.deliver("jmapc two")
    inbox = inbox_id(client)
    result: Any = client.request(
        EmailQuery(filter=jmapc.EmailQueryFilterCondition(in_mailbox=inbox)),
        raise_errors=True,
        single_response=True,
    )
    ids = list(result.ids)
    assert len(ids) >= 2
    got: Any = client.request(
        EmailGet(ids=ids, properties=["subject", "mailboxIds", "keywords"]),
        raise_errors=True,
        single_response=True,
    )
    subjects = {e.subject for e in got.data}
    assert {"jmapc one", "jmapc two"} <= subjects
    assert all(e.mailbox_ids == {inbox: True} for e in got.data)


def test_email_set_keywords_with_jmapc(jmap: Jmap, client: jmapc.Client) -> None:
    need(jmap, "Mailbox/get", "Email/query", "Email/get", "Email/set")
    jmap.deliver("keyword zebrafish")
    email = find_by_subject(client, inbox_id(client), "zebrafish")
    result: Any = client.request(
        EmailSet(update={email: {"keywords/$flagged": True}}),
        raise_errors=True,
        single_response=True,
    )
    assert email in (result.updated or {})
    got: Any = client.request(
        EmailGet(ids=[email], properties=["keywords"]), raise_errors=True, single_response=True
    )
    assert got.data[0].keywords == {"$flagged": True}


def test_imap_store_changes_jmap_state_and_fires_eventsource(jmap: Jmap) -> None:
    jmap.deliver("imap store")
    acct = int(jmap.account_id[1:])
    before = str(jmap.srv.store.account(acct).type_state("Email"))
    # closeafter=no: the store acknowledges a write (LMTP 250) before its change event reaches
    # the push listeners, so on a loaded machine this stream may first get the delivery's own
    # StateChange (Email state == before); the STORE's is the next one.
    sse = SseReader(jmap, "types=Email&closeafter=no&ping=0")
    imap = imap_login(jmap)
    try:
        count = int(imap.select("INBOX")[1][0] or b"0")
        started = time.perf_counter()
        typ, _ = imap.store(str(count), "+FLAGS", "(\\Flagged)")
        assert typ == "OK"
        event = sse.next()
        while event["json"]["changed"][jmap.account_id]["Email"] == before:
            event = sse.next()
        latency = time.perf_counter() - started
        after = event["json"]["changed"][jmap.account_id]["Email"]
        assert after != before
        assert after == str(jmap.srv.store.account(acct).type_state("Email"))
        assert latency < 2.0
        if jmap.has_method("Email/changes"):
            [(name, changes, _)] = jmap.call(
                ["Email/changes", {"accountId": jmap.account_id, "sinceState": before}, "c"],
                using=(JMAP_CORE, JMAP_MAIL),
            )
            assert name == "Email/changes", changes
            assert changes["newState"] == after and len(changes["updated"]) == 1
    finally:
        sse.close()
        imap.logout()


def test_jmap_keyword_change_seen_by_idle(jmap: Jmap) -> None:
    need(jmap, "Email/set")
    jmap.deliver("idle watch")
    acct = int(jmap.account_id[1:])
    email = max(jmap.srv.store.emails(acct), key=lambda e: e.id)
    imap = imap_login(jmap)
    try:
        imap.send(b"i1 IDLE\r\n")
        assert imap.readline().startswith(b"+")
        [(name, result, _)] = jmap.call(
            [
                "Email/set",
                {
                    "accountId": jmap.account_id,
                    "update": {f"e{email.id}": {"keywords/$seen": True}},
                },
                "s",
            ],
            using=(JMAP_CORE, JMAP_MAIL),
        )
        assert name == "Email/set" and f"e{email.id}" in result["updated"], result
        imap.sock.settimeout(5)
        line = imap.readline()
        while b"FETCH" not in line:
            line = imap.readline()
        assert re.search(rb"FLAGS \([^)]*\\Seen", line), line
        imap.send(b"DONE\r\n")
        while not (line := imap.readline()).startswith(b"i1 "):
            pass
        assert line.startswith(b"i1 OK")
    finally:
        imap.logout()


def test_sorted_query_with_jmapc(jmap: Jmap, client: jmapc.Client) -> None:
    """RFC 8621 §4.4.2 sort through jmapc, whose Comparators carry extra members."""
    need(jmap, "Email/query", "Email/get")
    for subject in ("sort b", "sort c", "sort a"):
        jmap.deliver(subject)
    inbox = inbox_id(client)
    result: Any = client.request(
        EmailQuery(
            filter=jmapc.EmailQueryFilterCondition(in_mailbox=inbox),
            sort=[jmapc.Comparator(property="subject", is_ascending=True)],
        ),
        raise_errors=True,
        single_response=True,
    )
    got: Any = client.request(
        EmailGet(ids=list(result.ids), properties=["subject"]),
        raise_errors=True,
        single_response=True,
    )
    by_id = {e.id: e.subject for e in got.data}
    subjects = [by_id[i] for i in result.ids if by_id[i].startswith("sort ")]
    assert subjects == ["sort a", "sort b", "sort c"]


def test_mailbox_get_follows_imap_changes(jmap: Jmap) -> None:
    """Mailbox/get answers are cached per state: every IMAP change that alters what it returns
    (a rename, a subscription, a flag that changes the unread count, a new message) must show
    in the very next Mailbox/get."""
    need(jmap, "Mailbox/get")
    jmap.deliver("counted")

    def boxes() -> dict[str, dict[str, Any]]:
        [(name, result, _)] = jmap.call(
            ["Mailbox/get", {"accountId": jmap.account_id, "ids": None}, "m"],
            using=(JMAP_CORE, JMAP_MAIL),
        )
        assert name == "Mailbox/get", result
        return {m["name"]: m for m in result["list"]}

    first = boxes()
    assert boxes() == first  # a repeated read (served from the cache) is the same
    inbox = first["Inbox"]
    imap = imap_login(jmap)
    try:
        assert imap.create("Projects")[0] == "OK"
        assert "Projects" in boxes()
        assert imap.rename("Projects", "Plans")[0] == "OK"
        after_rename = boxes()
        assert "Plans" in after_rename and "Projects" not in after_rename
        subscribed = after_rename["Plans"]["isSubscribed"]
        verb = imap.unsubscribe if subscribed else imap.subscribe
        assert verb("Plans")[0] == "OK"
        assert boxes()["Plans"]["isSubscribed"] is not subscribed
        count = int(imap.select("INBOX")[1][0] or b"0")
        assert imap.store(str(count), "+FLAGS", "(\\Seen)")[0] == "OK"
        assert boxes()["Inbox"]["unreadEmails"] == inbox["unreadEmails"] - 1
        jmap.deliver("one more")
        assert boxes()["Inbox"]["totalEmails"] == inbox["totalEmails"] + 1
    finally:
        imap.logout()
