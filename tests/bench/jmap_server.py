"""stalwart-py with LMTP and HTTP (JMAP) on 127.0.0.1 for the JMAP and HTTP workloads, in a
data directory that survives the run when one is given (``--jmap-data``)."""

from __future__ import annotations

import base64
import http.client
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.bench.procs import (
    BenchError,
    free_port,
    stop_process,
    tail,
    tree_peak_rss,
    wait_lmtp_ready,
)
from tests.bench.stalwart import CLI, PASSWORD

USER = "user1@bench.local"


# -- the server ---------------------------------------------------------------------------------

_CONFIG = """\
# Throwaway stalwart-py config written by tests/bench/jmap.py.
[server]
data_dir = "{data}"
hostname = "bench.local"
default_domain = "bench.local"

[lmtp]
port = {lmtp}

[imap]
enabled = false

[http]
port = {http}
tls_port = {https}
"""


class StalwartJmapServer:
    """stalwart-py with LMTP and HTTP (JMAP) on 127.0.0.1; ``root`` survives when ``keep``.
    ``env``: extra ``STALWART_*`` settings for the server process; ``seed``: a stopped
    server's data dir copied in before the first start (the same mail, the same ids)."""

    host = "127.0.0.1"
    name = "stalwart-py"

    def __init__(
        self, root: Path | None, env: dict[str, str] | None = None, seed: Path | None = None
    ) -> None:
        self.env = env or {}
        self.seed = seed
        self.keep = root is not None
        self.root = root if root is not None else Path(tempfile.mkdtemp(prefix="bench-jmap-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.config = self.root / "config.toml"
        self.log = self.root / "server.log"
        self.lmtp_port = free_port()
        self.http_port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def start(self) -> None:
        if self.seed is not None and not self.data.exists():
            shutil.copytree(self.seed, self.data)
        fresh = not self.data.exists()
        self.config.write_text(
            _CONFIG.format(
                data=self.data, lmtp=self.lmtp_port, http=self.http_port, https=free_port()
            )
        )
        if fresh:
            done = subprocess.run(
                [str(CLI), "account", "create", USER, "--password", PASSWORD]
                + ["--config", str(self.config)],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=self.root,
            )
            if done.returncode != 0:
                raise BenchError(f"`account create` failed:\n{done.stdout}{done.stderr}")
        with open(self.log, "ab") as out:
            self._proc = subprocess.Popen(
                [str(CLI), "serve", "--config", str(self.config)],
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        wait_lmtp_ready(self.host, self.lmtp_port, self._proc, 120, self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                session_ready(self.host, self.http_port)
                return
            except (OSError, BenchError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise BenchError("JMAP session not reachable\n" + tail(self.log)) from None
                time.sleep(0.2)

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far (``/proc/PID/stat``)."""
        if self._proc is None:
            return 0.0
        fields = Path(f"/proc/{self._proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_kib(self) -> int | None:
        rss = tree_peak_rss(self._proc.pid) if self._proc is not None else None
        return rss.main_kib if rss is not None else None

    def stop(self) -> None:
        if self._proc is not None:
            status = stop_process(self._proc, timeout=120)
            self._proc = None
            if status not in (0, -15):
                print(f"warning: stalwart-py exited with status {status}\n{tail(self.log)}")

    def log_tail(self) -> str:
        return tail(self.log)

    def __enter__(self) -> StalwartJmapServer:
        try:
            self.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def session_ready(host: str, port: int) -> None:
    """Raises unless GET /jmap/session answers 200 (the account exists, HTTP is up)."""
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/jmap/session", headers={"Authorization": auth})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise BenchError(f"GET /jmap/session -> {response.status}")
    finally:
        conn.close()
