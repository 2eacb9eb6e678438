"""The ``stalwart-py`` command line as a user runs it: separate processes, a config file, signals.

Every command runs as ``python -m stalwart_py`` (what the ``stalwart-py`` script calls) in a
subprocess, with ``STALWART_*`` variables removed from its environment so that only the
configuration file counts.  Results are checked in the command output and, once no process
holds the data directory, in the store itself.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stalwart_py.config import load_config
from stalwart_py.server import open_store, passwords_for

TIMEOUT = 60


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STALWART_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def write_config(path: Path, data_dir: Path, extra: str = "") -> Path:
    lmtp, imap, imaps, http, https = free_ports(5)
    path.write_text(
        "# stalwart-py test configuration\n"
        "[server]\n"
        f'data_dir = "{data_dir}"\n'
        'hostname = "mx.test"\n'
        'default_domain = "example.org"\n'
        'log_level = "warning"\n'
        "\n[lmtp]\n"
        f"port = {lmtp}\n"
        "\n[imap]\n"
        f"port = {imap}\n"
        f"tls_port = {imaps}\n"
        "\n[http]\n"
        f"port = {http}\n"
        f"tls_port = {https}\n"
        "\n[auth]\n"
        "argon2_time_cost = 1\n"
        "argon2_memory_cost = 8192\n"
        "argon2_parallelism = 1\n" + extra,
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "stalwart.toml", tmp_path / "data")


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stalwart_py", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=clean_env(),
        cwd=cwd,
        check=False,
    )


def ok(*args: str) -> str:
    """Runs a command that must succeed; returns its standard output."""
    result = cli(*args)
    assert result.returncode == 0, f"{args}: rc {result.returncode}\n{result.stdout}{result.stderr}"
    return result.stdout


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    kind: str
    quota: str
    used: int
    messages: int
    aliases: tuple[str, ...]


def account_rows(stdout: str) -> dict[str, Row]:
    lines = stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "QUOTA", "USED", "MESSAGES", "ALIASES"]
    rows = {}
    for line in lines[1:]:
        name, kind, quota, used, messages, *aliases = line.split()
        rows[name] = Row(name, kind, quota, int(used), int(messages), tuple(aliases))
    return rows


# -- administration ----------------------------------------------------------------------------


def test_directory_administration(config: Path) -> None:
    c = ("--config", str(config))
    assert ok("domain", "create", "example.org", *c).strip() == "created domain example.org"
    out = ok(
        "account", "create", "alice@example.org", "--password", "first",
        "--quota", "10M", "--name", "Alice Liddell", *c,
    )  # fmt: skip
    assert re.fullmatch(r"created account alice@example\.org \(id \d+\)\n", out)
    # A new domain is created on the way.
    out = ok("account", "create", "bob@other.test", "--password", "pw", *c)
    assert out.splitlines()[0] == "created domain other.test"
    assert ok("alias", "add", "al@example.org", "alice@example.org", *c).strip() == (
        "al@example.org -> alice@example.org"
    )
    out = ok(
        "group", "create", "team@example.org", "-m", "alice@example.org", "-m", "bob@other.test", *c
    )
    assert out.strip() == "created group team@example.org with 2 members"
    out = ok("domain", "catch-all", "example.org", "alice@example.org", *c)
    assert out.strip() == "catch-all of example.org: alice@example.org"
    assert ok("domain", "list", *c).splitlines() == [
        "example.org  catch-all: alice@example.org",
        "other.test",
    ]
    assert ok("account", "passwd", "alice@example.org", "--password", "second", *c).strip() == (
        "password changed for alice@example.org"
    )

    rows = account_rows(ok("account", "list", *c))
    assert set(rows) == {"alice@example.org", "bob@other.test", "team@example.org"}
    assert rows["alice@example.org"] == Row(
        "alice@example.org", "individual", str(10 * 1024 * 1024), 0, 0, ("al@example.org",)
    )
    assert rows["team@example.org"].kind == "group"

    # An error: a clear message on stderr and a non-zero exit status.
    ghost = cli("account", "delete", "ghost@example.org", *c)
    assert ghost.returncode == 1
    assert ghost.stderr.startswith("stalwart-py: ") and "ghost@example.org" in ghost.stderr
    assert ghost.stdout == ""

    # Undo some of it.
    ok("account", "quota", "alice@example.org", "0", *c)
    assert ok("alias", "remove", "al@example.org", *c).strip() == "removed alias al@example.org"
    assert ok("account", "delete", "bob@other.test", *c).strip() == "deleted bob@other.test"
    assert ok("domain", "delete", "other.test", *c).strip() == "deleted domain other.test"

    cfg = load_config(config, {})
    store = open_store(cfg)
    try:
        alice = store.principal_by_address("alice@example.org")
        assert alice is not None
        assert (alice.quota, alice.emails, alice.description) == (
            0,
            ("alice@example.org",),
            "Alice Liddell",
        )
        passwords = passwords_for(cfg)
        assert passwords.verify(alice.secret, "second")
        assert not passwords.verify(alice.secret, "first")
        assert store.principal_by_address("al@example.org") is None
        assert store.principal_by_address("bob@other.test") is None
        assert [d.name for d in store.domains()] == ["example.org"]
        example = store.domain("example.org")
        assert example is not None and example.catch_all == alice.id
        team = store.principal_by_address("team@example.org")
        assert team is not None and team.members == (alice.id,)  # bob left the group
        assert store.mailbox_by_role(alice.id, "inbox") is not None
    finally:
        store.close()


# -- config check --------------------------------------------------------------------------


def test_config_check(tmp_path: Path, config: Path) -> None:
    good = cli("config", "check", str(config))
    assert (good.returncode, good.stdout.strip()) == (0, f"{config}: OK")

    bad = write_config(
        tmp_path / "bad.toml",
        tmp_path / "data",
        '\n[delivery]\nduplicat_window = "2d"\n\n[search]\nbackend = "elastic"\n',
    )
    text = bad.read_text().splitlines()
    typo_line = text.index('duplicat_window = "2d"') + 1
    backend_line = text.index('backend = "elastic"') + 1
    result = cli("config", "check", str(bad))
    assert result.returncode == 1
    problems = result.stderr.strip().splitlines()
    assert len(problems) == 2, problems
    typo = next(p for p in problems if "duplicat_window" in p)
    assert typo.startswith(f"{bad}:{typo_line} delivery.duplicat_window: unknown key")
    assert "did you mean 'duplicate_window'" in typo
    value = next(p for p in problems if "backend" in p)
    assert value.startswith(f"{bad}:{backend_line} search.backend:")
    assert "elastic" in value and "tantivy" in value

    # A bad value in the file stops every command, not just `config check`.
    listed = cli("account", "list", "--config", str(bad))
    assert listed.returncode == 2
    assert f"{bad}:{backend_line}" in listed.stderr

    broken = tmp_path / "broken.toml"
    broken.write_text("[server]\ndata_dir = \n", encoding="utf-8")
    result = cli("config", "check", str(broken))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{broken}:2") and "invalid TOML" in result.stderr


# -- serve ---------------------------------------------------------------------------------


class Serve:
    """A ``stalwart-py serve`` subprocess whose standard output is read line by line."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stalwart_py", "serve", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; got {self.seen}") from None
            if line is None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"serve exited before {pattern!r}: {self.seen}\n{err}")
            self.seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(TIMEOUT)
        while (line := self.lines.get(timeout=5)) is not None:
            self.seen.append(line)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)


