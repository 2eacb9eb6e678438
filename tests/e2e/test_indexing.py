"""End to end: mail delivered over LMTP becomes searchable, and ``index rebuild`` restores it.

Runs for both full-text backends.  The index is queried with the backend-neutral AST of
:mod:`store.fts` on the running server's own index, after the indexer reports no lag.
"""

from __future__ import annotations

import logging
import shutil
import smtplib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from whoosh.reading import ReaderClosed

from stalwart_py import cli, exit_status
from stalwart_py.accounts import Directory
from stalwart_py.server import passwords_for
from store.fts import And, FtsIndex, Not, Phrase, Prefix, Query, Text, open_index
from tests.support import ServerThread, make_config, wait_until

T = TypeVar("T")

BACKENDS = ("tantivy", "whoosh")
ALICE = "alice@example.org"

BUDGET = (
    b"From: Carol Danvers <carol@remote.test>\r\n"
    b"To: Alice <alice@example.org>\r\n"
    b"Subject: Quarterly budget review\r\n"
    b"Message-ID: <budget@remote.test>\r\n"
    b"\r\n"
    b"Hello Alice,\r\n\r\n"
    b"the engineers were running several benchmarks on the new storage cluster last week,\r\n"
    b"and the results look promising for the coming quarter. Please read the figures\r\n"
    b"before our meeting on Thursday.\r\n"
)

INVOICE = (
    b"From: Billing Department <billing@shop.test>\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: Your order\r\n"
    b"Message-ID: <invoice@shop.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Thank you for shopping with us. The document is attached.\r\n"
    b"--b1\r\n"
    b'Content-Type: application/pdf; name="xylophone-invoice.pdf"\r\n'
    b'Content-Disposition: attachment; filename="xylophone-invoice.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\r\n"
    b"--b1--\r\n"
)

GARDEN = (
    b"From: <dave@garden.test>\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: Tomatoes\r\n"
    b"Message-ID: <garden@garden.test>\r\n"
    b"\r\n"
    b"The tomatoes in the greenhouse are ripe; come and pick some before they spoil.\r\n"
)

# query -> message ids (without brackets) it must find
QUERIES: list[tuple[Query, set[str]]] = [
    (Text("subject", "budget"), {"budget@remote.test"}),
    (Text("subject", "QUARTERLY Review"), {"budget@remote.test"}),
    (Text("body", "benchmarks"), {"budget@remote.test"}),
    (Text("body", "run"), {"budget@remote.test"}),  # stemmed: "running"
    (Text("body", "benchmark"), {"budget@remote.test"}),  # stemmed: "benchmarks"
    (Text("body", "tomato"), {"garden@garden.test"}),  # stemmed: "tomatoes"
    (Text("from", "carol"), {"budget@remote.test"}),
    (Text("from", "Danvers"), {"budget@remote.test"}),
    (Phrase("from", "carol@remote.test"), {"budget@remote.test"}),
    (Text("from", "billing"), {"invoice@shop.test"}),
    (Text("attachment", "xylophone"), {"invoice@shop.test"}),
    (Text("text", "xylophone"), {"invoice@shop.test"}),
    (Prefix("subject", "tomat"), {"garden@garden.test"}),
    (Text("body", "attached"), {"invoice@shop.test"}),
    (Text("body", "xylophone"), set()),  # the attachment name is not body text
    (Text("text", "nonexistentword"), set()),
    (
        And(Text("to", "alice"), Not(Text("subject", "budget"))),
        {"invoice@shop.test", "garden@garden.test"},
    ),
]


def deliver(port: int, message: bytes) -> None:
    with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
        assert client.sendmail("sender@remote.test", [ALICE], message) == {}


def ids_by_message_id(srv: ServerThread, acct: int) -> dict[str, int]:
    return {e.message_id: e.id for e in srv.store.emails(acct)}


def alice_with_mail(srv: ServerThread) -> tuple[int, dict[str, int]]:
    """Alice's account with the three test messages delivered and indexed; her message ids."""
    acct = Directory(srv.store, passwords_for(srv.cfg)).create_account(ALICE, "pw")
    for message in (BUDGET, INVOICE, GARDEN):
        deliver(srv.lmtp_port, message)
    wait_indexed(srv)
    return acct, ids_by_message_id(srv, acct)


def run_queries(index: FtsIndex, acct: int, ids: dict[str, int]) -> list[set[int]]:
    return [index.search(acct, q) for q, _ in QUERIES]


def expected(ids: dict[str, int]) -> list[set[int]]:
    return [{ids[m] for m in mids} for _, mids in QUERIES]


def live_index(srv: ServerThread) -> FtsIndex:
    assert srv.server is not None and srv.server.indexer is not None
    return srv.server.indexer.index


def stored_emails(srv: ServerThread) -> int:
    return sum(1 for p in srv.store.principals() for _ in srv.store.emails(p.id))


