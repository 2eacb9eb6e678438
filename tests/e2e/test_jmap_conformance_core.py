"""JMAP Core conformance (RFC 8620, RFC 9404 Blob, RFC 8887 capability) over raw HTTP.

Every test sends raw JSON with ``http.client`` to the real server and names the RFC section it
checks.  The :class:`Client` and the ``jc`` fixture are shared with
``test_jmap_conformance_mail.py``.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import smtplib
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.support import ServerThread, make_config

CORE = "urn:ietf:params:jmap:core"
MAIL = "urn:ietf:params:jmap:mail"
SUBMISSION = "urn:ietf:params:jmap:submission"
VACATION = "urn:ietf:params:jmap:vacationresponse"
QUOTA = "urn:ietf:params:jmap:quota"
BLOB = "urn:ietf:params:jmap:blob"
WEBSOCKET = "urn:ietf:params:jmap:websocket"
ALL = (CORE, MAIL, SUBMISSION, VACATION, QUOTA, BLOB)


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """A blocking raw-HTTP JMAP client for one server and its demo user."""

    def __init__(self, srv: ServerThread) -> None:
        self.srv = srv
        server = srv.server
        assert server is not None
        self.ports = server.ports
        cred = next(c for c in server.credentials if c.role == "demo user")
        self.user, self.password = cred.email, cred.password
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        self.auth = "Basic " + token
        self.session: dict[str, Any] = self.request("GET", "/.well-known/jmap").json()
        self.account_id: str = next(iter(self.session["accounts"]))

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["http"], timeout=15)
        try:
            hdrs = {"Authorization": self.auth, **(headers or {})}
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def url_path(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def api_raw(self, body: Any) -> Reply:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request("POST", "/jmap/", data, headers={"Content-Type": "application/json"})

    def api(self, *calls: list[Any], using: tuple[str, ...] = ALL, **extra: Any) -> dict[str, Any]:
        reply = self.api_raw({"using": list(using), "methodCalls": list(calls), **extra})
        assert reply.status == 200, reply.body
        out: dict[str, Any] = reply.json()
        return out

    def call(self, name: str, args: dict[str, Any], using: tuple[str, ...] = ALL) -> Any:
        """One method call; returns ``[name, args]`` of its single response."""
        args = {"accountId": self.account_id, **args}
        responses = self.api([name, args, "c0"], using=using)["methodResponses"]
        assert len(responses) == 1, responses
        return responses[0][0], responses[0][1]

    def ok(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        got, out = self.call(name, args)
        assert got == name, out
        return dict(out)

    def error(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        got, out = self.call(name, args)
        assert got == "error", out
        return dict(out)

    def upload(self, data: bytes, content_type: str = "application/octet-stream") -> Any:
        reply = self.request(
            "POST",
            f"/jmap/upload/{self.account_id}/",
            data,
            headers={"Content-Type": content_type},
        )
        assert reply.status == 201, reply.body
        return reply.json()

    def deliver(self, subject: str, body: str = "hello\r\n", headers: str = "") -> None:
        msg = (
            f"From: sender@example.net\r\nTo: {self.user}\r\nSubject: {subject}\r\n"
            f"Message-ID: <c{time.monotonic_ns()}@example.net>\r\n{headers}\r\n{body}"
        )
        with smtplib.LMTP("127.0.0.1", self.ports["lmtp"]) as lmtp:
            lmtp.sendmail("sender@example.net", [self.user], msg.encode())

    def mailbox(self, role: str) -> str:
        out = self.ok("Mailbox/get", {"ids": None, "properties": ["role"]})
        return str(next(m["id"] for m in out["list"] if m["role"] == role))

    def state(self, type_name: str) -> str:
        return str(self.ok(f"{type_name}/get", {"ids": []})["state"])


def start(tmp: Any, overrides: dict[str, str] | None = None) -> ServerThread:
    env = {
        "STALWART_HTTP_PUBLIC_URL": "http://127.0.0.1:0",
        "STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "true",
        **(overrides or {}),
    }
    return ServerThread(make_config(tmp / "data", env)).start()


@pytest.fixture(scope="module")
def jc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    srv = start(tmp_path_factory.mktemp("jmapconf"))
    try:
        yield Client(srv)
    finally:
        srv.stop()


def problem(reply: Reply) -> dict[str, Any]:
    assert reply.status == 400, (reply.status, reply.body)
    assert reply.headers["content-type"].startswith("application/problem+json")
    out: dict[str, Any] = reply.json()
    return out


# -- RFC 8620 §2: the Session object -----------------------------------------------------------
def test_session_required_properties_and_urls_work(jc: Client) -> None:
    """RFC 8620 §2: every required Session property; §2.1 account fields; the URLs answer."""
    s = jc.session
    for prop in (
        "capabilities",
        "accounts",
        "primaryAccounts",
        "username",
        "apiUrl",
        "downloadUrl",
        "uploadUrl",
        "eventSourceUrl",
        "state",
    ):
        assert prop in s, prop
    core = s["capabilities"][CORE]
    for limit in (
        "maxSizeUpload",
        "maxConcurrentUpload",
        "maxSizeRequest",
        "maxConcurrentRequests",
        "maxCallsInRequest",
        "maxObjectsInGet",
        "maxObjectsInSet",
    ):
        assert isinstance(core[limit], int) and core[limit] > 0, limit
    assert isinstance(core["collationAlgorithms"], list)
    for uri in (MAIL, SUBMISSION, VACATION, QUOTA, BLOB, WEBSOCKET):
        assert uri in s["capabilities"], uri
    account = s["accounts"][jc.account_id]
    assert set(account) >= {"name", "isPersonal", "isReadOnly", "accountCapabilities"}
    for uri in (MAIL, SUBMISSION, VACATION, QUOTA, BLOB):
        assert uri in account["accountCapabilities"], uri
        assert s["primaryAccounts"][uri] == jc.account_id
    # RFC 8621 §1.3.1 / §1.3.2 account capability fields.
    mail = account["accountCapabilities"][MAIL]
    assert {"maxMailboxesPerEmail", "maxMailboxDepth", "maxSizeMailboxName"} <= set(mail)
    assert {"maxSizeAttachmentsPerEmail", "emailQuerySortOptions"} <= set(mail)
    assert {"mayCreateTopLevelMailbox"} <= set(mail)
    sub = account["accountCapabilities"][SUBMISSION]
    assert {"maxDelayedSend", "submissionExtensions"} <= set(sub)
    # RFC 9404 §4: the blob account capability.
    blob = account["accountCapabilities"][BLOB]
    assert {
        "maxSizeBlobSet",
        "maxDataSources",
        "supportedTypeNames",
        "supportedDigestAlgorithms",
    } <= set(blob)
    assert "sha" in blob["supportedDigestAlgorithms"]

    # apiUrl: a POST works.
    api = jc.request(
        "POST",
        jc.url_path(s["apiUrl"]),
        json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {"x": 1}, "a"]]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert api.status == 200 and api.json()["methodResponses"] == [["Core/echo", {"x": 1}, "a"]]
    # uploadUrl and downloadUrl (RFC 6570 level 1 templates, §6.1, §6.2).
    path = jc.url_path(s["uploadUrl"].replace("{accountId}", jc.account_id))
    up = jc.request("POST", path, b"session-url", headers={"Content-Type": "text/plain"})
    assert up.status == 201, up.body
    blob_id = up.json()["blobId"]
    down_url = (
        s["downloadUrl"]
        .replace("{accountId}", jc.account_id)
        .replace("{blobId}", blob_id)
        .replace("{name}", "a%20b.txt")
        .replace("{type}", quote("text/plain", safe=""))
    )
    down = jc.request("GET", jc.url_path(down_url))
    assert down.status == 200 and down.body == b"session-url"
    assert down.headers["content-type"].startswith("text/plain")
    # eventSourceUrl (§7.3): closeafter=no with ping=0 streams; we only check the headers.
    es_url = (
        s["eventSourceUrl"]
        .replace("{types}", "*")
        .replace("{closeafter}", "state")
        .replace("{ping}", "0")
    )
    conn = http.client.HTTPConnection("127.0.0.1", jc.ports["http"], timeout=10)
    try:
        conn.request("GET", jc.url_path(es_url), headers={"Authorization": jc.auth})
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").startswith("text/event-stream")
    finally:
        conn.close()
    # §2: the state changes only with the content.
    assert jc.request("GET", "/.well-known/jmap").json()["state"] == s["state"]


# -- RFC 8620 §3.6.1: request-level errors ----------------------------------------------------
def test_request_level_problems(jc: Client) -> None:
    """RFC 8620 §3.6.1: notJSON, notRequest, unknownCapability, limit (with ``limit``)."""
    pre = "urn:ietf:params:jmap:error:"
    assert problem(jc.api_raw(b"\xff\xfe"))["type"] == pre + "notJSON"
    assert problem(jc.api_raw(b'{"a": 1'))["type"] == pre + "notJSON"
    # I-JSON (RFC 7493 §2.3): duplicate member names are not I-JSON.
    dup = b'{"using": [], "using": [], "methodCalls": []}'
    assert problem(jc.api_raw(dup))["type"] == pre + "notJSON"
    assert problem(jc.api_raw(b"[]"))["type"] == pre + "notRequest"
    assert problem(jc.api_raw({"using": [CORE]}))["type"] == pre + "notRequest"
    bad_call = {"using": [CORE], "methodCalls": [["Core/echo", {}]]}
    assert problem(jc.api_raw(bad_call))["type"] == pre + "notRequest"
    bad_args = {"using": [CORE], "methodCalls": [["Core/echo", [], "c"]]}
    assert problem(jc.api_raw(bad_args))["type"] == pre + "notRequest"
    unknown = problem(jc.api_raw({"using": [CORE, "urn:x:nope"], "methodCalls": []}))
    assert unknown["type"] == pre + "unknownCapability"
    assert unknown["status"] == 400
    limit = jc.session["capabilities"][CORE]["maxCallsInRequest"]
    calls = [["Core/echo", {}, str(i)] for i in range(limit + 1)]
    over = problem(jc.api_raw({"using": [CORE], "methodCalls": calls}))
    assert over["type"] == pre + "limit" and over["limit"] == "maxCallsInRequest"
    # Exactly at the limit is fine.
    assert len(jc.api(*calls[:limit], using=(CORE,))["methodResponses"]) == limit


# -- RFC 8620 §3.6.2: method-level errors -----------------------------------------------------
def test_method_level_errors(jc: Client) -> None:
    """RFC 8620 §3.6.2: unknownMethod (also when the capability is not in ``using``),
    invalidArguments, accountNotFound; processing continues after an error."""
    out = jc.api(
        ["Nope/get", {}, "a"],
        ["Mailbox/get", {"accountId": "zzz"}, "b"],
        ["Mailbox/get", {"accountId": jc.account_id, "bogus": 1}, "c"],
        ["Mailbox/get", {}, "d"],
        ["Core/echo", {"ok": True}, "e"],
    )["methodResponses"]
    assert [r[0] for r in out] == ["error"] * 4 + ["Core/echo"]
    assert out[0][1]["type"] == "unknownMethod"
    assert out[1][1]["type"] == "accountNotFound"
    assert out[2][1]["type"] == "invalidArguments"
    assert out[3][1]["type"] == "invalidArguments"
    assert [r[2] for r in out] == ["a", "b", "c", "d", "e"]
    # §3.3: a method whose capability is not in "using" is unknownMethod.
    name, err = jc.call("Mailbox/get", {}, using=(CORE,))
    assert name == "error" and err["type"] == "unknownMethod"
    # accountNotFound for every account-taking method (a syntactically valid other id).
    for method in ("Email/get", "Thread/get", "Identity/get", "Quota/get", "Blob/get"):
        name, err = jc.call(method, {"accountId": "a999999", "ids": []})
        assert name == "error" and err["type"] == "accountNotFound", (method, err)


# -- RFC 8620 §3.7: result references ---------------------------------------------------------
def test_result_references(jc: Client) -> None:
    """RFC 8620 §3.7: paths with ``*``, invalidResultReference cases, and argument given both
    ways (invalidArguments)."""
    jc.deliver("refs one")
    jc.deliver("refs two")
    acct = jc.account_id
    out = jc.api(
        ["Email/query", {"accountId": acct, "sort": [{"property": "receivedAt"}]}, "q"],
        [
            "Email/get",
            {
                "accountId": acct,
                "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
                "properties": ["threadId", "subject"],
            },
            "g",
        ],
        [
            "Thread/get",
            {
                "accountId": acct,
                "#ids": {"resultOf": "g", "name": "Email/get", "path": "/list/*/threadId"},
            },
            "t",
        ],
        [
            "Email/get",
            {
                "accountId": acct,
                "#ids": {"resultOf": "t", "name": "Thread/get", "path": "/list/*/emailIds"},
                "properties": ["id"],
            },
            "g2",
        ],
    )["methodResponses"]
    assert [r[0] for r in out] == ["Email/query", "Email/get", "Thread/get", "Email/get"]
    ids = out[0][1]["ids"]
    assert len(ids) >= 2
    assert [e["id"] for e in out[1][1]["list"]] == ids
    # "*" over arrays of arrays flattens (the emailIds of every thread).
    assert sorted(e["id"] for e in out[3][1]["list"]) == sorted(ids)

    bad = [
        {"resultOf": "nope", "name": "Email/query", "path": "/ids"},  # no such call id
        {"resultOf": "q", "name": "Email/get", "path": "/ids"},  # name mismatch
        {"resultOf": "q", "name": "Email/query", "path": "/nothing"},  # path does not resolve
        {"resultOf": "q", "name": "Email/query"},  # malformed reference
    ]
    for ref in bad:
        out = jc.api(
            ["Email/query", {"accountId": acct}, "q"],
            ["Email/get", {"accountId": acct, "#ids": ref}, "g"],
        )["methodResponses"]
        assert out[1][0] == "error" and out[1][1]["type"] == "invalidResultReference", ref
    # A reference to a later call is not "earlier" (§3.7 step 2).
    out = jc.api(
        [
            "Email/get",
            {"accountId": acct, "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}},
            "g",
        ],
        ["Email/query", {"accountId": acct}, "q"],
    )["methodResponses"]
    assert out[0][1]["type"] == "invalidResultReference"
    # §3.7 step 1: both "ids" and "#ids".
    out = jc.api(
        ["Email/query", {"accountId": acct}, "q"],
        [
            "Email/get",
            {
                "accountId": acct,
                "ids": [],
                "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
            },
            "g",
        ],
    )["methodResponses"]
    assert out[1][1]["type"] == "invalidArguments"
    # A reference to an error response: its name is "error", so name mismatch.
    out = jc.api(
        ["Email/query", {"accountId": "zzz"}, "q"],
        [
            "Email/get",
            {"accountId": acct, "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"}},
            "g",
        ],
    )["methodResponses"]
    assert out[1][1]["type"] == "invalidResultReference"


def test_creation_ids_across_calls_and_created_ids(jc: Client) -> None:
    """RFC 8620 §3.3 createdIds, §5.3 ``#creationId`` in a later call of the same request."""
    acct = jc.account_id
    out = jc.api(
        ["Mailbox/set", {"accountId": acct, "create": {"p": {"name": "cid parent"}}}, "a"],
        [
            "Mailbox/set",
            {"accountId": acct, "create": {"c": {"name": "cid child", "parentId": "#p"}}},
            "b",
        ],
        [
            "Mailbox/get",
            {"accountId": acct, "ids": ["#p", "#c"], "properties": ["name", "parentId"]},
            "g",
        ],
        createdIds={"pre": "xyz"},
    )
    responses = out["methodResponses"]
    parent = responses[0][1]["created"]["p"]["id"]
    child = responses[1][1]["created"]["c"]["id"]
    got = {m["id"]: m for m in responses[2][1]["list"]}
    assert got[child]["parentId"] == parent and got[parent]["name"] == "cid parent"
    assert responses[2][1]["notFound"] == []
    # §3.4: createdIds in the response holds the given ones plus the new ones.
    assert out["createdIds"] == {"pre": "xyz", "p": parent, "c": child}
    # Without createdIds in the request the response has none.
    out = jc.api(["Core/echo", {}, "e"])
    assert "createdIds" not in out
    # An unknown #creationId in /get is notFound, not an error.
    ok = jc.ok("Mailbox/get", {"ids": ["#never"], "properties": ["name"]})
    assert ok["list"] == [] and ok["notFound"] == ["#never"]
    # Clean up.
    jc.ok("Mailbox/set", {"destroy": [child, parent]})


