"""What a workload needs from a server under benchmark (stalwart-py, Dovecot, ...)."""

from __future__ import annotations

from typing import Protocol

from tests.bench.procs import TreeRss


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
