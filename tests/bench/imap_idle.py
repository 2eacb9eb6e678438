"""The IMAP workload's IDLE client: a raw socket in IDLE that timestamps each ``* n EXISTS``
as it arrives (wake-up latency after an LMTP delivery)."""

from __future__ import annotations

import re
import socket
import threading
import time

from tests.bench.procs import BenchError
from tests.bench.stalwart import PASSWORD

USER = "user1@bench.local"  # the IMAP workload's account (tests/bench/imap.py)


class IdleWatcher:
    """A raw-socket client in IDLE; timestamps every ``* n EXISTS`` line as it arrives."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=60)
        self._buf = b""
        self.exists: list[tuple[int, float]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def _line(self) -> bytes:
        while b"\r\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError("IMAP connection closed")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    def _until_tagged(self, tag: bytes) -> bytes:
        while True:
            line = self._line()
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise BenchError(f"IDLE client: {line!r}")
                return line

    def start(self) -> None:
        self._line()  # greeting
        self.sock.sendall(f"a LOGIN {USER} {PASSWORD}\r\n".encode())
        self._until_tagged(b"a")
        self.sock.sendall(b"b SELECT INBOX\r\n")
        self._until_tagged(b"b")
        self.sock.sendall(b"c IDLE\r\n")
        while not self._line().startswith(b"+"):
            pass
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                line = self._line()
                now = time.monotonic()
                m = re.match(rb"\* (\d+) EXISTS", line)
                if m:
                    with self._cond:
                        self.exists.append((int(m[1]), now))
                        self._cond.notify_all()
                if line.startswith(b"c "):
                    return
        except (OSError, BenchError):
            return

    def wait_exists(self, count: int, timeout: float = 30.0) -> float | None:
        """Arrival time of the first EXISTS reporting at least ``count`` messages."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for n, when in self.exists:
                    if n >= count:
                        return when
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def stop(self) -> None:
        try:
            self.sock.sendall(b"DONE\r\n")
            if self._thread is not None:
                self._thread.join(30)
            self.sock.sendall(b"z LOGOUT\r\n")
        except OSError:
            pass
        self.sock.close()