# -- RFC 8620 §5.1 /get ------------------------------------------------------------------------
def test_get_request_too_large_and_properties(jc: Client) -> None:
    """RFC 8620 §5.1: requestTooLarge over maxObjectsInGet; duplicates returned once;
    unknown property → invalidArguments; ``id`` always returned."""
    limit = jc.session["capabilities"][CORE]["maxObjectsInGet"]
    ids = [f"m{i}" for i in range(limit + 1)]
    assert jc.error("Mailbox/get", {"ids": ids})["type"] == "requestTooLarge"
    inbox = jc.mailbox("inbox")
    out = jc.ok("Mailbox/get", {"ids": [inbox, inbox, "nothere"], "properties": ["name"]})
    assert out["list"] == [{"id": inbox, "name": "Inbox"}] or (
        len(out["list"]) == 1
        and out["list"][0]["id"] == inbox
        and set(out["list"][0]) == {"id", "name"}
    )
    assert out["notFound"] == ["nothere"]
    assert jc.error("Mailbox/get", {"properties": ["nonsense"]})["type"] == "invalidArguments"
    assert jc.error("Mailbox/get", {"ids": "x"})["type"] == "invalidArguments"


# -- RFC 8620 §5.2 /changes --------------------------------------------------------------------
def test_changes_paging_with_max_changes(jc: Client) -> None:
    """RFC 8620 §5.2: maxChanges pages until hasMoreChanges is false; the union is the whole
    set; an unknown state is cannotCalculateChanges; maxChanges 0 is invalidArguments."""
    since = jc.state("Email")
    for i in range(5):
        jc.deliver(f"paging {i}")
    seen: list[str] = []
    state = since
    pages = 0
    while True:
        out = jc.ok("Email/changes", {"sinceState": state, "maxChanges": 2})
        assert out["oldState"] == state
        assert len(out["created"]) + len(out["updated"]) + len(out["destroyed"]) <= 2
        seen += out["created"]
        state = out["newState"]
        pages += 1
        if not out["hasMoreChanges"]:
            break
        assert pages < 20
    assert len(seen) == 5 and len(set(seen)) == 5
    assert pages >= 3
    assert state == jc.state("Email")
    # Up to date: no changes, same state.
    out = jc.ok("Email/changes", {"sinceState": state})
    assert out["newState"] == state and out["created"] == [] and not out["hasMoreChanges"]
    assert jc.error("Email/changes", {"sinceState": "bogus"})["type"] == "cannotCalculateChanges"
    assert jc.error("Email/changes", {"sinceState": since, "maxChanges": 0})["type"] == (
        "invalidArguments"
    )
    assert jc.error("Email/changes", {})["type"] == "invalidArguments"
    # Thread and Mailbox changes page the same way.
    for type_name in ("Thread", "Mailbox"):
        out = jc.ok(f"{type_name}/changes", {"sinceState": since, "maxChanges": 1})
        assert out["oldState"] == since
        assert len(out["created"]) + len(out["updated"]) + len(out["destroyed"]) <= 1


