"""Issue 10 §3: effects that must happen once per cluster go through one guard
(``WriteLog.once_per_cluster``).  A node whose log answers no — a follower, once the cluster
exists — creates no first-start accounts, proposes no janitor batch and sends no push
StateChange, while it still serves and applies everything; a node answering yes does all three
(the control, and the existing push tests)."""

from __future__ import annotations

import base64
import json
import queue
import smtplib
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stalwart_py.accounts import Directory
from stalwart_py.datadir import passwords_for
from stalwart_py.storage import LocalWriteLog
from store import ApplyResult, Batch, Store
from store.batch import ExpireBlobs
from store.models import INDIVIDUAL
from store.writelog import Effect
from tests.e2e.test_jmap_push import Receiver
from tests.support import ServerThread, make_config


class GuardedLog(LocalWriteLog):
    """The store's log, with a fixed answer to the once-per-cluster question."""

    def __init__(self, store: Store, leader: bool) -> None:
        super().__init__(store)
        self.leader = leader
        self.asked: list[Effect] = []
        self.proposed: list[Batch] = []

    async def propose(self, batch: Batch) -> ApplyResult:
        self.proposed.append(batch)
        return await super().propose(batch)

    def once_per_cluster(self, effect: Effect) -> bool:
        self.asked.append(effect)
        return self.leader


def start(tmp_path: Path, leader: bool) -> tuple[ServerThread, GuardedLog]:
    srv = ServerThread(
        make_config(tmp_path / "data"), write_log_for=lambda store: GuardedLog(store, leader)
    ).start()
    return srv, srv.log


@pytest.fixture(params=[True, False], ids=["leader", "follower"])
def node(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServerThread, GuardedLog]]:
    srv, log = start(tmp_path, request.param)
    try:
        yield srv, log
    finally:
        srv.stop()


def _janitor_batches(log: GuardedLog) -> list[Batch]:
    return [b for b in log.proposed if any(isinstance(op, ExpireBlobs) for op in b.ops)]


def test_bootstrap_and_janitor_run_only_where_the_guard_says_so(
    node: tuple[ServerThread, GuardedLog],
) -> None:
    srv, log = node
    assert srv.server is not None
    deadline = time.monotonic() + 5
    while Effect.JANITOR not in log.asked and time.monotonic() < deadline:
        time.sleep(0.02)
    assert {Effect.BOOTSTRAP, Effect.JANITOR} <= set(log.asked)
    individuals = [p for p in srv.store.principals() if p.kind == INDIVIDUAL]
    initial = srv.cfg.server.data_dir / "initial-passwords"
    if log.leader:
        assert len(srv.server.credentials) == 2 and len(individuals) == 2 and initial.exists()
        assert len(_janitor_batches(log)) == 1
    else:
        assert srv.server.credentials == [] and individuals == [] and not initial.exists()
        assert _janitor_batches(log) == []


def _call(srv: ServerThread, user: str, *calls: list[Any]) -> list[Any]:
    assert srv.server is not None
    auth = base64.b64encode(f"{user}:pw".encode()).decode()
    body = {
        "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
        "methodCalls": list(calls),
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{srv.server.ports['http']}/jmap/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["methodResponses"]  # type: ignore[no-any-return]


def test_push_state_changes_are_sent_only_where_the_guard_says_so(
    node: tuple[ServerThread, GuardedLog],
) -> None:
    srv, log = node
    directory = Directory(srv.store, passwords_for(srv.cfg))
    directory.ensure_domain("example.org")  # a follower has not bootstrapped one
    directory.create_account("bob@example.org", "pw")
    receiver = Receiver()
    try:
        [(_, created, _)] = _call(
            srv,
            "bob@example.org",
            [
                "PushSubscription/set",
                {"create": {"k": {"deviceClientId": "d", "url": receiver.url}}},
                "0",
            ],
        )
        sub_id = created["created"]["k"]["id"]
        # The verification answers the request on the node that took it: it is sent anyway.
        code = receiver.next()["verificationCode"]
        _call(
            srv,
            "bob@example.org",
            ["PushSubscription/set", {"update": {sub_id: {"verificationCode": code}}}, "1"],
        )
        with smtplib.LMTP("127.0.0.1", srv.lmtp_port, timeout=10) as lmtp:
            lmtp.sendmail("a@remote.test", ["bob@example.org"], b"Subject: x\r\n\r\nbody\r\n")
        if log.leader:
            assert receiver.next()["@type"] == "StateChange"
        else:
            with pytest.raises(queue.Empty):
                receiver.next(timeout=1.0)
            assert Effect.PUSH in log.asked
    finally:
        receiver.close()
