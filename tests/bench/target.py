"""What a workload needs from a server under benchmark (stalwart-py, Dovecot, ...)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol

from tests.bench.procs import TreeRss, tail


class BenchTarget(Protocol):
    """A started mail server with an LMTP listener; implemented by the server modules."""

    name: str
    host: str
    lmtp_port: int
    recipients: tuple[str, ...]
    count_note: str  # why count_messages() returned None, if it did

    def peak_rss(self) -> TreeRss | None:
        """Peak RSS of the server's processes, read while it runs."""
        ...

    def wait_indexed(self, timeout: float = 600.0) -> float | None:
        """Block until full-text indexing has caught up; seconds taken, None if unknown."""
        ...

    def stop(self) -> object:
        """Stop the server cleanly and wait for it to exit."""
        ...

    def count_messages(self) -> int | None:
        """Messages stored, counted after stop(); None when the server cannot tell."""
        ...

    def log_tail(self) -> str:
        """The end of the server's log, for error reports."""
        ...


class ManagedServer:
    """What every server module shares: a throwaway root and log, used as a context manager
    (started on entry; stopped and removed on exit, also when starting fails)."""

    root: Path
    log: Path

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> object:
        raise NotImplementedError

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self) -> str:
        return tail(self.log)

    def __enter__(self) -> Any:
        try:
            self.start()
        except BaseException:
            self.stop()
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.cleanup()