def test_mailbox_changes_updated_properties(jc: Client) -> None:
    """RFC 8621 §2.2: Mailbox/changes ``updatedProperties`` is null or only counts changed."""
    since = jc.state("Mailbox")
    jc.deliver("counts only")
    out = jc.ok("Mailbox/changes", {"sinceState": since})
    assert jc.mailbox("inbox") in out["updated"]
    props = out["updatedProperties"]
    assert props is None or set(props) <= {
        "totalEmails",
        "unreadEmails",
        "totalThreads",
        "unreadThreads",
    }


# -- RFC 8620 §5.3 /set -----------------------------------------------------------------------
def test_set_if_in_state_and_request_too_large(jc: Client) -> None:
    """RFC 8620 §5.3: ifInState mismatch → stateMismatch and nothing done; matching state
    applies; more than maxObjectsInSet → requestTooLarge; old/newState."""
    state = jc.state("Mailbox")
    err = jc.error("Mailbox/set", {"ifInState": "999999", "create": {"x": {"name": "nope"}}})
    assert err["type"] == "stateMismatch"
    assert jc.state("Mailbox") == state
    out = jc.ok("Mailbox/set", {"ifInState": state, "create": {"x": {"name": "ifin"}}})
    assert out["oldState"] == state and out["newState"] != state
    assert "x" in out["created"]
    jc.ok("Mailbox/set", {"destroy": [out["created"]["x"]["id"]]})
    limit = jc.session["capabilities"][CORE]["maxObjectsInSet"]
    err = jc.error("Mailbox/set", {"destroy": [f"m{i}" for i in range(limit + 1)]})
    assert err["type"] == "requestTooLarge"
    # Unknown ids are notFound / notUpdated per object, not a method error.
    out = jc.ok("Mailbox/set", {"update": {"mzzz": {"name": "x"}}, "destroy": ["myyy"]})
    assert out["notUpdated"]["mzzz"]["type"] == "notFound"
    assert out["notDestroyed"]["myyy"]["type"] == "notFound"


