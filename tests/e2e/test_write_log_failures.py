"""Issue 10 §1: every protocol maps the write log's two failures — ``Unavailable`` (no quorum:
nothing happened) and ``UnknownOutcome`` (it may have happened) — to its own reply, over real
sockets and real clients, with an in-test write log in the server: LMTP ``451 4.3.0`` (RFC 5321
§4.2.5 transient), IMAP ``NO [UNAVAILABLE]`` (RFC 5530 §3), JMAP ``serverUnavailable`` /
``serverPartialFail`` (RFC 8620 §3.6.2).  After the log recovers, the same commands succeed."""

from __future__ import annotations

import base64
import imaplib
import json
import smtplib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stalwart_py.accounts import Directory
from stalwart_py.datadir import passwords_for
from stalwart_py.storage import LocalWriteLog
from store import ApplyResult, Batch, MailError
from store.writelog import Unavailable, UnknownOutcome
from tests.support import ServerThread, make_config

MESSAGE = b"From: a@remote.test\r\nSubject: log\r\nMessage-ID: <log@remote.test>\r\n\r\nbody\r\n"


class SwitchableLog(LocalWriteLog):
    """The store's log, made to fail on demand: ``Unavailable`` before writing, and
    ``UnknownOutcome`` after writing (the batch was applied; the proposer is not told)."""

    failure: MailError | None = None

    async def propose(self, batch: Batch) -> ApplyResult:
        failure = self.failure
        if isinstance(failure, UnknownOutcome):
            await super().propose(batch)
        if failure is not None:
            raise failure
        return await super().propose(batch)


@dataclass
class Env:
    server: ServerThread
    log: SwitchableLog

    def fail(self, failure: MailError | None) -> None:
        self.log.failure = failure


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    cfg = make_config(tmp_path / "data", {"STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "true"})
    srv = ServerThread(cfg, write_log_for=SwitchableLog).start()
    try:
        Directory(srv.store, passwords_for(srv.cfg)).create_account("alice@example.org", "pw")
        yield Env(srv, srv.log)
    finally:
        srv.stop()


FAILURES = [
    pytest.param(Unavailable(), id="unavailable"),
    pytest.param(UnknownOutcome(), id="unknown-outcome"),
]


@pytest.mark.parametrize("failure", FAILURES)
def test_lmtp_answers_451_per_recipient(env: Env, failure: MailError) -> None:
    env.fail(failure)
    with smtplib.LMTP("127.0.0.1", env.server.lmtp_port, timeout=10) as client:
        client.ehlo("mta.test")
        client.mail("a@remote.test")
        client.rcpt("alice@example.org")
        code, reply = client.docmd("DATA")
        assert code == 354
        client.send(MESSAGE + b".\r\n")
        code, reply = client.getreply()
        assert (code, reply[:5]) == (451, b"4.3.0"), reply
        env.fail(None)  # the MTA retries in the same session: delivered
        client.rset()
        client.mail("a@remote.test")
        client.rcpt("alice@example.org")
        code, _ = client.docmd("DATA")
        client.send(MESSAGE + b".\r\n")
        code, reply = client.getreply()
        assert code == 250, reply


def _imap(env: Env) -> imaplib.IMAP4:
    assert env.server.server is not None
    client = imaplib.IMAP4("127.0.0.1", env.server.server.ports["imap"], timeout=10)
    client.login("alice@example.org", "pw")
    return client


@pytest.mark.parametrize("failure", FAILURES)
def test_imap_answers_no_unavailable(env: Env, failure: MailError) -> None:
    client = _imap(env)
    try:
        client.append("INBOX", "", None, MESSAGE)
        client.select("INBOX")
        env.fail(failure)
        for run in (
            lambda: client.append("INBOX", "", None, MESSAGE),
            lambda: client.store("1", "+FLAGS", r"(\Flagged)"),
            lambda: client.create("Projects"),
        ):
            typ, data = run()
            assert typ == "NO" and data[0].startswith(b"[UNAVAILABLE]"), (typ, data)
        assert client.noop()[0] == "OK"  # the session goes on
        env.fail(None)
        assert client.store("1", "+FLAGS", r"(\Flagged)")[0] == "OK"
    finally:
        client.logout()


def _jmap(env: Env, body: dict[str, object]) -> dict[str, object]:
    assert env.server.server is not None
    port = env.server.server.ports["http"]
    auth = base64.b64encode(b"alice@example.org:pw").decode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/jmap/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _create_mailbox(env: Env, name: str) -> list[object]:
    session = _jmap(
        env,
        {"using": ["urn:ietf:params:jmap:core"], "methodCalls": [["Core/echo", {}, "0"]]},
    )
    assert session["methodResponses"]
    acct = "a" + str(env.server.store.principal_by_address("alice@example.org").id)
    answer = _jmap(
        env,
        {
            "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
            "methodCalls": [
                ["Mailbox/set", {"accountId": acct, "create": {"n": {"name": name}}}, "0"]
            ],
        },
    )
    return answer["methodResponses"][0]  # type: ignore[index,no-any-return]


@pytest.mark.parametrize(
    ("failure", "error_type"),
    [
        pytest.param(Unavailable(), "serverUnavailable", id="unavailable"),
        pytest.param(UnknownOutcome(), "serverPartialFail", id="unknown-outcome"),
    ],
)
def test_jmap_answers_server_unavailable_or_partial_fail(
    env: Env, failure: MailError, error_type: str
) -> None:
    env.fail(failure)
    name, args, _ = _create_mailbox(env, "Projects")
    assert (name, args["type"]) == ("error", error_type), args  # type: ignore[index]
    env.fail(None)
    name, args, _ = _create_mailbox(env, "Later")
    assert name == "Mailbox/set" and "n" in args["created"], args  # type: ignore[index,operator]
