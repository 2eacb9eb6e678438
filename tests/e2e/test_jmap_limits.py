"""JMAP request rules of the HTTP layer against the real server over raw sockets: the API's
Content-Type (RFC 8620 §3.6.1 notJSON), the session limits (RFC 8620 §2) each advertised as
configured and enforced at exactly that value, and the Session's URLs following the scheme and
Host the session was fetched with (RFC 8620 §2, RFC 8887 §4).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_jmap_conformance_core import ALL, CORE, Client
from tests.e2e.test_jmap_http import Jmap, WsClient
from tests.support import ServerThread, make_config, wait_until

LIMITS = {
    "STALWART_HTTP_MAX_REQUEST_SIZE": "2000",
    "STALWART_HTTP_MAX_UPLOAD_SIZE": "1500",
    "STALWART_HTTP_MAX_CONCURRENT_REQUESTS": "1",
    "STALWART_HTTP_MAX_CONCURRENT_UPLOADS": "3",
    "STALWART_HTTP_MAX_CALLS_IN_REQUEST": "3",
    "STALWART_HTTP_MAX_OBJECTS_IN_GET": "5",
    "STALWART_HTTP_MAX_OBJECTS_IN_SET": "6",
}


def start(tmp: Path, overrides: dict[str, str] | None = None) -> ServerThread:
    env = {"STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "true", **(overrides or {})}
    return ServerThread(make_config(tmp / "data", env)).start()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """A server with small, distinct values for every core limit (and no public_url)."""
    srv = start(tmp_path_factory.mktemp("limits"), LIMITS)
    try:
        yield Client(srv)
    finally:
        srv.stop()


def api_body(size: int, calls: list[Any] | None = None) -> bytes:
    """A valid JMAP request of exactly ``size`` octets (padded with JSON white space)."""
    body = json.dumps({"using": [CORE], "methodCalls": calls or [["Core/echo", {}, "e"]]})
    assert len(body) <= size
    return body.encode() + b" " * (size - len(body))


def post_chunked(c: Client, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST /jmap/ with ``Transfer-Encoding: chunked`` (no declared length)."""
    conn = http.client.HTTPConnection("127.0.0.1", c.ports["http"], timeout=15)
    try:
        conn.putrequest("POST", "/jmap/")
        conn.putheader("Authorization", c.auth)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for i in range(0, len(body), 700):
            piece = body[i : i + 700]
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


# -- RFC 8620 §3.6.1 notJSON: the Content-Type ---------------------------------------------------
def test_api_post_without_json_content_type_is_not_json_and_not_executed(limited: Client) -> None:
    """RFC 8620 §3.6.1 notJSON: "The content type of the request was not application/json"; the
    request is refused as a whole (HTTP 400, problem JSON) and no method of it runs."""
    c = limited
    before = c.state("Mailbox")
    body = json.dumps(
        {
            "using": list(ALL),
            "methodCalls": [
                ["Mailbox/set", {"accountId": c.account_id, "create": {"m": {"name": "NJ"}}}, "0"]
            ],
        }
    ).encode()
    for headers in ({"Content-Type": "text/plain"}, {}, {"Content-Type": "application/jsonx"}):
        r = c.request("POST", "/jmap/", body, headers=headers)
        assert r.status == 400, (headers, r.body)
        assert r.headers["content-type"].startswith("application/problem+json")
        doc = r.json()
        assert doc["type"] == "urn:ietf:params:jmap:error:notJSON" and doc["status"] == 400
    assert c.state("Mailbox") == before  # nothing was executed
    # Parameters are allowed, and media types are case-insensitive (RFC 9110 §8.3.1).
    for value in ("application/json; charset=utf-8", "Application/JSON"):
        echo = json.dumps({"using": [CORE], "methodCalls": [["Core/echo", {"v": 1}, "a"]]})
        r = c.request("POST", "/jmap/", echo.encode(), headers={"Content-Type": value})
        assert r.status == 200, (value, r.body)
        assert r.json()["methodResponses"] == [["Core/echo", {"v": 1}, "a"]]


# -- RFC 8620 §2: maxSizeRequest ------------------------------------------------------------------
def test_max_size_request_is_the_configured_limit_at_and_one_over(limited: Client) -> None:
    """RFC 8620 §2 maxSizeRequest is ``http.max_request_size``; a request of exactly that size
    runs, one octet more gets the §3.6.1 ``limit`` problem naming maxSizeRequest (HTTP 413
    Content Too Large, RFC 9110 §15.5.14), whether the length is declared or chunked."""
    c = limited
    limit = c.session["capabilities"][CORE]["maxSizeRequest"]
    assert limit == 2000
    ok = c.request("POST", "/jmap/", api_body(limit), {"Content-Type": "application/json"})
    assert ok.status == 200, ok.body
    over = c.request("POST", "/jmap/", api_body(limit + 1), {"Content-Type": "application/json"})
    assert over.status == 413, over.body
    doc = over.json()
    assert doc["type"] == "urn:ietf:params:jmap:error:limit"
    assert doc["limit"] == "maxSizeRequest" and doc["status"] == 413
    assert post_chunked(c, api_body(limit))[0] == 200
    status, doc = post_chunked(c, api_body(limit + 1))
    assert status == 413
    assert doc["type"] == "urn:ietf:params:jmap:error:limit" and doc["limit"] == "maxSizeRequest"