def test_set_errors_invalid_patch_and_properties(jc: Client) -> None:
    """RFC 8620 §5.3 SetErrors: invalidProperties (with ``properties``), invalidPatch,
    willDestroy, singleton (VacationResponse), forbidden (server-set property)."""
    acct = jc.account_id
    out = jc.api(
        [
            "Mailbox/set",
            {
                "accountId": acct,
                "create": {
                    "bad": {"name": 5},
                    "srv": {"name": "srv", "totalEmails": 3},
                    "keep": {"name": "setErr"},
                },
            },
            "a",
        ],
        ["Mailbox/set", {"accountId": acct, "update": {"#keep": {"name/x": "y"}}}, "b"],
        [
            "Mailbox/set",
            {"accountId": acct, "update": {"#keep": {"name": "z"}}, "destroy": ["#keep"]},
            "c",
        ],
    )["methodResponses"]
    created = out[0][1]
    assert created["notCreated"]["bad"]["type"] == "invalidProperties"
    assert created["notCreated"]["bad"]["properties"] == ["name"]
    assert created["notCreated"]["srv"]["type"] == "invalidProperties"
    assert "totalEmails" in created["notCreated"]["srv"]["properties"]
    assert out[1][1]["notUpdated"]["#keep"]["type"] == "invalidPatch" or (
        list(out[1][1]["notUpdated"].values())[0]["type"] == "invalidPatch"
    )
    third = out[2][1]
    assert list(third["notUpdated"].values())[0]["type"] == "willDestroy"
    assert len(third["destroyed"]) == 1