def wait_indexed(srv: ServerThread) -> float:
    """Seconds until the indexer has caught up: no lag and every stored email committed.

    ``Indexer.lag()`` alone is not enough: it reads cursors staged for the next commit, so it
    can report 0 a moment before that commit makes the documents searchable.  And the index is
    not thread-safe: a whoosh commit on the indexer thread can close the reader a concurrent
    ``lag()`` is using (``ReaderClosed``); that only means "not caught up yet" here.
    """
    assert srv.server is not None and srv.server.indexer is not None
    indexer = srv.server.indexer
    want = stored_emails(srv)

    def caught_up() -> bool:
        try:
            return indexer.lag() == 0 and indexer.index.count() == want
        except ReaderClosed:
            return False

    start = time.monotonic()
    wait_until(caught_up, timeout=10)
    return time.monotonic() - start


def settled(fn: Callable[[], T], want: T, timeout: float = 5.0) -> T:
    """``fn()`` once it returns ``want``, or its last value after ``timeout`` (for the diff).

    The live index is written by the indexer thread; a commit finishes a little after its
    documents become countable (the backend then refreshes its language list), so a search from
    the test thread right at that moment can miss stemmed matches.  Poll briefly.
    """

    def ok() -> bool:
        try:
            return bool(fn() == want)
        except ReaderClosed:
            return False

    try:
        wait_until(ok, timeout=timeout)
    except AssertionError:
        pass
    return fn()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def config_file(tmp_path: Path, backend: str) -> Path:
    path = tmp_path / "stalwart.toml"
    path.write_text(
        "[server]\n"
        f'data_dir = "{tmp_path / "data"}"\n'
        'hostname = "mx.test"\n'
        'default_domain = "example.org"\n'
        "[lmtp]\nport = 0\n"
        "[imap]\nport = 0\ntls_port = 0\n"
        "[http]\nport = 0\ntls_port = 0\n"
        "[search]\n"
        f'backend = "{backend}"\n'
        'commit_interval = "100ms"\n'
        "[auth]\nargon2_time_cost = 1\nargon2_memory_cost = 8192\nargon2_parallelism = 1\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def indexed_server(tmp_path: Path, backend: str) -> Iterator[ServerThread]:
    cfg = make_config(tmp_path / "data", {"STALWART_SEARCH_BACKEND": backend})
    srv = ServerThread(cfg).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_delivered_mail_is_searchable(indexed_server: ServerThread, backend: str) -> None:
    srv = indexed_server
    assert srv.cfg.search.backend == backend
    acct = Directory(srv.store, passwords_for(srv.cfg)).create_account(ALICE, "pw")
    for message in (BUDGET, INVOICE, GARDEN):
        deliver(srv.lmtp_port, message)
    lag = wait_indexed(srv)
    assert lag < 5.0
    ids = ids_by_message_id(srv, acct)
    assert set(ids) == {"budget@remote.test", "invoice@shop.test", "garden@garden.test"}
    index = live_index(srv)
    assert settled(lambda: run_queries(index, acct, ids), expected(ids)) == expected(ids)
    # Another account sees none of alice's mail.
    other = srv.store.principal_by_address("demo@example.org").id
    assert index.search(other, Text("subject", "budget")) == set()

    # New mail is picked up incrementally.
    deliver(srv.lmtp_port, GARDEN.replace(b"garden@garden.test", b"garden2@garden.test"))
    wait_indexed(srv)
    ids = ids_by_message_id(srv, acct)
    both = {ids["garden@garden.test"], ids["garden2@garden.test"]}
    assert settled(lambda: index.search(acct, Text("body", "greenhouse")), both) == both


def test_index_rebuild_restores_the_same_results(
    tmp_path: Path, config_file: Path, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from stalwart_py.config import load_config

    cfg = load_config(config_file, {})
    srv = ServerThread(cfg).start()
    try:
        acct, ids = alice_with_mail(srv)
        live = settled(lambda: run_queries(live_index(srv), acct, ids), expected(ids))
        assert live == expected(ids)

        # While the server holds the data directory, rebuild refuses clearly.
        assert cli.main(["index", "rebuild", "--config", str(config_file)]) == exit_status.USAGE
        assert "Stop the server first" in capsys.readouterr().err
    finally:
        srv.stop()

    # Lose the index entirely, then rebuild it from the store.
    shutil.rmtree(cfg.search.index_dir)
    assert cli.main(["index", "rebuild", "--config", str(config_file)]) == 0
    assert f"indexed 3 messages with {backend}" in capsys.readouterr().out

    index = open_index(backend, cfg.search.index_dir)
    try:
        assert run_queries(index, acct, ids) == live
        assert index.count() == 3
    finally:
        index.close()

    # A restarted server trusts the rebuilt index (no lag) and keeps indexing new mail.
    srv = ServerThread(cfg).start()
    try:
        assert srv.server is not None and srv.server.indexer is not None
        assert srv.server.indexer.lag() == 0
        deliver(srv.lmtp_port, GARDEN.replace(b"garden@garden.test", b"garden2@garden.test"))
        wait_indexed(srv)
        ids = ids_by_message_id(srv, acct)
        both = {ids["garden@garden.test"], ids["garden2@garden.test"]}
        query = Text("subject", "tomatoes")
        assert settled(lambda: live_index(srv).search(acct, query), both) == both
    finally:
        srv.stop()


def test_index_rebuild_from_environment(
    tmp_path: Path,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {
        "STALWART_SERVER_DATA_DIR": str(tmp_path / "data"),
        "STALWART_SERVER_DEFAULT_DOMAIN": "example.org",
        "STALWART_SEARCH_BACKEND": backend,
    }
    cfg = make_config(tmp_path / "data", env)
    srv = ServerThread(cfg).start()
    try:
        acct = Directory(srv.store, passwords_for(cfg)).create_account(ALICE, "pw")
        deliver(srv.lmtp_port, BUDGET)
        wait_indexed(srv)
    finally:
        srv.stop()
    # Stale index content must go: rebuild starts from an empty index.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["index", "rebuild"]) == 0
    assert f"indexed 1 messages with {backend}" in capsys.readouterr().out
    index = open_index(backend, cfg.search.index_dir)
    try:
        assert index.count() == 1
        assert len(index.search(acct, Text("body", "benchmark"))) == 1
    finally:
        index.close()


# What a damaged word index looks like on disk: its stamp intact, these files overwritten.
DAMAGE = {
    "tantivy": ("meta.json",),
    "whoosh": (".toc",),
}


@pytest.mark.parametrize("how", ["named files", "every file"])
def test_damaged_word_index_is_dropped_and_rebuilt(
    tmp_path: Path, backend: str, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The word index is derived data: index files that cannot be read (a crash mid-write, a
    bad disk, an overwrite) do not stop the server; the index is dropped with a warning and
    rebuilt from the store, and its queries answer as before."""
    cfg = make_config(tmp_path / "data", {"STALWART_SEARCH_BACKEND": backend})
    srv = ServerThread(cfg).start()
    try:
        acct, ids = alice_with_mail(srv)
    finally:
        srv.stop()
    damaged = [
        f
        for f in cfg.search.index_dir.iterdir()
        if f.is_file()
        and f.name != "stalwart-fts.json"
        and (how == "every file" or f.name.endswith(DAMAGE[backend]))
    ]
    assert damaged
    for f in damaged:
        f.write_bytes(b"garbage" * 100)
    with caplog.at_level(logging.WARNING, logger="store.fts.base"):
        srv = ServerThread(cfg).start()
    try:
        assert any("unreadable" in r.getMessage() for r in caplog.records)
        wait_indexed(srv)
        want = expected(ids)
        assert settled(lambda: run_queries(live_index(srv), acct, ids), want) == want
    finally:
        srv.stop()


ALTERNATIVE = (
    b"From: <erin@remote.test>\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: Both kinds\r\n"
    b"Message-ID: <both@remote.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="m"\r\n'
    b"\r\n"
    b"--m\r\n"
    b'Content-Type: multipart/alternative; boundary="a"\r\n'
    b"\r\n"
    b"--a\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Caf=C3=A9 and croissants\r\n"
    b"--a\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Caf&eacute; and <b>croissants</b></p>\r\n"
    b"--a--\r\n"
    b"--m\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b'Content-Disposition: attachment; filename="menu.txt"\r\n'
    b"\r\n"
    b"menu of the day\r\n"
    b"--m--\r\n"
)


def test_indexing_decodes_each_text_part_once(
    indexed_server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexing an email decodes each text part once for both the word index and the
    substring index (a 20 MB quoted-printable or HTML part takes seconds and hundreds of MB
    to decode: twice doubled both), and both still get every text."""
    from protocols.mime import content
    from stalwart_py.indexer import indexed_for

    srv = indexed_server
    acct = Directory(srv.store, passwords_for(srv.cfg)).create_account(ALICE, "pw")
    deliver(srv.lmtp_port, ALTERNATIVE)
    (email,) = srv.store.emails(acct)
    decoded: list[tuple[int, int]] = []
    real = content.decode_body

    def counting(raw: bytes, part: Any) -> bytes:
        decoded.append((part.body_start, part.body_end))
        return real(raw, part)

    monkeypatch.setattr(content, "decode_body", counting)
    indexed = indexed_for(srv.store, acct, email)
    assert indexed is not None
    assert len(decoded) == 3 and len(set(decoded)) == 3, decoded  # plain, HTML, attachment
    assert "Café and croissants" in indexed.document.body
    assert "menu of the day" in indexed.document.attachments
    assert indexed.text.body == ("café and croissants", "café and croissants", "menu of the day")
