"""Running ``stalwart-py`` as a user does: separate processes, a config file, signals.

Every command runs as ``python -m stalwart_py`` (what the ``stalwart-py`` script calls) in a
subprocess, with ``STALWART_*`` variables removed from its environment so that only the
configuration file (or the arguments) count.
"""

from __future__ import annotations

import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 60


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STALWART_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(n: int) -> list[int]:
    """``n`` ports free now, below the kernel's ephemeral range: a port the kernel hands out
    for ``bind(0)`` or an outgoing connection (other tests do both all the time) can never be
    one of them, so a server started later on these ports finds them still free."""
    low = min(_ephemeral_low(), 65536)
    rng = random.Random()
    picked: list[int] = []
    while len(picked) < n:
        port = rng.randrange(20000, max(20001, low))
        if port in picked:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        picked.append(port)
    return picked


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


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs ``stalwart-py ARGS`` in ``cwd`` with ``env`` (STALWART_* variables) added."""
    return subprocess.run(
        [sys.executable, "-m", "stalwart_py", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**clean_env(), **(env or {})},
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
    used: str  # as printed: 0B, 12.5K, 2G
    messages: int
    aliases: tuple[str, ...]


def account_rows(stdout: str) -> dict[str, Row]:
    lines = stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "QUOTA", "USED", "MESSAGES", "ALIASES"]
    rows = {}
    for line in lines[1:]:
        name, kind, quota, used, messages, *aliases = line.split()
        rows[name] = Row(name, kind, quota, used, int(messages), tuple(aliases))
    return rows


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
        return self.wait()

    def wait(self) -> int:
        """Waits for the exit; every remaining line of standard output lands in ``seen``."""
        rc = self.proc.wait(TIMEOUT)
        while (line := self.lines.get(timeout=5)) is not None:
            self.seen.append(line)
        return rc

    def stderr(self) -> str:
        """Standard error, once the process has exited."""
        assert self.proc.poll() is not None and self.proc.stderr is not None
        return self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