# -- RFC 8620 §5.5 /query, §5.6 /queryChanges ---------------------------------------------------
def test_query_errors_and_window(jc: Client) -> None:
    """RFC 8620 §5.5: anchorNotFound, unsupportedSort, unsupportedFilter, negative limit →
    invalidArguments, position/anchor/anchorOffset windows, calculateTotal, queryState."""
    for i in range(3):
        jc.deliver(f"window {i}")
    base = {"sort": [{"property": "receivedAt", "isAscending": True}], "calculateTotal": True}
    full = jc.ok("Email/query", base)
    ids = full["ids"]
    assert full["total"] == len(ids) >= 3
    assert full["position"] == 0 and isinstance(full["queryState"], str)
    assert isinstance(full["canCalculateChanges"], bool)
    out = jc.ok("Email/query", {**base, "position": 1, "limit": 2})
    assert out["ids"] == ids[1:3] and out["position"] == 1
    out = jc.ok("Email/query", {**base, "position": -2})
    assert out["ids"] == ids[-2:] and out["position"] == len(ids) - 2
    out = jc.ok("Email/query", {**base, "anchor": ids[2], "anchorOffset": -1, "limit": 2})
    assert out["ids"] == ids[1:3] and out["position"] == 1
    # Position past the end: empty, and position is still returned.
    out = jc.ok("Email/query", {**base, "position": len(ids) + 5})
    assert out["ids"] == []
    assert jc.error("Email/query", {**base, "anchor": "Mnotthere"})["type"] == "anchorNotFound"
    assert jc.error("Email/query", {"sort": [{"property": "nope"}]})["type"] == "unsupportedSort"
    err = jc.error("Email/query", {"sort": [{"property": "subject", "collation": "i;nope"}]})
    assert err["type"] == "unsupportedSort"
    assert jc.error("Email/query", {"filter": {"nope": 1}})["type"] == "unsupportedFilter"
    assert jc.error("Email/query", {"limit": -1})["type"] == "invalidArguments"
    assert jc.error("Mailbox/query", {"sort": [{"property": "nope"}]})["type"] == "unsupportedSort"
    assert jc.error("Mailbox/query", {"filter": {"nope": 1}})["type"] == "unsupportedFilter"


