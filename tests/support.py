"""Shared test helpers: configuration, a real server in a background thread, waiting."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from protocols.mime import parse_message
from stalwart_py.config import Config, load_config
from stalwart_py.server import Server
from store import Batch, Store
from store.batch import CreateDomain, CreatePrincipal

REPO = Path(__file__).resolve().parents[1]

# The MIME corpus (107 messages from the test resources of stalwartlabs/mail-parser) lives in the
# project's workspace beside the repository; a clone elsewhere points at a copy with this variable.
CORPUS_ENV = "STALWART_TEST_CORPUS"


def corpus_dir(env: Mapping[str, str] = os.environ) -> Path:
    given = env.get(CORPUS_ENV, "")
    if given:
        return Path(given).expanduser().absolute()
    return REPO.parent / "shared" / "corpus" / "mime"


CORPUS = corpus_dir()
CORPUS_MISSING = (
    f"MIME corpus not found at {CORPUS}: set {CORPUS_ENV} to the corpus directory "
    "(README, 'Running the tests')"
)


def require_corpus() -> Path:
    """The corpus directory; skips the calling test, saying why, when it is not there.  (An
    async test uses ``@needs_corpus``: a skip raised inside trio loses its reason.)"""
    if not CORPUS.is_dir():
        pytest.skip(CORPUS_MISSING)
    return CORPUS


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_MISSING)


# Cheap password hashing so that tests do not spend seconds in argon2.
FAST_AUTH = {
    "STALWART_AUTH_ARGON2_TIME_COST": "1",
    "STALWART_AUTH_ARGON2_MEMORY_COST": "8192",
    "STALWART_AUTH_ARGON2_PARALLELISM": "1",
}


def make_config(data_dir: Path, overrides: Mapping[str, str] | None = None) -> Config:
    """A configuration on ``data_dir`` with ephemeral ports; ``overrides`` are STALWART_* vars."""
    env = {
        "STALWART_SERVER_DATA_DIR": str(data_dir),
        "STALWART_SERVER_HOSTNAME": "mx.test",
        "STALWART_SERVER_DEFAULT_DOMAIN": "example.org",
        "STALWART_LMTP_PORT": "0",
        "STALWART_IMAP_PORT": "0",
        "STALWART_IMAP_TLS_PORT": "0",
        "STALWART_HTTP_PORT": "0",
        "STALWART_HTTP_TLS_PORT": "0",
        "STALWART_SEARCH_COMMIT_INTERVAL": "0.1s",
        **FAST_AUTH,
    }
    env.update(overrides or {})
    return load_config(None, env)


class ServerThread:
    """Runs :class:`Server` with its own trio loop in a thread; blocking clients talk to it."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.server: Server | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._cancel: trio.CancelScope | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._thread = threading.Thread(target=self._thread_main, daemon=True)

    def _thread_main(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # surfaced by start()/stop()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        async with trio.open_nursery() as nursery:
            self.server = await nursery.start(Server(self.cfg).run)
            self._cancel = nursery.cancel_scope
            self._token = trio.lowlevel.current_trio_token()
            self._ready.set()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        assert self.server is not None, "server did not start within 30 s"
        return self

    def stop(self) -> None:
        if self._token is not None and self._cancel is not None and self._thread.is_alive():
            self._token.run_sync_soon(self._cancel.cancel)
        self._thread.join(30)
        assert not self._thread.is_alive(), "server did not stop within 30 s"
        if self._error is not None:
            raise self._error

    @property
    def lmtp_port(self) -> int:
        assert self.server is not None
        return self.server.ports["lmtp"]

    @property
    def store(self) -> Any:
        assert self.server is not None and self.server.store is not None
        return self.server.store

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs an async function on the server's loop from a test thread."""
        assert self._token is not None
        return trio.from_thread.run(fn, *args, trio_token=self._token)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def two_account_store(path: Path, now: int = 1) -> Store:
    """A store at ``path`` with domain example.org and individuals a@ and b@ there (accounts 1
    and 2), each with an inbox (mailbox 1).  The caller closes it."""
    inbox = ("Inbox", "inbox", 1, True)  # name, role, sort order, subscribed
    store = Store(path)
    store.write(
        Batch(
            (
                CreateDomain("example.org"),
                CreatePrincipal("individual", "a", ("a@example.org",), "", 0, mailboxes=(inbox,)),
                CreatePrincipal("individual", "b", ("b@example.org",), "", 0, mailboxes=(inbox,)),
            ),
            now=now,
        )
    )
    return store


def crlf_reference(raw: bytes) -> bytes:
    """What is stored of ``raw`` (RFC 5322 §2.3): every LF, CR or CR-run-then-LF becomes CRLF,
    except inside the bodies of parts in the binary transfer encoding (RFC 2045 §6.2), which
    the parser locates in ``raw``."""
    binary = sorted(
        (p.body_start, p.body_end)
        for p in parse_message(raw).root.walk()
        if not p.parts and p.encoding == "binary"
    )
    out, pos = [], 0
    for start, end in binary:
        out += [re.sub(rb"\r*\n|\r", b"\r\n", raw[pos:start]), raw[start:end]]
        pos = end
    return b"".join([*out, re.sub(rb"\r*\n|\r", b"\r\n", raw[pos:])])
