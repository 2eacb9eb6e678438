"""The request path's caches are exact (protocols/jmap/answers.py): a repeated read-only request
is answered from the cache only while nothing it depends on moved — the account's mail, who
asks, the directory — over real sockets against the real server."""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from stalwart_py.accounts import Directory
from stalwart_py.server import passwords_for
from tests.e2e.test_jmap_http import JMAP_CORE, JMAP_MAIL, Jmap, start_server

USING = [JMAP_CORE, JMAP_MAIL]


@pytest.fixture
def jc(tmp_path: Path) -> Iterator[Jmap]:
    srv = start_server(tmp_path / "data")
    try:
        yield Jmap(srv)
    finally:
        srv.stop()


def inbox_body(account_id: str, inbox: str) -> dict[str, Any]:
    return {
        "using": USING,
        "methodCalls": [
            ["Mailbox/get", {"accountId": account_id, "ids": None}, "0"],
            [
                "Email/query",
                {
                    "accountId": account_id,
                    "filter": {"inMailbox": inbox},
                    "sort": [{"property": "receivedAt", "isAscending": False}],
                    "limit": 10,
                },
                "1",
            ],
            [
                "Email/get",
                {
                    "accountId": account_id,
                    "#ids": {"resultOf": "1", "name": "Email/query", "path": "/ids"},
                    "properties": ["subject"],
                },
                "2",
            ],
        ],
    }