def test_query_changes(jc: Client) -> None:
    """RFC 8620 §5.6: removed/added since a queryState, upToId, tooManyChanges,
    cannotCalculateChanges for an unknown state."""
    sort = [{"property": "receivedAt", "isAscending": False}]
    first = jc.ok("Email/query", {"sort": sort})
    if not first["canCalculateChanges"]:
        pytest.fail("Email/query says it cannot calculate changes for a plain sort")
    jc.deliver("qc new 1")
    jc.deliver("qc new 2")
    out = jc.ok(
        "Email/queryChanges",
        {"sort": sort, "sinceQueryState": first["queryState"], "calculateTotal": True},
    )
    assert out["oldQueryState"] == first["queryState"]
    after = jc.ok("Email/query", {"sort": sort})
    assert out["newQueryState"] == after["queryState"]
    added = [a["id"] for a in out["added"]]
    new_ids = set(after["ids"]) - set(first["ids"])
    assert len(new_ids) == 2 and new_ids <= set(added)
    for item in out["added"]:
        assert after["ids"][item["index"]] == item["id"]
    assert out["total"] == len(after["ids"])
    # Applying removed/added to the old list gives the new list (§5.6).
    cached = [i for i in first["ids"] if i not in out["removed"]]
    for item in sorted(out["added"], key=lambda a: a["index"]):
        cached.insert(item["index"], item["id"])
    assert cached == after["ids"]
    err = jc.error(
        "Email/queryChanges",
        {"sort": sort, "sinceQueryState": first["queryState"], "maxChanges": 1},
    )
    assert err["type"] == "tooManyChanges"
    err = jc.error("Email/queryChanges", {"sort": sort, "sinceQueryState": "nope"})
    assert err["type"] == "cannotCalculateChanges"
    # Mailbox/queryChanges (RFC 8621 §2.4).
    mq = jc.ok("Mailbox/query", {})
    made = jc.ok("Mailbox/set", {"create": {"n": {"name": "qc box"}}})["created"]["n"]["id"]
    mqc = jc.ok("Mailbox/queryChanges", {"sinceQueryState": mq["queryState"]})
    assert made in [a["id"] for a in mqc["added"]]
    jc.ok("Mailbox/set", {"destroy": [made]})


# -- RFC 8620 §6.1–§6.3 and RFC 9404: blobs ------------------------------------------------------
def test_upload_download_and_blob_copy(jc: Client) -> None:
    """RFC 8620 §6.1 upload response, §6.2 download, §6.3 Blob/copy (fromAccountNotFound,
    notFound per blob)."""
    up = jc.upload(b"blob body", "text/plain")
    assert set(up) >= {"accountId", "blobId", "type", "size"}
    assert up["accountId"] == jc.account_id and up["size"] == 9
    assert up["type"].startswith("text/plain")
    r = jc.request("POST", "/jmap/upload/a999999/", b"x")
    assert r.status in (403, 404)
    r = jc.request("GET", f"/jmap/download/{jc.account_id}/Bnothere/x.bin?accept=text/plain")
    assert r.status == 404
    got, out = jc.call(
        "Blob/copy",
        {"fromAccountId": "a999999", "accountId": jc.account_id, "blobIds": [up["blobId"]]},
    )
    assert got == "error" and out["type"] == "fromAccountNotFound"
    got, out = jc.call(
        "Blob/copy",
        {"fromAccountId": jc.account_id, "blobIds": [up["blobId"], "Bnothere"]},
    )
    assert got == "Blob/copy", out
    assert out["copied"][up["blobId"]]
    assert out["notCopied"]["Bnothere"]["type"] == "notFound"


