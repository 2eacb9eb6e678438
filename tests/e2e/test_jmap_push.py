"""JMAP push against the real server: EventSource (RFC 8620 §7.3), WebSocket with push
(RFC 8887) and PushSubscription verification and delivery (§7.2) to a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.test_jmap_http import JMAP_CORE, Jmap, SseReader, WsClient, jmap

__all__ = ["jmap"]  # the module-scoped server fixture, shared


def email_state(j: Jmap) -> str:
    acct = j.srv.store.account(int(j.account_id[1:]))
    return str(acct.type_state("Email"))


# -- EventSource ------------------------------------------------------------------------------
def test_eventsource_push_after_lmtp_delivery(jmap: Jmap) -> None:
    sse = SseReader(jmap, "types=*&closeafter=no&ping=0")
    try:
        assert sse.response.status_code == 200
        assert sse.response.headers["Content-Type"] == "text/event-stream"
        assert sse.response.headers["Cache-Control"] == "no-cache"
        latencies = []
        for n in range(5):
            started = time.perf_counter()
            jmap.deliver(f"push {n}")
            while True:
                event = sse.next()
                states = event["json"]["changed"][jmap.account_id]
                if "Email" in states and states["Email"] == email_state(jmap):
                    break
            latencies.append(time.perf_counter() - started)
            assert event["event"] == "state"
            assert event["json"]["@type"] == "StateChange"
            assert {"Email", "Mailbox", "Thread", "EmailDelivery"} <= set(states)
            assert "imap" not in states and "PushSubscription" not in states
            assert event["id"].isdigit()
        print(
            f"EventSource latency LMTP->event: min {min(latencies) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms"
        )
        assert max(latencies) < 2.0
    finally:
        sse.close()


def test_eventsource_types_filter_ping_and_closeafter(jmap: Jmap) -> None:
    sse = SseReader(jmap, "types=Mailbox,EmailDelivery&closeafter=state&ping=1")
    try:
        ping = sse.next()
        assert ping["event"] == "ping" and ping["json"] == {"interval": 1}
        assert "id" not in ping  # §7.3: a ping MUST NOT set an id
        jmap.deliver("filtered")
        event = sse.next()
        while event["event"] == "ping":
            event = sse.next()
        assert set(event["json"]["changed"][jmap.account_id]) == {"Mailbox", "EmailDelivery"}
        assert sse.ended()  # closeafter=state ends the response after one state event
    finally:
        sse.close()


def test_eventsource_resumes_from_last_event_id(jmap: Jmap) -> None:
    sse = SseReader(jmap, "types=Email&closeafter=state&ping=0")
    jmap.deliver("before reconnect")
    first = sse.next()
    sse.close()
    missed_state = email_state(jmap)
    jmap.deliver("while away")
    resumed = SseReader(
        jmap, "types=Email&closeafter=state&ping=0", headers={"Last-Event-ID": first["id"]}
    )
    try:
        event = resumed.next()  # sent at once: the change happened while disconnected
        assert event["json"]["changed"][jmap.account_id]["Email"] == email_state(jmap)
        assert email_state(jmap) != missed_state
    finally:
        resumed.close()


def test_eventsource_bad_parameters(jmap: Jmap) -> None:
    r = jmap.get("/jmap/eventsource/?types=*&closeafter=maybe&ping=0")
    assert r.status_code == 400
    r = jmap.get("/jmap/eventsource/?types=*&closeafter=no&ping=-1")
    assert r.status_code == 400


# -- WebSocket --------------------------------------------------------------------------------
def test_websocket_requests_and_errors(jmap: Jmap) -> None:
    ws = WsClient(jmap)
    try:
        assert ws.accepted and ws.subprotocol == "jmap"
        ws.send(
            {
                "@type": "Request",
                "id": "r1",
                "using": [JMAP_CORE],
                "methodCalls": [["Core/echo", {"x": 1}, "c0"]],
            }
        )
        reply = ws.recv()
        assert reply == {
            "@type": "Response",
            "requestId": "r1",
            "methodResponses": [["Core/echo", {"x": 1}, "c0"]],
            "sessionState": jmap.session["state"],
        }
        ws.send("{oops")
        error = ws.recv()
        assert error["@type"] == "RequestError"
        assert error["type"] == "urn:ietf:params:jmap:error:notJSON" and error["status"] == 400
        ws.send({"@type": "Request", "id": "r2", "using": ["urn:x"], "methodCalls": []})
        error = ws.recv()
        assert error["requestId"] == "r2"
        assert error["type"] == "urn:ietf:params:jmap:error:unknownCapability"
        ws.send({"@type": "Nonsense", "id": "r3"})
        error = ws.recv()
        assert error["type"] == "urn:ietf:params:jmap:error:notRequest"
        assert error["requestId"] == "r3"
    finally:
        ws.close()


def test_websocket_handshake_refusals(jmap: Jmap) -> None:
    no_subprotocol = WsClient(jmap, subprotocols=())
    assert not no_subprotocol.accepted and no_subprotocol.status == 400
    no_subprotocol.close()
    bad_auth = WsClient(jmap, auth="Basic eDp5")
    assert not bad_auth.accepted and bad_auth.status == 401
    bad_auth.close()


def test_websocket_push(jmap: Jmap) -> None:
    ws = WsClient(jmap)
    try:
        ws.send({"@type": "WebSocketPushEnable", "dataTypes": ["Email"]})
        started = time.perf_counter()
        jmap.deliver("ws push")
        change = ws.recv()
        latency = time.perf_counter() - started
        assert change["@type"] == "StateChange"
        assert change["changed"] == {jmap.account_id: {"Email": email_state(jmap)}}
        push_state = change["pushState"]
        print(f"WebSocket push latency LMTP->StateChange: {latency * 1000:.1f} ms")
        assert latency < 2.0
        # Requests still work while push is on.
        ws.send({"@type": "Request", "using": [JMAP_CORE], "methodCalls": [["Core/echo", {}, "e"]]})
        assert ws.recv()["methodResponses"] == [["Core/echo", {}, "e"]]
        ws.send({"@type": "WebSocketPushDisable"})
        ws.send({"@type": "Request", "id": "sync", "using": [JMAP_CORE], "methodCalls": []})
        assert ws.recv()["requestId"] == "sync"
        jmap.deliver("no push now")
        ws.send({"@type": "Request", "id": "after", "using": [JMAP_CORE], "methodCalls": []})
        assert ws.recv()["requestId"] == "after"  # no StateChange came before it
        # Re-enabling with the old pushState sends what was missed at once (RFC 8887 §4.3.5).
        ws.send({"@type": "WebSocketPushEnable", "dataTypes": None, "pushState": push_state})
        missed = ws.recv()
        assert missed["@type"] == "StateChange"
        assert missed["changed"][jmap.account_id]["Email"] == email_state(jmap)
    finally:
        ws.close()


# -- PushSubscription -------------------------------------------------------------------------
class Receiver:
    """An HTTP receiver for pushes on 127.0.0.1; answers ``fail_first`` requests with 503."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.fail_first = fail_first
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                assert self.headers["Content-Type"] == "application/json"
                assert self.headers["TTL"] == "43200"
                if receiver.requests <= receiver.fail_first:
                    self.send_response(503)
                else:
                    receiver.bodies.put((time.perf_counter(), json.loads(body)))
                    self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/push/x?y=1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def next(self, timeout: float = 10.0) -> dict[str, Any]:
        return self.bodies.get(timeout=timeout)[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def push_set(jmap: Jmap, args: dict[str, Any]) -> dict[str, Any]:
    [(name, result, _)] = jmap.call(["PushSubscription/set", args, "p"])
    assert name == "PushSubscription/set", result
    return dict(result)


def test_push_subscription_verification_and_delivery(jmap: Jmap, receiver: Receiver) -> None:
    created = push_set(
        jmap,
        {"create": {"k1": {"deviceClientId": "dev-1", "url": receiver.url, "types": ["Email"]}}},
    )["created"]["k1"]
    sub_id = created["id"]
    assert created["expires"].endswith("Z")  # the server set an expiry (at most 7 days)
    verification = receiver.next()
    assert verification["@type"] == "PushVerification"
    assert verification["pushSubscriptionId"] == sub_id
    code = verification["verificationCode"]

    # Nothing is pushed before the client proves it received the code.
    jmap.deliver("before verification")
    with pytest.raises(queue.Empty):
        receiver.next(timeout=0.5)

    wrong = push_set(jmap, {"update": {sub_id: {"verificationCode": "nope"}}})
    assert wrong["notUpdated"][sub_id]["type"] == "invalidProperties"
    assert push_set(jmap, {"update": {sub_id: {"verificationCode": code}}})["updated"] == {
        sub_id: None
    }

    [(_, got, _)] = jmap.call(["PushSubscription/get", {"ids": None}, "g"])
    mine = next(s for s in got["list"] if s["id"] == sub_id)
    assert mine == {
        "id": sub_id,
        "deviceClientId": "dev-1",
        "verificationCode": code,
        "expires": created["expires"],
        "types": ["Email"],
    }
    [(kind, err, _)] = jmap.call(["PushSubscription/get", {"properties": ["url"]}, "g"])
    assert kind == "error" and err["type"] == "forbidden"

    started = time.perf_counter()
    jmap.deliver("after verification")
    change = receiver.next()
    print(f"PushSubscription latency LMTP->POST: {(time.perf_counter() - started) * 1000:.1f} ms")
    assert change == {
        "@type": "StateChange",
        "changed": {jmap.account_id: {"Email": email_state(jmap)}},
    }
    destroyed = push_set(jmap, {"destroy": [sub_id]})
    assert destroyed["destroyed"] == [sub_id]
    jmap.deliver("after destroy")
    with pytest.raises(queue.Empty):
        receiver.next(timeout=0.5)


def test_push_subscription_rejections(jmap: Jmap) -> None:
    result = push_set(
        jmap,
        {
            "create": {
                "plain": {"deviceClientId": "d", "url": "http://example.com/push"},
                "code": {
                    "deviceClientId": "d",
                    "url": "https://example.com/push",
                    "verificationCode": "x",
                },
                "past": {
                    "deviceClientId": "d",
                    "url": "https://example.com/push",
                    "expires": "2001-01-01T00:00:00Z",
                },
                "nodevice": {"url": "https://example.com/push"},
            }
        },
    )
    assert result["created"] is None
    errors = result["notCreated"]
    assert errors["plain"]["properties"] == ["url"]
    assert errors["code"]["properties"] == ["verificationCode"]
    assert errors["past"]["properties"] == ["expires"]
    assert errors["nodevice"]["properties"] == ["deviceClientId"]
    assert all(e["type"] == "invalidProperties" for e in errors.values())


def test_push_delivery_retries(jmap: Jmap) -> None:
    receiver = Receiver(fail_first=1)  # the PushVerification is refused once, then retried
    try:
        created = push_set(
            jmap, {"create": {"r": {"deviceClientId": "dev-2", "url": receiver.url}}}
        )["created"]["r"]
        started = time.perf_counter()
        verification = receiver.next(timeout=10)
        waited = time.perf_counter() - started
        assert verification["pushSubscriptionId"] == created["id"]
        assert receiver.requests == 2
        assert waited >= 0.9  # the first backoff step is 1 s
        push_set(jmap, {"destroy": [created["id"]]})
    finally:
        receiver.close()
