"""Issue 10 acceptance: the whole server runs through a second write log that encodes each group
with the real wire codec, applies it on another thread after a delay and records it; a second,
empty store fed the same records ends with the same key/value pairs (the derived full-text
index excepted: it is not in the store), after LMTP deliveries including a 10 MiB message,
IMAP APPEND/STORE/EXPUNGE/MOVE and JMAP Email/set, upload and Email/import.  Every recorded group
is at most 64 KiB: blob bytes travel beside the batches, never in them (store/blobs.py)."""

from __future__ import annotations

import base64
import imaplib
import json
import queue
import smtplib
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio

from store import ApplyResult, Batch, Store
from store.codec import pack, unpack
from store.writelog import Effect
from tests.support import ServerThread, make_config

MAX_GROUP = 64 * 1024
DELAY = 0.003  # seconds between taking a group and applying it


@dataclass
class _Proposal:
    batch: Batch
    done: threading.Event = field(default_factory=threading.Event)
    result: ApplyResult | None = None
    error: BaseException | None = None


class ReplayLog:
    """A write log that behaves like a replicated one: a proposal is encoded with the wire codec
    (``Batch.encode``), the proposals queued meanwhile form one group, and one applier thread,
    after a delay, decodes the group and applies it in order, recording its encoded form."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.records: list[bytes] = []
        self._queue: queue.Queue[_Proposal | None] = queue.Queue()
        self._thread = threading.Thread(target=self._apply_loop, daemon=True)
        self._thread.start()

    async def propose(self, batch: Batch) -> ApplyResult:
        proposal = _Proposal(batch)
        self._queue.put(proposal)
        await trio.to_thread.run_sync(proposal.done.wait)
        if proposal.error is not None:
            raise proposal.error
        assert proposal.result is not None
        return proposal.result

    async def wait_applied(self, index: int) -> None:
        while self.store.applied_index < index:
            await trio.sleep(0.001)

    @property
    def applied_index(self) -> int:
        return self.store.applied_index

    def once_per_cluster(self, effect: Effect) -> bool:
        return True

    def _apply_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while not self._queue.empty():
                more = self._queue.get()
                if more is None:
                    self._queue.put(None)
                    break
                group.append(more)
            record = pack([p.batch.encode() for p in group])  # what a replicated log carries
            time.sleep(DELAY)
            self.records.append(record)
            for proposal, encoded in zip(group, unpack(record), strict=True):
                decoded = Batch.decode(encoded)
                try:
                    # The blob bytes went ahead of the batch (a cluster copies them to a quorum).
                    proposal.result = self.store.write(
                        Batch(decoded.ops, decoded.now, proposal.batch.blobs, decoded.request_id)
                    )
                except BaseException as exc:  # answered to the proposer, as a log would
                    proposal.error = exc
                proposal.done.set()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(10)


@dataclass
class Env:
    server: ServerThread
    log: ReplayLog
    user: str
    password: str


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    cfg = make_config(tmp_path / "data", {"STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "true"})
    srv = ServerThread(cfg, write_log_for=ReplayLog).start()
    log: ReplayLog = srv.log
    try:
        assert srv.server is not None
        # The first accounts were created through the log too (bootstrap).
        demo = next(c for c in srv.server.credentials if c.role != "admin")
        yield Env(srv, log, demo.email, demo.password)
    finally:
        srv.stop()
        log.stop()


def message(n: int, size: int = 0) -> bytes:
    head = f"From: s{n}@remote.test\r\nSubject: replay {n}\r\nMessage-ID: <r{n}@remote.test>\r\n"
    body = (b"line of text\r\n" * (size // 14 + 1))[:size] if size else f"body {n}\r\n".encode()
    return head.encode() + b"\r\n" + body


def deliver(env: Env, data: bytes) -> None:
    with smtplib.LMTP("127.0.0.1", env.server.lmtp_port, timeout=60) as client:
        client.sendmail("s@remote.test", [env.user], data)


def jmap(env: Env, path: str, body: bytes, content_type: str) -> dict[str, object]:
    assert env.server.server is not None
    auth = base64.b64encode(f"{env.user}:{env.password}".encode()).decode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{env.server.server.ports['http']}{path}",
        data=body,
        headers={"Authorization": f"Basic {auth}", "Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def api(env: Env, account: str, *calls: tuple[str, dict[str, Any]]) -> list[Any]:
    body = {
        "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
        "methodCalls": [
            [c[0], {"accountId": account, **c[1]}, str(i)] for i, c in enumerate(calls)
        ],  # type: ignore[dict-item]
    }
    answer = jmap(env, "/jmap/", json.dumps(body).encode(), "application/json")
    responses: list[Any] = answer["methodResponses"]  # type: ignore[assignment]
    assert all(r[0] != "error" for r in responses), responses
    return responses


def test_a_second_store_fed_the_records_ends_identical(env: Env, tmp_path: Path) -> None:
    # LMTP, a 10 MiB message among them.
    for n in range(3):
        deliver(env, message(n))
    deliver(env, message(99, size=10 * 1024 * 1024))

    # IMAP: APPEND, STORE, EXPUNGE, MOVE (and CREATE for the target).
    assert env.server.server is not None
    imap = imaplib.IMAP4("127.0.0.1", env.server.server.ports["imap"], timeout=30)
    imap.login(env.user, env.password)
    assert imap.append("INBOX", r"(\Seen)", None, message(10))[0] == "OK"
    assert imap.create("Projects")[0] == "OK"
    imap.select("INBOX")
    assert imap.store("1", "+FLAGS", r"(\Flagged $Work)")[0] == "OK"
    assert imap.store("2", "+FLAGS", r"(\Deleted)")[0] == "OK"
    assert imap.expunge()[0] == "OK"
    assert imap.uid("MOVE", "3", "Projects")[0] == "OK"
    imap.logout()

    # JMAP: Email/set create and update, an upload and Email/import of it.
    principal = env.server.store.principal_by_address(env.user)
    account = f"a{principal.id}"
    mailboxes = api(env, account, ("Mailbox/get", {"properties": ["role"]}))
    inbox = next(m["id"] for m in mailboxes[0][1]["list"] if m["role"] == "inbox")  # type: ignore[index]
    created = api(
        env,
        account,
        (
            "Email/set",
            {
                "create": {
                    "d": {
                        "mailboxIds": {inbox: True},
                        "subject": "draft",
                        "textBody": [{"partId": "1", "type": "text/plain"}],
                        "bodyValues": {"1": {"value": "hello"}},
                    }
                }
            },
        ),
    )
    draft = created[0][1]["created"]["d"]["id"]  # type: ignore[index]
    api(env, account, ("Email/set", {"update": {draft: {"keywords/$flagged": True}}}))
    upload = jmap(env, f"/jmap/upload/{account}/", message(20), "message/rfc822")
    api(
        env,
        account,
        (
            "Email/import",
            {"emails": {"i": {"blobId": upload["blobId"], "mailboxIds": {inbox: True}}}},
        ),
    )

    records = list(env.log.records)
    env.server.stop()
    env.log.stop()

    assert records and all(len(r) <= MAX_GROUP for r in records), max(map(len, records))
    original = Store(env.server.cfg.server.data_dir / "db")
    try:
        expected = original.dump()
    finally:
        original.close()
    replica = Store(tmp_path / "replica")
    try:
        for record in records:
            for encoded in unpack(record):
                replica.write(Batch.decode(encoded))
        assert replica.dump() == expected
    finally:
        replica.close()
