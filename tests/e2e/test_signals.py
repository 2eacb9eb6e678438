"""Stopping ``stalwart-py serve`` with signals, however many arrive and whenever they do.

User-visible rules (issue 8, "a newcomer's first hour", item 5): SIGINT and SIGTERM, alone or in
quick succession, during start-up, once ready, or during the shutdown while writes drain, end with
"stalwart-py: stopped", exit status 0 and no traceback (a second SIGINT used to surface as a
``KeyboardInterrupt``); and no acknowledged write is lost by a fast second signal: every LMTP
delivery that got its 250 is in the store afterwards.

Each pattern runs several times with varying gaps, to catch the races.
"""

from __future__ import annotations

import contextlib
import random
import re
import signal
import smtplib
import threading
import time
from pathlib import Path

import pytest

from stalwart_py.config import load_config
from stalwart_py.server import open_store
from tests.e2e.cli_support import Serve, write_config

INT, TERM = signal.SIGINT, signal.SIGTERM


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "stalwart.toml", tmp_path / "data")


def send(srv: Serve, signals: tuple[signal.Signals, ...], gap: float) -> None:
    for i, signum in enumerate(signals):
        if i and gap:
            time.sleep(gap)
        srv.proc.send_signal(signum)


def check_clean_stop(srv: Serve) -> None:
    rc = srv.wait()
    err = srv.stderr()
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert rc == 0, (rc, srv.seen[-3:], err)
    assert srv.seen[-1] == "stalwart-py: stopped", srv.seen
    assert sum(line.endswith(", shutting down") for line in srv.seen) == 1, srv.seen


PATTERNS = [
    ((INT, INT), 0.0),
    ((INT, INT, INT), 0.0),
    ((TERM, INT), 0.0),
    ((INT, TERM, INT, TERM), 0.002),
    ((TERM, TERM), 0.02),
]
START_UP_DELAYS = [0.0, 0.05, 0.2, 0.5]


def signals_once_ready(config: Path, signals: tuple[signal.Signals, ...], gap: float) -> None:
    srv = Serve(config)
    try:
        srv.until(r"ready \(data in ")
        send(srv, signals, gap)
        check_clean_stop(srv)
    finally:
        srv.kill()


def signals_during_start_up(config: Path, delay: float) -> None:
    srv = Serve(config)
    try:
        srv.until(r"^stalwart-py: starting")
        time.sleep(delay)
        send(srv, (INT, TERM, INT), 0.001)
        check_clean_stop(srv)
    finally:
        srv.kill()
    # Whatever the moment, the next start works and the state is consistent.
    srv = Serve(config)
    try:
        srv.until(r"ready \(data in ")
        send(srv, (TERM,), 0)
        check_clean_stop(srv)
    finally:
        srv.kill()


@pytest.mark.parametrize(("signals", "gap"), PATTERNS)
def test_several_signals_once_ready_stop_cleanly(
    config: Path, signals: tuple[signal.Signals, ...], gap: float
) -> None:
    """Behaviour: signals in quick succession after "ready": one clean stop, no traceback
    (SIGTERM then SIGINT used to kill the process by the redelivered SIGTERM, exit -15)."""
    signals_once_ready(config, signals, gap)


@pytest.mark.parametrize("delay", START_UP_DELAYS)
def test_signals_during_start_up_stop_cleanly(config: Path, delay: float) -> None:
    """Behaviour: signals while the server is still starting (store, first-start accounts,
    index) stop it as cleanly, and the next start works."""
    signals_during_start_up(config, delay)


def test_a_signal_after_stopped_does_not_kill_the_exiting_process(config: Path) -> None:
    """Behaviour: a second SIGTERM that lands while the stopped process exits (the interpreter
    then resets Python-level handlers to the default action) leaves the exit status 0."""
    for _ in range(3):
        srv = Serve(config)
        try:
            srv.until(r"ready \(data in ")
            srv.proc.send_signal(TERM)
            srv.until(r"^stalwart-py: stopped$")
            with contextlib.suppress(ProcessLookupError):
                srv.proc.send_signal(TERM)
            check_clean_stop(srv)
        finally:
            srv.kill()


@pytest.mark.slow
def test_signal_patterns_repeated_to_catch_races(config: Path) -> None:
    """Behaviour: the patterns above, ten times each with jittered gaps and delays."""
    rng = random.Random(8)
    for _ in range(10):
        for signals, gap in PATTERNS:
            signals_once_ready(config, signals, gap * rng.uniform(0, 2))
        for delay in START_UP_DELAYS:
            signals_during_start_up(config, delay * rng.uniform(0, 2))


class Deliveries:
    """LMTP clients delivering to demo@ in a loop until the server stops listening; records
    the subject of every message acknowledged with 250."""

    def __init__(self, port: int, tag: str, workers: int = 4) -> None:
        self.port, self.tag = port, tag
        self.acked: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(w,)) for w in range(workers)]
        for t in self._threads:
            t.start()

    def _run(self, worker: int) -> None:
        n = 0
        while not self._stop.is_set():
            subject = f"{self.tag}-w{worker}-{n}"
            message = f"From: <s@remote.test>\r\nSubject: {subject}\r\n\r\nbody\r\n"
            try:
                with smtplib.LMTP("127.0.0.1", self.port, timeout=10) as client:
                    if client.sendmail("s@remote.test", ["demo@example.org"], message) == {}:
                        with self._lock:
                            self.acked.append(subject)
            except (OSError, smtplib.SMTPException):
                return  # the server has stopped listening
            n += 1

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def stored_subjects(config: Path) -> set[str]:
    store = open_store(load_config(config, {}))
    try:
        demo = store.principal_by_address("demo@example.org")
        assert demo is not None
        subjects = set()
        for email in store.emails(demo.id):
            raw = store.blob(email.blob)
            assert raw is not None
            found = re.search(rb"^Subject: (\S+)\r$", raw, re.MULTILINE)
            assert found is not None, raw[:300]
            subjects.add(found[1].decode())
        return subjects
    finally:
        store.close()


def test_fast_second_signals_lose_no_acknowledged_delivery(config: Path) -> None:
    """Behaviour: deliveries keep arriving while SIGTERM, then SIGINTs, arrive; every message
    acknowledged with 250 is in the store after the stop."""
    port = load_config(config, {}).lmtp.port
    for attempt in range(3):
        srv = Serve(config)
        deliveries: Deliveries | None = None
        try:
            srv.until(r"ready \(data in ")
            deliveries = Deliveries(port, f"a{attempt}")
            deadline = time.monotonic() + 10
            while len(deliveries.acked) < 20 * (attempt + 1) and time.monotonic() < deadline:
                time.sleep(0.01)
            send(srv, (TERM, INT, INT, TERM, INT), 0.001 * attempt)
            check_clean_stop(srv)
        finally:
            if deliveries is not None:
                deliveries.stop()
            srv.kill()
        assert deliveries.acked, "no delivery was acknowledged before the signals"
        stored = stored_subjects(config)
        missing = [s for s in deliveries.acked if s not in stored]
        assert not missing, f"attempt {attempt}: acknowledged but not stored: {missing[:5]}"