def post(jc: Jmap, body: dict[str, Any], auth: tuple[str, str] | None = None) -> Any:
    r = requests.post(f"{jc.base}/jmap/", json=body, auth=auth or jc.auth, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["methodResponses"]


def cache_hits(jc: Jmap) -> int:
    server = jc.srv.server
    assert server is not None and server.jmap is not None
    return server.jmap.core.answers.hits


def inbox_of(jc: Jmap, auth: tuple[str, str] | None = None) -> tuple[str, str]:
    session = requests.get(f"{jc.base}/jmap/session", auth=auth or jc.auth, timeout=10).json()
    account_id = session["primaryAccounts"][JMAP_MAIL]
    [[_, mailboxes, _]] = post(
        jc,
        {"using": USING, "methodCalls": [["Mailbox/get", {"accountId": account_id}, "0"]]},
        auth,
    )
    inbox = next(m["id"] for m in mailboxes["list"] if m["role"] == "inbox")
    return account_id, inbox


def subjects(responses: Any) -> list[str]:
    return [e["subject"] for e in responses[2][1]["list"]]


def test_a_repeated_request_is_answered_again_after_new_mail(jc: Jmap) -> None:
    account_id, inbox = inbox_of(jc)
    body = inbox_body(account_id, inbox)
    jc.deliver("first")
    assert subjects(post(jc, body)) == ["first"]
    hits = cache_hits(jc)
    assert subjects(post(jc, body)) == ["first"]
    assert cache_hits(jc) == hits + 1  # the same request at the same state: from the cache
    jc.deliver("second")
    answer = post(jc, body)
    # the account moved: answered afresh (both arrived within one second: any order)
    assert sorted(subjects(answer)) == ["first", "second"]
    inbox_row = next(m for m in answer[0][1]["list"] if m["id"] == inbox)
    assert inbox_row["totalEmails"] == 2


def test_keywords_changed_over_jmap_are_seen_by_the_cached_request(jc: Jmap) -> None:
    account_id, inbox = inbox_of(jc)
    jc.deliver("unread")
    body = inbox_body(account_id, inbox)
    first = post(jc, body)
    post(jc, body)
    email_id = first[1][1]["ids"][0]
    post(
        jc,
        {
            "using": USING,
            "methodCalls": [
                [
                    "Email/set",
                    {"accountId": account_id, "update": {email_id: {"keywords/$seen": True}}},
                    "0",
                ]
            ],
        },
    )
    inbox_row = next(m for m in post(jc, body)[0][1]["list"] if m["id"] == inbox)
    assert inbox_row["unreadEmails"] == 0


def test_another_user_never_gets_a_cached_answer(jc: Jmap) -> None:
    server = jc.srv.server
    assert server is not None and server.store is not None
    admin = next(c for c in server.credentials if c.role == "admin")
    admin_auth = (admin.email, admin.password)
    account_id, inbox = inbox_of(jc)
    # The same history in both accounts, so that both stand at the same modseq: only who
    # asks tells the two requests apart.
    for user in (jc.user, admin.email):
        with smtplib.LMTP("127.0.0.1", jc.ports["lmtp"]) as lmtp:
            lmtp.sendmail("a@example.net", [user], b"Subject: private\r\n\r\nhi\r\n")
    states = [server.store.account(int(a[1:])) for a in (account_id, inbox_of(jc, admin_auth)[0])]
    assert states[0] is not None and states[1] is not None
    assert states[0].modseq == states[1].modseq
    body = inbox_body(account_id, inbox)
    post(jc, body)
    post(jc, body)  # cached for the demo user
    other = post(jc, body, auth=admin_auth)
    # The byte-identical request from another principal names an account it may not see.
    assert [r[0] for r in other] == ["error", "error", "error"]
    assert other[0][1]["type"] == "accountNotFound"


def test_a_changed_password_ends_the_cached_login(jc: Jmap) -> None:
    server = jc.srv.server
    assert server is not None and server.store is not None
    header = {
        "Authorization": "Basic " + base64.b64encode(f"{jc.user}:{jc.password}".encode()).decode()
    }
    echo = {"using": [JMAP_CORE], "methodCalls": [["Core/echo", {"n": 1}, "0"]]}
    for _ in range(2):  # the second one is answered from both caches
        r = requests.post(f"{jc.base}/jmap/", json=echo, headers=header, timeout=10)
        assert r.status_code == 200
    Directory(server.store, passwords_for(jc.srv.cfg)).set_password(jc.user, "a new one")
    r = requests.post(f"{jc.base}/jmap/", json=echo, headers=header, timeout=10)
    assert r.status_code == 401
    r = requests.post(f"{jc.base}/jmap/", json=echo, auth=(jc.user, "a new one"), timeout=10)
    assert r.status_code == 200


def test_text_search_and_changes_are_never_cached(jc: Jmap) -> None:
    account_id, _ = inbox_of(jc)
    jc.deliver("needle in a haystack")
    search = {
        "using": USING,
        "methodCalls": [
            ["Email/query", {"accountId": account_id, "filter": {"text": "needle"}}, "0"],
            ["Email/changes", {"accountId": account_id, "sinceState": "0"}, "1"],
        ],
    }
    post(jc, search)
    hits = cache_hits(jc)
    post(jc, search)
    assert cache_hits(jc) == hits


def test_answer_cache_entries_0_computes_every_request(tmp_path: Path) -> None:
    """``[http] answer_cache_entries = 0``: a repeated identical request is computed again
    (the same answer, no hit counted, nothing kept), where the default cache answers the
    second one (the tests above)."""
    srv = start_server(tmp_path / "data", {"STALWART_HTTP_ANSWER_CACHE_ENTRIES": "0"})
    try:
        jc = Jmap(srv)
        account_id, inbox = inbox_of(jc)
        jc.deliver("only")
        body = inbox_body(account_id, inbox)
        first = post(jc, body)
        assert subjects(first) == ["only"]
        for _ in range(3):
            assert post(jc, body) == first
        assert cache_hits(jc) == 0
        server = srv.server
        assert server is not None and server.jmap is not None
        answers = server.jmap.core.answers
        assert not answers.enabled and answers._entries == {}
    finally:
        srv.stop()


def test_answer_cache_bounds_come_from_the_config(tmp_path: Path) -> None:
    srv = start_server(
        tmp_path / "data",
        {"STALWART_HTTP_ANSWER_CACHE_ENTRIES": "7", "STALWART_HTTP_ANSWER_CACHE_SIZE": "2M"},
    )
    try:
        jc = Jmap(srv)
        account_id, inbox = inbox_of(jc)
        body = inbox_body(account_id, inbox)
        post(jc, body)
        hits = cache_hits(jc)
        post(jc, body)
        assert cache_hits(jc) == hits + 1
        server = srv.server
        assert server is not None and server.jmap is not None
        answers = server.jmap.core.answers
        assert (answers.max_entries, answers.max_bytes) == (7, 2 * 1024 * 1024)
    finally:
        srv.stop()
