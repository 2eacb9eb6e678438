"""JMAP over HTTP against the real server on loopback sockets: session discovery (with the jmapc
client library), the API endpoint, request-level errors, authentication, upload and download.

The helpers at the top (server with known ports, SSE reader, WebSocket client, LMTP delivery)
are shared with the other ``test_jmap_*`` files.
"""

from __future__ import annotations

import base64
import json
import smtplib
import socket
import time
import warnings
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    TextMessage,
)
from wsproto.events import Request as WsRequest

from tests.support import ServerThread, make_config

JMAP_CORE = "urn:ietf:params:jmap:core"
JMAP_MAIL = "urn:ietf:params:jmap:mail"


# -- shared helpers ----------------------------------------------------------------------------
class Jmap:
    """A running server plus the demo user's credentials and plain-HTTP helpers."""

    def __init__(self, srv: ServerThread) -> None:
        self.srv = srv
        server = srv.server
        assert server is not None
        self.ports = server.ports
        cred = next(c for c in server.credentials if c.role == "demo user")
        self.user, self.password = cred.email, cred.password
        self.base = f"http://127.0.0.1:{self.ports['http']}"
        self.auth = (self.user, self.password)
        self.auth_header = (
            "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        )
        session = self.get("/.well-known/jmap").json()
        self.account_id: str = next(iter(session["accounts"]))
        self.session = session

    def get(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("auth", self.auth)
        return requests.get(self.base + path, timeout=10, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("auth", self.auth)
        return requests.post(self.base + path, timeout=10, **kw)

    def call(self, *calls: list[Any], using: tuple[str, ...] = (JMAP_CORE,)) -> list[Any]:
        r = self.post("/jmap/", json={"using": list(using), "methodCalls": list(calls)})
        assert r.status_code == 200, r.text
        return list(r.json()["methodResponses"])

    def has_method(self, name: str) -> bool:
        server = self.srv.server
        assert server is not None and server.jmap is not None
        return server.jmap.dispatcher.method(name) is not None

    def deliver(self, subject: str, body: str = "hello\r\n", headers: str = "") -> None:
        msg = (
            f"From: sender@example.net\r\nTo: {self.user}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}-{time.monotonic_ns()}@example.net>\r\n"
            f"{headers}\r\n{body}"
        )
        with smtplib.LMTP("127.0.0.1", self.ports["lmtp"]) as lmtp:
            lmtp.sendmail("sender@example.net", [self.user], msg.encode())


def start_server(data_dir: Path, overrides: dict[str, str] | None = None) -> ServerThread:
    env = {
        # jmapc always discovers over https://HOST/.well-known/jmap: make the session's URLs
        # point at the TLS port too (port 0 in the public URL: the port bound for https).
        "STALWART_HTTP_PUBLIC_URL": "https://127.0.0.1:0",
        "STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "true",
        **(overrides or {}),
    }
    return ServerThread(make_config(data_dir, env)).start()


@pytest.fixture(scope="module")
def jmap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jmap]:
    srv = start_server(tmp_path_factory.mktemp("jmap") / "data")
    try:
        yield Jmap(srv)
    finally:
        srv.stop()


class SseReader:
    """Reads server-sent events from a streaming response (HTML Standard §9.2.6)."""

    def __init__(self, jmap: Jmap, query: str, headers: dict[str, str] | None = None) -> None:
        self.response = requests.get(
            f"{jmap.base}/jmap/eventsource/?{query}",
            auth=jmap.auth,
            headers=headers,
            stream=True,
            timeout=(5, 15),
        )
        self.chunks = self.response.iter_content(chunk_size=None)
        self.buffer = b""

    def next(self) -> dict[str, Any]:
        while b"\n\n" not in self.buffer:
            self.buffer += next(self.chunks)
        raw, self.buffer = self.buffer.split(b"\n\n", 1)
        event: dict[str, Any] = {}
        for line in raw.decode().split("\n"):
            name, _, value = line.partition(": ")
            event[name] = value
        event["json"] = json.loads(event["data"])
        return event

    def ended(self) -> bool:
        """True when the stream ends (the server closed it) before another event."""
        try:
            while True:
                self.buffer += next(self.chunks)
        except StopIteration:
            return True

    def close(self) -> None:
        self.response.close()


class WsClient:
    """A blocking WebSocket client on wsproto (RFC 6455) for JMAP over WebSocket."""

    def __init__(
        self, jmap: Jmap, subprotocols: tuple[str, ...] = ("jmap",), auth: str | None = None
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", jmap.ports["http"]), timeout=10)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.events: deque[Any] = deque()
        headers = [(b"authorization", (auth or jmap.auth_header).encode())]
        request = WsRequest(
            host="127.0.0.1",
            target="/jmap/ws",
            subprotocols=list(subprotocols),
            extra_headers=headers,
        )
        self.sock.sendall(self.ws.send(request))
        first = self._event()
        self.accepted = isinstance(first, AcceptConnection)
        self.subprotocol = first.subprotocol if self.accepted else None
        self.status = 101 if self.accepted else getattr(first, "status_code", 0)

    def _event(self) -> Any:
        while not self.events:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            self.events.extend(self.ws.events())
        return self.events.popleft()

    def send(self, obj: Any) -> None:
        text = obj if isinstance(obj, str) else json.dumps(obj)
        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        self.sock.settimeout(timeout)
        parts: list[str] = []
        while True:
            event = self._event()
            if isinstance(event, Ping):
                self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, TextMessage):
                parts.append(event.data)
                if event.message_finished:
                    return dict(json.loads("".join(parts)))
            elif isinstance(event, CloseConnection | RejectConnection | RejectData):
                raise AssertionError(f"connection closed: {event}")

    def close(self) -> None:
        try:
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        except Exception:
            pass
        self.sock.close()


# -- session discovery ------------------------------------------------------------------------
def test_session_discovery_with_jmapc(jmap: Jmap) -> None:
    import jmapc
    from jmapc.methods import CoreEcho

    client = jmapc.Client.create_with_password(
        f"127.0.0.1:{jmap.ports['https']}", jmap.user, jmap.password
    )
    # The test server's certificate is self-signed; trust_env off so that a CA bundle from the
    # environment (REQUESTS_CA_BUNDLE) does not override verify=False.
    client.requests_session.verify = False
    client.requests_session.trust_env = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = client.jmap_session
        assert session.username == jmap.user
        assert session.api_url == f"https://127.0.0.1:{jmap.ports['https']}/jmap/"
        assert JMAP_CORE in session.capabilities.urns
        assert session.capabilities.core.max_calls_in_request == 16
        echo = client.request(CoreEcho(data={"hello": "world"}))
    assert echo.data == {"hello": "world"}  # type: ignore[union-attr]


def test_session_object(jmap: Jmap) -> None:
    s = jmap.session
    tls = jmap.ports["https"]
    assert s["username"] == jmap.user
    assert s["apiUrl"] == f"https://127.0.0.1:{tls}/jmap/"
    assert s["uploadUrl"] == f"https://127.0.0.1:{tls}/jmap/upload/{{accountId}}/"
    assert s["downloadUrl"].endswith("/jmap/download/{accountId}/{blobId}/{name}?accept={type}")
    assert "{types}" in s["eventSourceUrl"] and "{closeafter}" in s["eventSourceUrl"]
    caps = s["capabilities"]
    # RFC 8620 §2: the advertised limit is the configured (and enforced) one.
    assert caps[JMAP_CORE]["maxSizeRequest"] == jmap.srv.cfg.http.max_request_size
    assert caps["urn:ietf:params:jmap:websocket"] == {
        "url": f"wss://127.0.0.1:{tls}/jmap/ws",
        "supportsPush": True,
    }
    account = s["accounts"][jmap.account_id]
    assert account["name"] == jmap.user and account["isPersonal"] is True
    assert jmap.account_id.startswith("a")
    if JMAP_MAIL in caps:
        mail = account["accountCapabilities"][JMAP_MAIL]
        assert mail["maxSizeMailboxName"] >= 100  # RFC 8621 §1.3.1
        assert "receivedAt" in mail["emailQuerySortOptions"]
        assert s["primaryAccounts"][JMAP_MAIL] == jmap.account_id
    # Same state for the same content.
    assert jmap.get("/jmap/session").json()["state"] == s["state"]


def test_authentication_required(jmap: Jmap) -> None:
    for path in ("/.well-known/jmap", "/jmap/eventsource/?types=*&closeafter=no&ping=0"):
        r = jmap.get(path, auth=None)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"].startswith('Basic realm="stalwart-py"')
    assert jmap.get("/.well-known/jmap", auth=(jmap.user, "wrong")).status_code == 401
    r = jmap.post("/jmap/", auth=None, json={"using": [], "methodCalls": []})
    assert r.status_code == 401
    r = jmap.get("/.well-known/jmap", auth=None, headers={"Authorization": "Bearer abc.def"})
    assert r.status_code == 401


# -- the API ----------------------------------------------------------------------------------
def test_core_echo_and_created_ids(jmap: Jmap) -> None:
    r = jmap.post(
        "/jmap/",
        json={
            "using": [JMAP_CORE],
            "methodCalls": [["Core/echo", {"a": [1, "ü"]}, "c1"], ["Nope/get", {}, "c2"]],
            "createdIds": {},
        },
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert body["methodResponses"] == [
        ["Core/echo", {"a": [1, "ü"]}, "c1"],
        ["error", {"type": "unknownMethod", "description": "Unknown method 'Nope/get'."}, "c2"],
    ]
    assert body["createdIds"] == {}
    assert body["sessionState"] == jmap.session["state"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b"{not json",
            {"type": "urn:ietf:params:jmap:error:notJSON", "status": 400},
        ),
        (
            b'{"using": "x", "methodCalls": []}',
            {
                "type": "urn:ietf:params:jmap:error:notRequest",
                "status": 400,
                "detail": "'using' must be an array of strings.",
            },
        ),
        (
            b'{"using": ["urn:example:nope"], "methodCalls": []}',
            {
                "type": "urn:ietf:params:jmap:error:unknownCapability",
                "status": 400,
                "detail": "The request used capability 'urn:example:nope', which is not "
                "supported by this server.",
            },
        ),
        (
            json.dumps(
                {
                    "using": [JMAP_CORE],
                    "methodCalls": [["Core/echo", {}, str(i)] for i in range(17)],
                }
            ).encode(),
            {
                "type": "urn:ietf:params:jmap:error:limit",
                "status": 400,
                "detail": "The request has 17 method calls; the limit is 16.",
                "limit": "maxCallsInRequest",
            },
        ),
    ],
    ids=["notJSON", "notRequest", "unknownCapability", "limit"],
)
def test_request_level_errors(jmap: Jmap, body: bytes, expected: dict[str, Any]) -> None:
    r = jmap.post("/jmap/", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/problem+json"
    problem = r.json()
    if "detail" not in expected:
        assert problem.pop("detail").startswith("The request did not parse as I-JSON")
    assert problem == expected


def test_request_too_large_is_refused_before_reading(jmap: Jmap) -> None:
    limit = jmap.session["capabilities"][JMAP_CORE]["maxSizeRequest"]
    big = b'{"using": [], "methodCalls": [], "pad": "' + b"x" * (limit + 1) + b'"}'
    r = jmap.post("/jmap/", data=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["limit"] == "maxSizeRequest"
    assert r.json()["type"] == "urn:ietf:params:jmap:error:limit"


# -- upload and download ----------------------------------------------------------------------
def test_upload_and_download(jmap: Jmap) -> None:
    data = bytes(range(256)) * 40
    r = jmap.post(
        f"/jmap/upload/{jmap.account_id}/", data=data, headers={"Content-Type": "image/png"}
    )
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["accountId"] == jmap.account_id
    assert up["type"] == "image/png" and up["size"] == len(data)
    assert up["blobId"].startswith("b") and len(up["blobId"]) == 65
    blob = up["blobId"]
    # Uploading the same bytes again gives the same id (content addressing).
    again = jmap.post(f"/jmap/upload/{jmap.account_id}/", data=data).json()
    assert again["blobId"] == blob and again["type"] == "application/octet-stream"

    url = f"/jmap/download/{jmap.account_id}/{blob}/r%C3%A9sum%C3%A9%20final.png?accept=image/png"
    r = jmap.get(url)
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["Content-Disposition"] == (
        "attachment; filename=\"r_sum_ final.png\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.png"
    )
    assert r.headers["Accept-Ranges"] == "bytes"
    # accept falls back to octet-stream when it is not a media type
    r = jmap.get(f"/jmap/download/{jmap.account_id}/{blob}/x.bin?accept=bogus")
    assert r.headers["Content-Type"] == "application/octet-stream"

    # Range requests (RFC 9110 §14)
    plain = f"/jmap/download/{jmap.account_id}/{blob}/x.bin?accept=application/octet-stream"
    r = jmap.get(plain, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    r = jmap.get(plain, headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = jmap.get(plain, headers={"Range": "bytes=10000-"})
    assert r.status_code == 206 and r.content == data[10000:]
    r = jmap.get(plain, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(data)}"
    r = jmap.get(plain, headers={"Range": "bytes=0-1,5-6"})  # multiple ranges: full content
    assert r.status_code == 200 and r.content == data


def test_download_not_found_and_other_accounts(jmap: Jmap) -> None:
    missing = "b" + "0" * 64
    assert jmap.get(f"/jmap/download/{jmap.account_id}/{missing}/x?accept=a/b").status_code == 404
    assert jmap.get(f"/jmap/download/{jmap.account_id}/junk/x?accept=a/b").status_code == 404
    up = jmap.post(f"/jmap/upload/{jmap.account_id}/", data=b"secret").json()
    # The admin account (a1) cannot be used by the demo user: no upload, no download.
    assert jmap.get(f"/jmap/download/a1/{up['blobId']}/x?accept=a/b").status_code == 404
    assert jmap.post("/jmap/upload/a1/", data=b"x").status_code == 404


def test_upload_too_large(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", {"STALWART_HTTP_MAX_UPLOAD_SIZE": "1000"})
    try:
        j = Jmap(srv)
        assert j.session["capabilities"][JMAP_CORE]["maxSizeUpload"] == 1000
        r = j.post(f"/jmap/upload/{j.account_id}/", data=b"x" * 1001)
        assert r.status_code == 413
        assert r.json() == {
            "type": "urn:ietf:params:jmap:error:limit",
            "status": 413,
            "detail": "The upload is larger than maxSizeUpload (1000 octets).",
            "limit": "maxSizeUpload",
        }
        assert j.post(f"/jmap/upload/{j.account_id}/", data=b"x" * 1000).status_code == 201
    finally:
        srv.stop()


def test_part_blob_download(jmap: Jmap) -> None:
    try:
        from protocols.jmap.mail.email_render import part_blob_id
    except ImportError:
        pytest.skip("protocols.jmap.mail.email_render is not available")
    headers = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n"
    body = (
        "--XX\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        "--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=a.bin\r\n\r\n"
        + base64.b64encode(b"\x00\x01attachment bytes").decode()
        + "\r\n--XX--\r\n"
    )
    jmap.deliver("part blob", body, headers)
    store = jmap.srv.store
    acct = int(jmap.account_id[1:])
    email = max(store.emails(acct), key=lambda e: e.id)
    from protocols.mime import parse_message

    attachment = parse_message(store.blob(email.blob)).attachments[0]
    blob = part_blob_id(email.blob, attachment)
    r = jmap.get(f"/jmap/download/{jmap.account_id}/{blob}/a.bin?accept=application/x-test")
    assert r.status_code == 200, r.text
    assert r.content == b"\x00\x01attachment bytes"
    assert r.headers["Content-Type"] == "application/x-test"
