"""stalwart-py as the server under test: a throwaway TOML config, accounts, serve, stop.

Contract (docs/configuration): ``stalwart-py account create ADDR --password P --config FILE``
before the server starts (the data dir is locked while it runs), ``stalwart-py serve --config
FILE`` to run, SIGTERM to stop, and ``stalwart-py account list --config FILE`` afterwards,
which prints each account with its message count.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.bench.procs import (
    REPO,
    BenchError,
    TreeRss,
    free_port,
    stop_process,
    tail,
    tree_peak_rss,
    wait_lmtp_ready,
)
from tests.bench.target import ManagedServer

# STALWART_BENCH_CLI overrides the executable (e.g. to benchmark an installed build).
CLI = Path(os.environ.get("STALWART_BENCH_CLI", REPO / ".venv" / "bin" / "stalwart-py"))
PASSWORD = "secret"

_CONFIG = """\
# Throwaway stalwart-py config written by tests/bench/stalwart.py.
[server]
data_dir = "{data}"
hostname = "bench.local"
default_domain = "bench.local"

[lmtp]
port = {port}

[imap]
enabled = false

[http]
enabled = false
"""


@dataclass(frozen=True, slots=True)
class StalwartAvailability:
    available: bool
    reason: str


def stalwart_available() -> StalwartAvailability:
    """Is the CLI installed and does it know the ``serve`` and ``account`` commands?"""
    if not CLI.exists():
        return StalwartAvailability(False, f"{CLI} not found (run `make` to install)")
    for args in (["serve", "--help"], ["account", "create", "--help"]):
        done = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or "?").splitlines()[-1]
            return StalwartAvailability(
                False, f"`stalwart-py {' '.join(args)}` failed ({done.returncode}): {last}"
            )
    return StalwartAvailability(True, "")


def stalwart_blocked(no_stalwart: bool, workload: str) -> bool | None:
    """None when a stalwart-py-only workload can run; else its result: True when skipped on
    request (``--no-stalwart``), False when stalwart-py is unavailable (reason printed)."""
    if no_stalwart:
        print(f"{workload} skipped: --no-stalwart", flush=True)
        return True
    ok = stalwart_available()
    if not ok.available:
        print(f"stalwart-py UNAVAILABLE: {ok.reason}", file=sys.stderr)
        return False
    return None


def parse_account_counts(output: str, accounts: tuple[str, ...]) -> dict[str, int]:
    """Per-account message counts from ``stalwart-py account list`` output.

    Accepts a line per account holding the address and the count: in the column of a
    ``Messages`` header, labelled (``messages: 12``, ``messages=12``, ``12 messages``), or
    else as the last number on the line.
    Accounts that do not appear are left out.
    """
    counts: dict[str, int] = {}
    column: int | None = None  # index of a "Messages" column in a header line, if any
    for line in output.splitlines():
        if column is None and "@" not in line:
            names = [cell.lower() for cell in line.split()]
            column = next((i for i, n in enumerate(names) if n in ("messages", "emails")), None)
        for account in accounts:
            match = re.search(rf"(?<![\w.@-]){re.escape(account)}(?![\w.-])", line)
            if match is None:
                continue
            cells = line.split()
            if column is not None and len(cells) > column and cells[column].isdigit():
                counts[account] = int(cells[column])
                continue
            rest = line[match.end() :]
            labelled = re.search(r"messages?\s*[:=]\s*(\d+)", rest, re.I) or re.search(
                r"(\d+)\s+messages?\b", rest, re.I
            )
            if labelled is not None:
                counts[account] = int(labelled.group(1))
                continue
            numbers = re.findall(r"(?<![\w.])(\d+)(?![\w.])", rest)
            if numbers:
                counts[account] = int(numbers[-1])
    return counts


class StalwartServer(ManagedServer):
    """A running stalwart-py with LMTP on 127.0.0.1 only; use as a context manager."""

    host = "127.0.0.1"
    name = "stalwart-py"

    def __init__(self, recipients: tuple[str, ...]) -> None:
        self.recipients = recipients
        self.lmtp_port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="bench-stalwart-"))
        self.config = self.root / "config.toml"
        self.log = self.root / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.count_note = ""

    def _cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )

    def start(self) -> None:
        self.config.write_text(_CONFIG.format(data=self.root / "data", port=self.lmtp_port))
        for rcpt in self.recipients:
            done = self._cli("account", "create", rcpt, "--password", PASSWORD)
            if done.returncode != 0:
                raise BenchError(
                    f"`stalwart-py account create {rcpt}` failed ({done.returncode}):\n"
                    f"{done.stdout}{done.stderr}"
                )
        with open(self.log, "wb") as out:
            self._proc = subprocess.Popen(
                [str(CLI), "serve", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        wait_lmtp_ready(self.host, self.lmtp_port, self._proc, 120, self.log)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def peak_rss(self) -> TreeRss | None:
        """VmHWM of the server process (and the sum with any child processes)."""
        return tree_peak_rss(self.pid) if self.pid is not None else None

    def wait_indexed(self, timeout: float = 600.0) -> float | None:
        """FTS catch-up time; no way to observe it from outside yet, so None."""
        return None

    def stop(self) -> int | None:
        """SIGTERM and wait; returns the exit status."""
        if self._proc is None:
            return None
        status = stop_process(self._proc, timeout=60)
        self._proc = None
        if status not in (0, -15):
            print(f"warning: stalwart-py exited with status {status}\n{tail(self.log)}")
        return status

    def count_messages(self) -> int | None:
        """Total messages per ``account list`` (server must be stopped), or None if unknown."""
        done = self._cli("account", "list")
        if done.returncode != 0:
            self.count_note = f"`account list` failed ({done.returncode}): {done.stderr.strip()}"
            return None
        counts = parse_account_counts(done.stdout, self.recipients)
        missing = [r for r in self.recipients if r not in counts]
        if missing:
            self.count_note = (
                f"`account list` shows no message count for {', '.join(missing)}; "
                f"output was: {done.stdout.strip()[:300]!r}"
            )
            return None
        return sum(counts.values())