def test_max_size_request_over_websocket(limited: Client) -> None:
    """RFC 8887 §4.3.1 / RFC 8620 §3.6.1: a WebSocket Request over maxSizeRequest is answered
    with a RequestError of type limit (the same limit as over HTTP)."""
    c = limited
    limit = c.session["capabilities"][CORE]["maxSizeRequest"]
    jmap = Jmap.__new__(Jmap)  # only the fields WsClient reads
    jmap.ports, jmap.auth_header = c.ports, c.auth
    ws = WsClient(jmap)
    try:
        assert ws.accepted
        request: dict[str, Any] = {"@type": "Request", "id": "r1", "using": [CORE]}
        request["methodCalls"] = [["Core/echo", {}, "e"]]
        text = json.dumps(request)
        ws.send(text + " " * (limit - len(text)))
        assert ws.recv()["@type"] == "Response"
        ws.send(text + " " * (limit + 1 - len(text)))
        error = ws.recv()
        assert error["@type"] == "RequestError"
        assert error["type"] == "urn:ietf:params:jmap:error:limit"
        assert error["limit"] == "maxSizeRequest"
    finally:
        ws.close()


# -- RFC 8620 §2: the other limits ---------------------------------------------------------------
def test_max_size_upload_is_its_own_setting(limited: Client) -> None:
    """RFC 8620 §2 maxSizeUpload is ``http.max_upload_size``, enforced at exactly that value by
    the upload endpoint (§6.1: 413 with the limit problem)."""
    c = limited
    limit = c.session["capabilities"][CORE]["maxSizeUpload"]
    assert limit == 1500
    path = f"/jmap/upload/{c.account_id}/"
    assert c.request("POST", path, b"u" * limit).status == 201
    over = c.request("POST", path, b"u" * (limit + 1))
    assert over.status == 413
    assert over.json()["limit"] == "maxSizeUpload"


def test_max_calls_and_objects_are_configured_and_enforced(limited: Client) -> None:
    """RFC 8620 §2 maxCallsInRequest (§3.6.1 limit problem), maxObjectsInGet (§5.1) and
    maxObjectsInSet (§5.3 requestTooLarge): each advertised value is the configured one and is
    the exact point where the server starts refusing."""
    c = limited
    core = c.session["capabilities"][CORE]
    assert (core["maxCallsInRequest"], core["maxObjectsInGet"], core["maxObjectsInSet"]) == (
        3,
        5,
        6,
    )
    echo = ["Core/echo", {}, "e"]
    assert c.api(echo, echo, echo, using=(CORE,))["methodResponses"][2][0] == "Core/echo"
    over = c.api_raw({"using": [CORE], "methodCalls": [echo] * 4})
    assert over.status == 400 and over.json()["limit"] == "maxCallsInRequest"

    ids = [f"x{i}" for i in range(6)]
    got = c.ok("Mailbox/get", {"ids": ids[:5]})
    assert got["notFound"] == ids[:5]
    assert c.error("Mailbox/get", {"ids": ids})["type"] == "requestTooLarge"
    out = c.ok("Mailbox/set", {"destroy": ids})
    assert set(out["notDestroyed"]) == set(ids)
    assert c.error("Mailbox/set", {"destroy": [*ids, "x6"]})["type"] == "requestTooLarge"


def test_concurrency_limits_are_advertised_as_configured(limited: Client) -> None:
    """RFC 8620 §2 maxConcurrentRequests / maxConcurrentUpload come from
    ``http.max_concurrent_requests`` / ``http.max_concurrent_uploads``."""
    core = limited.session["capabilities"][CORE]
    assert core["maxConcurrentRequests"] == 1
    assert core["maxConcurrentUpload"] == 3


def test_max_concurrent_requests_is_enforced(tmp_path: Path) -> None:
    """RFC 8620 §2 maxConcurrentRequests (1 here): a second request of the same user while the
    first is running gets the §3.6.1 ``limit`` problem naming maxConcurrentRequests.

    The first request creates a chain of mailboxes, each under the one created before it, so
    the server writes them one round (one store write) at a time; the second is sent once the
    first mailbox of the chain exists."""
    srv = start(tmp_path, {"STALWART_HTTP_MAX_CONCURRENT_REQUESTS": "1"})
    try:
        _one_at_a_time(Client(srv))
    finally:
        srv.stop()


