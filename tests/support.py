"""Shared test helpers: configuration, a real server in a background thread, waiting."""

from __future__ import annotations

import email
import email.message
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from stalwart_py.config import Config, load_config
from stalwart_py.server import Server
from store import Batch, Store
from store.batch import CreateDomain, CreatePrincipal
from store.writelog import WriteLog

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

    def __init__(
        self, cfg: Config, write_log_for: Callable[[Store], WriteLog] | None = None
    ) -> None:
        self.cfg = cfg
        self.write_log_for = write_log_for
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
            server = Server(self.cfg)
            if self.write_log_for is not None:
                server.write_log_for = self.write_log_for
            self.server = await nursery.start(server.run)
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
    def log(self) -> Any:
        """The running server's write log (the one ``write_log_for`` made, if given)."""
        assert self.server is not None and self.server.log is not None
        return self.server.log

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


# -- line ends of what is stored (RFC 5322 §2.3) --------------------------------------------------

PROBE_BINARY = bytes(range(256)) * 4  # raw octets: every CR and LF in it is data


def probe_message(encoding: bytes, text: bytes = b"hello\r\nworld") -> bytes:
    """A message with CRLF line ends whose part 2 holds raw binary (``PROBE_BINARY``) under a
    line-oriented transfer encoding (``b"8bit"``, ``b"7bit"``) or none (``b""``): not what
    RFC 2045 §2.7/§2.8 allow, but common.  Part 1 is text/plain ``text``."""
    cte = b"Content-Transfer-Encoding: " + encoding + b"\r\n" if encoding else b""
    return (
        b"From: a@remote.test\r\nSubject: probe\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/plain\r\n\r\n" + text + b"\r\n"
        b"--XX\r\nContent-Type: application/octet-stream\r\n"
        + cte
        + b"\r\n"
        + PROBE_BINARY
        + b"\r\n--XX--\r\n"
    )


BARE_LINE_END = re.compile(rb"\r(?!\n)|(?<!\r)\n")
LINE_END_OCTETS = re.compile(rb"[\r\n]")
_EMBEDDED = ("message/rfc822", "message/global")


def _leaves(msg: email.message.Message, in_lines: bool = False) -> Iterator[tuple[Any, bool]]:
    """Every leaf part Python's email package finds, and whether it is the header-like content
    of a message/* part other than an embedded message (RFC 2046 §5.2: lines)."""
    if not msg.is_multipart():
        yield msg, in_lines
        return
    mime_type = msg.get_content_type()
    lines = in_lines or (msg.get_content_maintype() == "message" and mime_type not in _EMBEDDED)
    for sub in msg.get_payload():
        yield from _leaves(sub, lines)


def check_stored_form(sent: bytes, stored: bytes, label: str = "") -> None:
    """What is stored of ``sent`` keeps its content and has CRLF lines (RFC 5322 §2.3), judged
    by Python's email package, not by our parser or our conversion rule:

    - the two differ in CR and LF octets only, and Python finds the same parts in both;
    - a part that is data (not text, not header-like message content, not in a transfer
      encoding's lines) decodes to the same octets, and so does any base64 part;
    - a text part in 7bit, 8bit or no encoding has no bare CR or LF left, and a
      quoted-printable one decodes to the same text but for its line ends;
    - the top-level header section has CRLF line ends only.

    A part Python reads as an unsplit multipart (its boundary is beyond Python: folded, or
    missing the ";") is only compared without its line ends.  A message that has CRLF line
    ends only is stored as it is."""
    if BARE_LINE_END.search(sent) is None:
        assert stored == sent, label
        return
    assert LINE_END_OCTETS.sub(b"", stored) == LINE_END_OCTETS.sub(b"", sent), label
    before = list(_leaves(email.message_from_bytes(sent)))
    after = list(_leaves(email.message_from_bytes(stored)))
    types = [" ".join(p.get_content_type().split()) for p, _ in before]
    assert [" ".join(p.get_content_type().split()) for p, _ in after] == types, label
    for n, ((old, _), (new, in_lines)) in enumerate(zip(before, after, strict=True)):
        cte = str(new.get("content-transfer-encoding", "")).strip().lower()
        data, kept = old.get_payload(decode=True), new.get_payload(decode=True)
        assert isinstance(data, bytes) and isinstance(kept, bytes)
        what = f"{label}: part {n} ({types[n]}, {cte or 'no encoding'})"
        is_text = new.get_content_maintype() == "text" or in_lines
        lines = is_text and cte in ("", "7bit", "8bit")
        if lines or new.get_content_maintype() == "multipart" or cte == "quoted-printable":
            assert LINE_END_OCTETS.sub(b"", kept) == LINE_END_OCTETS.sub(b"", data), what
            assert not lines or BARE_LINE_END.search(kept) is None, what
        else:
            assert kept == data, what
    head_end = stored.find(b"\r\n\r\n")
    assert BARE_LINE_END.search(stored[: head_end if head_end >= 0 else len(stored)]) is None, label