@pytest.fixture
def serve(config: Path) -> Iterator[list[Serve]]:
    started: list[Serve] = []
    try:
        yield started
    finally:
        for s in started:
            s.kill()


def deliver(port: int, rcpt: str, subject: str) -> None:
    message = f"From: <s@remote.test>\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()
    with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
        assert client.sendmail("s@remote.test", [rcpt], message) == {}


def test_serve_first_start_delivery_sigterm_and_restart(config: Path, serve: list[Serve]) -> None:
    c = ("--config", str(config))
    srv = Serve(config)
    serve.append(srv)
    srv.until(r"first start, created domain example\.org")
    admin = srv.until(r"^\s+admin\s+(admin@example\.org)\s+password: (\S+)$")
    demo = srv.until(r"^\s+demo user\s+(demo@example\.org)\s+password: (\S+)$")
    srv.until(r"shown only once")
    port = int(srv.until(r"LMTP listening on 127\.0\.0\.1:(\d+)")[1])
    assert port == load_config(config, {}).lmtp.port
    srv.until(r"ready \(data in ")

    # While the server runs, administration commands refuse with a clear message.
    busy = cli("account", "list", *c)
    assert busy.returncode == 2
    assert "in use by a running server" in busy.stderr
    assert "Stop the server first" in busy.stderr

    deliver(port, "demo@example.org", "before restart")
    assert srv.terminate() == 0
    assert any("SIGTERM, shutting down" in line for line in srv.seen)
    assert srv.seen[-1] == "stalwart-py: stopped"

    # Second start: no banner with passwords, and delivery continues.
    srv = Serve(config)
    serve.append(srv)
    srv.until(r"ready \(data in ")
    assert not any("password" in line or "first start" in line for line in srv.seen)
    deliver(port, "demo@example.org", "after restart")
    assert srv.terminate() == 0
    assert not any("password" in line for line in srv.seen)

    rows = account_rows(ok("account", "list", *c))
    assert rows["demo@example.org"].messages == 2
    assert rows["demo@example.org"].used > 0
    assert rows["admin@example.org"].messages == 0

    # The printed passwords are the real ones, and the admin has its role.
    cfg = load_config(config, {})
    store = open_store(cfg)
    try:
        passwords = passwords_for(cfg)
        for m in (admin, demo):
            p = store.principal_by_address(m[1])
            assert p is not None and passwords.verify(p.secret, m[2])
        assert admin[2] != demo[2]
        admin_principal = store.principal_by_address("admin@example.org")
        assert admin_principal is not None and "admin" in admin_principal.roles
    finally:
        store.close()