def test_blob_upload_get_lookup_rfc9404(jc: Client) -> None:
    """RFC 9404 §4.1 Blob/upload (data:asText, data:asBase64, blobId ranges, #creationId),
    §4.2 Blob/get (data/size/digest, offset/length, isEncodingProblem, isTruncated),
    §4.3 Blob/lookup (typeNames → matching ids)."""
    acct = jc.account_id
    out = jc.api(
        [
            "Blob/upload",
            {
                "accountId": acct,
                "create": {
                    "t": {"data": [{"data:asText": "hello "}, {"data:asBase64": "d29ybGQ="}]},
                    "r": {"data": [{"blobId": "#t", "offset": 6, "length": 5}], "type": "text/x"},
                    "bad": {"data": [{"data:asText": "a", "data:asBase64": "YQ=="}]},
                    "missing": {"data": [{"blobId": "Bnothere"}]},
                },
            },
            "u",
        ],
        [
            "Blob/get",
            {
                "accountId": acct,
                "ids": ["#t", "#r"],
                "properties": ["data:asText", "size", "digest:sha"],
            },
            "g",
        ],
        createdIds={},
    )["methodResponses"]
    up = out[0][1]
    assert up["created"]["t"]["size"] == 11
    assert up["created"]["r"]["type"] == "text/x" and up["created"]["r"]["size"] == 5
    assert up["notCreated"]["bad"]["type"] == "invalidProperties"
    assert up["notCreated"]["missing"]["type"] == "blobNotFound" or (
        up["notCreated"]["missing"]["type"] == "invalidProperties"
    )
    got = {b["id"]: b for b in out[1][1]["list"]}
    t_id, r_id = up["created"]["t"]["id"], up["created"]["r"]["id"]
    assert got[t_id]["data:asText"] == "hello world" and got[t_id]["size"] == 11
    sha = base64.b64encode(hashlib.sha1(b"hello world").digest()).decode()
    assert got[t_id]["digest:sha"] == sha
    assert got[r_id]["data:asText"] == "world"
    s256 = jc.ok("Blob/get", {"ids": [t_id], "properties": ["digest:sha-256"]})["list"][0]
    assert (
        s256["digest:sha-256"] == base64.b64encode(hashlib.sha256(b"hello world").digest()).decode()
    )
    # offset/length, encoding problem, truncation.
    raw = jc.upload(b"ab\xffcd")["blobId"]
    g = jc.ok("Blob/get", {"ids": [raw], "properties": ["data"], "offset": 1, "length": 10})
    item = g["list"][0]
    # "data" is data:asText when the octets are UTF-8, else data:asBase64 (§4.2).
    assert item["isTruncated"] is True
    assert item["data:asBase64"] == base64.b64encode(b"b\xffcd").decode()
    assert "data:asText" not in item
    g = jc.ok("Blob/get", {"ids": [raw], "properties": ["data:asText"], "length": 2})
    item = g["list"][0]
    assert item["data:asText"] == "ab" and item["isTruncated"] is False
    g = jc.ok("Blob/get", {"ids": [raw], "properties": ["data:asText"]})
    item = g["list"][0]
    assert item["data:asText"] is None and item["isEncodingProblem"] is True
    g = jc.ok("Blob/get", {"ids": [raw, "Bnothere"], "properties": ["data:asBase64"]})
    assert g["notFound"] == ["Bnothere"]
    assert jc.error("Blob/get", {"ids": [raw], "properties": ["nonsense"]})["type"] == (
        "invalidArguments"
    )
    # Lookup: the blob of a delivered email is referenced by that Email, its Mailbox and Thread.
    jc.deliver("lookup me")
    q = jc.ok("Email/query", {"filter": {"subject": "lookup me"}})
    em = jc.ok("Email/get", {"ids": q["ids"], "properties": ["blobId", "threadId", "mailboxIds"]})
    e = em["list"][0]
    look = jc.ok(
        "Blob/lookup",
        {"typeNames": ["Email", "Mailbox", "Thread"], "ids": [e["blobId"], raw, "Bnothere"]},
    )
    by = {x["id"]: x["matchedIds"] for x in look["list"]}
    assert by[e["blobId"]]["Email"] == [e["id"]]
    assert by[e["blobId"]]["Thread"] == [e["threadId"]]
    assert sorted(by[e["blobId"]]["Mailbox"]) == sorted(e["mailboxIds"])
    assert by[raw] == {"Email": [], "Mailbox": [], "Thread": []}
    assert look["notFound"] == ["Bnothere"]
    err = jc.error("Blob/lookup", {"typeNames": ["Nope"], "ids": [raw]})
    assert err["type"] == "unknownDataType"