def _one_at_a_time(c: Client) -> None:
    chain = {
        f"c{i}": {"name": f"chain{i}", "parentId": f"#c{i - 1}" if i else None} for i in range(150)
    }
    calls = [["Mailbox/set", {"accountId": c.account_id, "create": chain}, "0"]]
    first: dict[str, Any] = {}

    def run_first() -> None:
        reply = c.api_raw({"using": list(ALL), "methodCalls": calls})
        first["status"] = reply.status
        first["body"] = reply.json()

    store = c.srv.store
    acct = int(c.account_id[1:])
    thread = threading.Thread(target=run_first)
    thread.start()
    wait_until(lambda: any(m.name == "chain0" for m in store.mailboxes(acct)), interval=0.001)
    second = c.api_raw({"using": [CORE], "methodCalls": [["Core/echo", {}, "e"]]})
    thread.join(60)
    assert first["status"] == 200
    assert len(first["body"]["methodResponses"][0][1]["created"]) == 150
    assert second.status == 400, second.body
    assert second.json()["type"] == "urn:ietf:params:jmap:error:limit"
    assert second.json()["limit"] == "maxConcurrentRequests"
    # Once the first is done, the next request runs.
    assert c.api(["Core/echo", {}, "e"], using=(CORE,))["methodResponses"][0][0] == "Core/echo"


# -- RFC 8620 §2: Session URLs follow the request ------------------------------------------------
def fetch_session(port: int, auth: str, *, tls: bool, host: str | None = None) -> Any:
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=15, context=ctx
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.putrequest("GET", "/.well-known/jmap", skip_host=host is not None)
        if host is not None:
            conn.putheader("Host", host)
        conn.putheader("Authorization", auth)
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 200
        return json.loads(resp.read())
    finally:
        conn.close()


def urls(session: dict[str, Any]) -> list[str]:
    ws = session["capabilities"]["urn:ietf:params:jmap:websocket"]["url"]
    keys = ("apiUrl", "downloadUrl", "uploadUrl", "eventSourceUrl")
    return [session[k] for k in keys] + [ws]


def test_session_urls_follow_the_scheme_and_host_of_the_request(limited: Client) -> None:
    """RFC 8620 §2 (apiUrl, downloadUrl, uploadUrl, eventSourceUrl) and RFC 8887 §4 (the
    websocket url): without ``http.public_url`` they name the scheme the session was fetched
    over — https and wss over TLS — and the Host the client used."""
    c = limited
    tls, plain = c.ports["https"], c.ports["http"]
    secure = fetch_session(tls, c.auth, tls=True)
    assert all(u.startswith(f"https://127.0.0.1:{tls}/jmap/") for u in urls(secure)[:4])
    assert urls(secure)[4] == f"wss://127.0.0.1:{tls}/jmap/ws"
    clear = fetch_session(plain, c.auth, tls=False)
    assert all(u.startswith(f"http://127.0.0.1:{plain}/jmap/") for u in urls(clear)[:4])
    assert urls(clear)[4] == f"ws://127.0.0.1:{plain}/jmap/ws"
    named = fetch_session(tls, c.auth, tls=True, host="Mail.Example.COM")
    assert named["apiUrl"] == "https://mail.example.com/jmap/"
    assert urls(named)[4] == "wss://mail.example.com/jmap/ws"
    # A malformed Host is not echoed: the server's own name and port are used instead.
    odd = fetch_session(tls, c.auth, tls=True, host="evil.example/x?")
    assert odd["apiUrl"] == f"https://mx.test:{tls}/jmap/"
    # The API answers over either scheme, each with its own Session's state.
    assert secure["state"] != clear["state"]


def test_configured_public_url_wins(tmp_path: Path) -> None:
    """``http.public_url`` (a server behind a reverse proxy) is used for every Session, whatever
    scheme and Host the request came with."""
    srv = start(tmp_path, {"STALWART_HTTP_PUBLIC_URL": "https://jmap.example.org/mail"})
    try:
        c = Client(srv)
        for tls in (True, False):
            port = c.ports["https" if tls else "http"]
            s = fetch_session(port, c.auth, tls=tls)
            assert s["apiUrl"] == "https://jmap.example.org/mail/jmap/"
            assert urls(s)[4] == "wss://jmap.example.org/mail/jmap/ws"
    finally:
        srv.stop()


def test_request_over_limit_does_not_hang_a_raw_client(limited: Client) -> None:
    """A declared Content-Length over maxSizeRequest is answered before the body is sent
    (RFC 9110 §10.1.1 Expect: 100-continue gets the final status at once)."""
    c = limited
    sock = socket.create_connection(("127.0.0.1", c.ports["http"]), timeout=10)
    try:
        sock.sendall(
            b"POST /jmap/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
            + c.auth.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: 2001\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        started = time.monotonic()
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 413 "), data
        assert time.monotonic() - started < 5
    finally:
        sock.close()