def test_core_echo_and_ws_capability(jc: Client) -> None:
    """RFC 8620 §4.1 Core/echo returns its arguments; RFC 8887 §4 the websocket capability
    URL uses the ws scheme of the public URL."""
    assert jc.api(["Core/echo", {"deep": {"a": [1, None]}}, "e"], using=(CORE,))[
        "methodResponses"
    ] == [["Core/echo", {"deep": {"a": [1, None]}}, "e"]]
    ws = jc.session["capabilities"][WEBSOCKET]
    assert ws["url"] == f"ws://127.0.0.1:{jc.ports['http']}/jmap/ws"
    assert ws["supportsPush"] is True


# -- RFC 8620 §7.2, §7.3: push -------------------------------------------------------------------
def test_push_subscription_get_set(jc: Client) -> None:
    """RFC 8620 §7.2.1: no accountId, url/keys never returned (forbidden when asked);
    §7.2.2: no ifInState/oldState/newState, url immutable, wrong verificationCode and past
    expires are invalidProperties, willDestroy for update+destroy (§5.3)."""
    api = jc.api
    created = api(
        [
            "PushSubscription/set",
            {"create": {"p": {"deviceClientId": "dev", "url": "https://127.0.0.1:9/push"}}},
            "p",
        ],
        using=(CORE,),
    )["methodResponses"][0][1]
    assert "oldState" not in created and "accountId" not in created
    pid = created["created"]["p"]["id"]
    assert set(created["created"]["p"]) >= {"id", "expires"}

    def one(name: str, args: dict[str, Any]) -> Any:
        return api([name, args, "x"], using=(CORE,))["methodResponses"][0]

    got = one("PushSubscription/get", {"ids": None})
    assert got[0] == "PushSubscription/get" and "state" not in got[1]
    sub = next(s for s in got[1]["list"] if s["id"] == pid)
    assert "url" not in sub and "keys" not in sub
    assert sub["deviceClientId"] == "dev" and sub["verificationCode"] is None
    for prop in ("url", "keys"):
        err = one("PushSubscription/get", {"ids": [pid], "properties": [prop]})
        assert err[0] == "error" and err[1]["type"] == "forbidden"
    err = one("PushSubscription/get", {"accountId": jc.account_id})
    assert err[0] == "error" and err[1]["type"] == "invalidArguments"
    err = one("PushSubscription/set", {"ifInState": "1"})
    assert err[0] == "error" and err[1]["type"] == "invalidArguments"
    out = one(
        "PushSubscription/set",
        {
            "update": {
                pid: {"url": "https://127.0.0.1:9/other"},
            }
        },
    )[1]
    assert out["notUpdated"][pid]["type"] == "invalidProperties"
    out = one("PushSubscription/set", {"update": {pid: {"verificationCode": "wrong"}}})[1]
    assert out["notUpdated"][pid]["type"] == "invalidProperties"
    out = one("PushSubscription/set", {"update": {pid: {"expires": "2000-01-01T00:00:00Z"}}})[1]
    assert out["notUpdated"][pid]["type"] == "invalidProperties"
    out = one("PushSubscription/set", {"update": {pid: {"types": ["Email"]}}, "destroy": [pid]})[1]
    assert out["notUpdated"][pid]["type"] == "willDestroy"
    assert out["destroyed"] == [pid]
    out = one("PushSubscription/set", {"destroy": [pid]})[1]
    assert out["notDestroyed"][pid]["type"] == "notFound"


def test_eventsource_parameters(jc: Client) -> None:
    """RFC 8620 §7.3: closeafter is "state" or "no", ping a non-negative integer; bad values
    are refused; closeafter=state ends the stream after one state event."""
    for query in (
        "types=*&closeafter=maybe&ping=0",
        "types=*&closeafter=no&ping=-1",
        "types=*&closeafter=no&ping=abc",
    ):
        assert jc.request("GET", f"/jmap/eventsource/?{query}").status == 400, query
    conn = http.client.HTTPConnection("127.0.0.1", jc.ports["http"], timeout=10)
    try:
        conn.request(
            "GET",
            "/jmap/eventsource/?types=Email&closeafter=state&ping=0",
            headers={"Authorization": jc.auth},
        )
        resp = conn.getresponse()
        assert resp.status == 200
        jc.deliver("eventsource closeafter")
        body = resp.read().decode()  # returns: the server ends the response
    finally:
        conn.close()
    events = [e for e in body.split("\n\n") if e.strip()]
    state_events = [e for e in events if "event: state" in e]
    assert len(state_events) == 1, body
    data = json.loads(state_events[0].split("data: ", 1)[1])
    assert data["@type"] == "StateChange"
    assert set(data["changed"][jc.account_id]) == {"Email"}
