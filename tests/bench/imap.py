"""IMAP workload: concurrent client sessions on a 1,000-message mailbox, and IDLE wake-up latency.

For each server (stalwart-py, and Dovecot 2.3 as the peer, in the same run):

1. ``mailbox`` messages (4 KB, from :mod:`tests.bench.messages`) are delivered to one account
   over LMTP (4 connections); not timed.
2. ``clients`` worker processes each connect and LOGIN (timed on its own: stalwart-py verifies an
   argon2 hash, Dovecot a ``{PLAIN}`` password), wait on a barrier, then run one session:
   SELECT INBOX; ``FETCH 1:* (UID FLAGS ENVELOPE)``; ``body_fetches`` × ``UID FETCH n
   BODY.PEEK[]``; ``stores`` × ``UID STORE``; ``searches`` × ``UID SEARCH`` on flags, headers and
   dates (no full-text terms: plain Dovecot has no FTS index); ``appends`` × APPEND of a 4 KB
   message; ``UID STORE +FLAGS (\\Deleted)`` and ``UID EXPUNGE`` (RFC 4315) of its own appends;
   LOGOUT. Throughput is IMAP commands completed by all workers divided by the wall time from the
   first worker starting to the last one finishing (CLOCK_MONOTONIC is system-wide on Linux).
3. IDLE wake-up: one client SELECTs INBOX and IDLEs (RFC 2177); ``idle_deliveries`` messages
   are delivered over LMTP one at a time; for each, the latency is the time from the LMTP 250
   reply to the ``* n EXISTS`` line reaching the IDLEing client (negative when the server wakes
   the client before the LMTP client has read its 250). Median and p95 are reported.
4. Verification: STATUS INBOX (MESSAGES) must equal ``mailbox + idle_deliveries`` (every worker
   expunged exactly what it appended), and no command may have failed.
"""

from __future__ import annotations

import argparse
import imaplib
import multiprocessing
import os
import random
import re
import smtplib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Protocol

from tests.bench.dovecot import DovecotServer, ensure_dovecot
from tests.bench.imap_idle import USER, IdleWatcher
from tests.bench.lmtp import LmtpLoad, run_lmtp_load
from tests.bench.load import percentile
from tests.bench.messages import make_message
from tests.bench.procs import (
    BenchError,
    descendants,
    failure_note,
    free_port,
    git_commit,
    machine_info,
    tail,
    wait_lmtp_ready,
)
from tests.bench.report import append_result
from tests.bench.stalwart import CLI, PASSWORD, StalwartServer, stalwart_available

OURS = "stalwart-py"
PEER = "dovecot"


class ImapBenchTarget(Protocol):
    """A started server with LMTP and IMAP listeners on ``host``."""

    name: str
    host: str
    lmtp_port: int
    imap_port: int

    @property
    def pid(self) -> int | None: ...

    def peak_rss(self) -> object: ...

    def log_tail(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ImapPlan:
    """What every client does, and how big the mailbox is."""

    mailbox: int = 1_000
    clients: int = 10
    body_fetches: int = 20
    stores: int = 20
    searches: int = 5
    appends: int = 5
    idle_deliveries: int = 20

    @property
    def commands_per_client(self) -> int:
        """SELECT, FETCH 1:*, bodies, stores, searches, appends, STORE \\Deleted, UID EXPUNGE,
        LOGOUT (LOGIN is timed separately)."""
        return 2 + self.body_fetches + self.stores + self.searches + self.appends + 3


@dataclass(frozen=True, slots=True)
class _SessionReport:
    start: float
    end: float
    cpu: float
    commands: int
    login_s: float
    fetch_all_s: float
    errors: tuple[str, ...]
    latencies: tuple[tuple[str, float], ...] = ()  # (command kind, seconds) in session order


@dataclass(frozen=True, slots=True)
class CommandLatency:
    """Wall time of one kind of command, over every client's instances of it."""

    kind: str
    count: int
    median_ms: float
    mean_ms: float
    total_s: float


@dataclass(frozen=True, slots=True)
class ImapFigures:
    """Everything measured on one server for the IMAP workload."""

    server: str
    clients: int
    commands: int
    expected_commands: int
    seconds: float
    client_cores: float
    login_median_ms: float
    fetch_all_median_s: float
    idle_median_ms: float | None
    idle_p95_ms: float | None
    idle_samples: int
    expected_messages: int
    stored_messages: int | None
    peak_rss_kib: int | None
    errors: tuple[str, ...]
    latencies: tuple[CommandLatency, ...] = ()
    server_cpu_s: float | None = None  # user + system CPU of the server tree during sessions

    @property
    def cpu_ms_per_command(self) -> float | None:
        if self.server_cpu_s is None or not self.commands:
            return None
        return self.server_cpu_s * 1000 / self.commands

    @property
    def rate(self) -> float:
        """IMAP commands per second over all clients."""
        return self.commands / self.seconds if self.seconds > 0 else 0.0

    @property
    def verified(self) -> bool:
        return (
            not self.errors
            and self.commands == self.expected_commands
            and self.stored_messages == self.expected_messages
        )


# -- servers ------------------------------------------------------------------------------------

_STALWART_CONFIG = """\
# Throwaway stalwart-py config written by tests/bench/imap.py.
[server]
data_dir = "{data}"
hostname = "bench.local"
default_domain = "bench.local"

[lmtp]
port = {lmtp}

[imap]
port = {imap}
tls_port = {imaps}
allow_plaintext_auth = true

[http]
enabled = false
"""


class StalwartImapServer(StalwartServer):
    """stalwart-py with IMAP on 127.0.0.1 (plaintext LOGIN allowed: loopback benchmark)."""

    def __init__(self, recipients: tuple[str, ...]) -> None:
        super().__init__(recipients)
        self.imap_port = free_port()

    def start(self) -> None:
        self.config.write_text(
            _STALWART_CONFIG.format(
                data=self.root / "data",
                lmtp=self.lmtp_port,
                imap=self.imap_port,
                imaps=free_port(),
            )
        )
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
        wait_imap_ready(self.host, self.imap_port, 60, self.log)

    def __enter__(self) -> StalwartImapServer:
        super().__enter__()
        return self


def wait_imap_ready(host: str, port: int, timeout: float, log: Path) -> None:
    """Poll until the IMAP listener sends its ``* OK`` greeting (RFC 9051 §7.1.1)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2) as sock:
                if sock.recv(512).startswith(b"* OK"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"IMAP on {host}:{port} not ready after {timeout:.0f} s\n" + tail(log))


# -- the client sessions ------------------------------------------------------------------------

_HEAD_UID = re.compile(rb"^\d+ \((?:.*? )?UID (\d+)")
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")
SEARCHES = (
    ("FLAGGED",),
    ("UNSEEN",),
    ("SUBJECT", '"report"'),
    ("FROM", '"smith"'),
    ("SINCE", "2-Jan-2024", "BEFORE", "5-Jan-2024"),
)


def _check(result: tuple[str, Sequence[object]], what: str) -> list[object]:
    if result[0] != "OK":
        raise BenchError(f"{what} -> {result[0]} {result[1]!r}"[:300])
    return list(result[1])


def _fetched_uids(data: list[object]) -> list[int]:
    uids: list[int] = []
    for item in data:
        head = item[0] if isinstance(item, tuple) else item
        if isinstance(head, bytes):
            m = _HEAD_UID.match(head)
            if m:
                uids.append(int(m[1]))
    return uids


def _session_worker(
    host: str,
    port: int,
    plan: ImapPlan,
    index: int,
    barrier: Barrier,
    results: multiprocessing.SimpleQueue[_SessionReport],
) -> None:
    rng = random.Random(f"imap-bench-{index}")
    appends = [make_message(10_000_000 + index * 100 + i, USER).data for i in range(plan.appends)]
    errors: list[str] = []
    commands = 0
    fetch_all_s = login_s = 0.0
    latencies: list[tuple[str, float]] = []

    conn = imaplib.IMAP4(host, port, timeout=300)
    t0 = time.monotonic()
    conn.login(USER, PASSWORD)
    login_s = time.monotonic() - t0
    barrier.wait()
    start = time.monotonic()
    cpu_start = time.process_time()
    try:
        t0 = time.monotonic()
        _check(conn.select("INBOX"), "SELECT")
        latencies.append(("SELECT", time.monotonic() - t0))
        commands += 1
        t0 = time.monotonic()
        data = _check(conn.fetch("1:*", "(UID FLAGS ENVELOPE)"), "FETCH 1:*")
        fetch_all_s = time.monotonic() - t0
        latencies.append(("FETCH 1:* envelopes", fetch_all_s))
        commands += 1
        uids = _fetched_uids(data)
        if len(uids) < plan.mailbox:
            raise BenchError(f"FETCH 1:* returned {len(uids)} messages, not {plan.mailbox}")
        for uid in rng.sample(uids, plan.body_fetches):
            t0 = time.monotonic()
            body = _check(conn.uid("FETCH", str(uid), "(BODY.PEEK[])"), "UID FETCH BODY[]")
            latencies.append(("UID FETCH BODY.PEEK[]", time.monotonic() - t0))
            if not any(isinstance(x, tuple) and len(x[1]) > 1000 for x in body):
                raise BenchError(f"UID FETCH {uid} BODY.PEEK[] returned no body: {body!r}"[:300])
            commands += 1
        for n, uid in enumerate(rng.sample(uids, plan.stores)):
            op, flag = (("+FLAGS", "(\\Flagged)"), ("+FLAGS", "(\\Seen)"), ("-FLAGS", "(\\Seen)"))[
                n % 3
            ]
            t0 = time.monotonic()
            _check(conn.uid("STORE", str(uid), op, flag), "UID STORE")
            latencies.append(("UID STORE", time.monotonic() - t0))
            commands += 1
        for n in range(plan.searches):
            criteria = SEARCHES[n % len(SEARCHES)]
            t0 = time.monotonic()
            _check(conn.uid("SEARCH", *criteria), "UID SEARCH")
            latencies.append((f"UID SEARCH {criteria[0]}", time.monotonic() - t0))
            commands += 1
        mine: list[bytes] = []
        for raw in appends:
            t0 = time.monotonic()
            reply = _check(conn.append("INBOX", "(\\Seen)", None, raw), "APPEND")
            latencies.append(("APPEND", time.monotonic() - t0))
            m = _APPENDUID.search(b" ".join(x for x in reply if isinstance(x, bytes)))
            if m is None:
                raise BenchError(f"APPEND answered without APPENDUID: {reply!r}")
            mine.append(m[1])
            commands += 1
        uidset = b",".join(mine).decode()
        t0 = time.monotonic()
        _check(conn.uid("STORE", uidset, "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE \\Deleted")
        latencies.append(("UID STORE \\Deleted", time.monotonic() - t0))
        t0 = time.monotonic()
        _check(conn.uid("EXPUNGE", uidset), "UID EXPUNGE")
        latencies.append(("UID EXPUNGE", time.monotonic() - t0))
        commands += 2
        t0 = time.monotonic()
        conn.logout()
        latencies.append(("LOGOUT", time.monotonic() - t0))
        commands += 1
    except (OSError, imaplib.IMAP4.error, BenchError) as exc:
        errors.append(f"client {index}: {type(exc).__name__}: {exc}"[:300])
    end = time.monotonic()
    results.put(
        _SessionReport(
            start,
            end,
            time.process_time() - cpu_start,
            commands,
            login_s,
            fetch_all_s,
            tuple(errors),
            tuple(latencies),
        )
    )


@dataclass(frozen=True, slots=True)
class _SessionsResult:
    commands: int
    seconds: float
    cpu: float
    login_median_s: float
    fetch_all_median_s: float
    errors: tuple[str, ...]
    latencies: tuple[CommandLatency, ...] = ()


def command_latencies(reports: Sequence[_SessionReport]) -> tuple[CommandLatency, ...]:
    """Per command kind, in session order: the workers run their commands one after the other,
    so a kind's share of the summed wall time is its share of the run."""
    by_kind: dict[str, list[float]] = {}
    for r in reports:
        for kind, seconds in r.latencies:
            by_kind.setdefault(kind, []).append(seconds)
    return tuple(
        CommandLatency(
            kind=kind,
            count=len(values),
            median_ms=statistics.median(values) * 1000,
            mean_ms=statistics.fmean(values) * 1000,
            total_s=sum(values),
        )
        for kind, values in by_kind.items()
    )


def process_tree_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of ``pid`` and its live descendants, including the children
    they have reaped (``cutime``/``cstime``): Dovecot's per-connection imap processes exit at
    LOGOUT and their time moves to the master once it reaps them."""
    if pid is None:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    found = False
    for _ in range(5):  # a short-lived child may vanish while the tree is walked
        try:
            tree = descendants(pid)
            break
        except OSError:
            continue
    else:
        return None
    for p in tree:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields[0] is field 3 (state); utime..cstime are fields 14..17 (proc(5)).
        total += sum(int(x) for x in fields[11:15])
        found = True
    return total / ticks if found else None


def run_sessions(host: str, port: int, plan: ImapPlan, timeout: float = 900.0) -> _SessionsResult:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(plan.clients)
    results: multiprocessing.SimpleQueue[_SessionReport] = ctx.SimpleQueue()
    workers = [
        ctx.Process(
            target=_session_worker, args=(host, port, plan, i, barrier, results), daemon=True
        )
        for i in range(plan.clients)
    ]
    for w in workers:
        w.start()
    deadline = time.monotonic() + timeout
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()))
    reports: list[_SessionReport] = []
    while not results.empty():
        reports.append(results.get())
    for w in workers:
        if w.is_alive():
            w.kill()
            w.join()
    if len(reports) != len(workers):
        raise BenchError(f"{len(workers) - len(reports)} of {len(workers)} IMAP clients died")
    return _SessionsResult(
        commands=sum(r.commands for r in reports),
        seconds=max(r.end for r in reports) - min(r.start for r in reports),
        cpu=sum(r.cpu for r in reports),
        login_median_s=statistics.median(r.login_s for r in reports),
        fetch_all_median_s=statistics.median(r.fetch_all_s for r in reports),
        errors=tuple(e for r in reports for e in r.errors),
        latencies=command_latencies(reports),
    )


# -- IDLE wake-up -------------------------------------------------------------------------------


def measure_idle(target: ImapBenchTarget, plan: ImapPlan, have: int) -> tuple[list[float], int]:
    """Latencies (s) from LMTP 250 to EXISTS; also the number of wake-ups that never came."""
    watcher = IdleWatcher(target.host, target.imap_port)
    watcher.start()
    latencies: list[float] = []
    missed = 0
    try:
        with smtplib.LMTP(target.host, target.lmtp_port, timeout=60) as lmtp:
            lmtp.ehlo("bench.client")
            for i in range(plan.idle_deliveries):
                message = make_message(20_000_000 + i, USER)
                lmtp.sendmail(message.sender, [USER], message.data)
                accepted = time.monotonic()
                arrived = watcher.wait_exists(have + i + 1)
                if arrived is None:
                    missed += 1
                else:
                    latencies.append(arrived - accepted)
                time.sleep(0.05)  # let the server settle; deliveries are not back to back
    finally:
        watcher.stop()
    return latencies, missed


def mailbox_size(host: str, port: int) -> int | None:
    try:
        conn = imaplib.IMAP4(host, port, timeout=60)
        conn.login(USER, PASSWORD)
        status, data = conn.status("INBOX", "(MESSAGES)")
        conn.logout()
    except (OSError, imaplib.IMAP4.error):
        return None
    m = re.search(rb"MESSAGES (\d+)", data[0] if data and isinstance(data[0], bytes) else b"")
    return int(m[1]) if status == "OK" and m else None


def measure_imap(target: ImapBenchTarget, plan: ImapPlan) -> ImapFigures:
    """Fill the mailbox, run the sessions, then the IDLE wake-ups, on a started server."""
    fill = run_lmtp_load(
        LmtpLoad(
            host=target.host,
            port=target.lmtp_port,
            recipients=(USER,),
            messages=plan.mailbox,
            connections=4,
        )
    )
    if fill.delivered != plan.mailbox:
        raise BenchError(f"filling the mailbox: {fill.failed} failed: {fill.errors[:3]}")
    have = mailbox_size(target.host, target.imap_port)
    if have != plan.mailbox:
        raise BenchError(f"mailbox holds {have} messages after delivering {plan.mailbox}")
    print(f"  {target.name}: mailbox of {have} messages delivered", flush=True)
    cpu_before = process_tree_cpu_s(target.pid)
    sessions = run_sessions(target.host, target.imap_port, plan)
    cpu_after = process_tree_cpu_s(target.pid)
    server_cpu = (
        cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    )
    rate = sessions.commands / sessions.seconds if sessions.seconds else 0.0
    print(
        f"  {target.name}: {plan.clients} clients: {rate:8.1f} commands/s "
        f"({sessions.commands} commands in {sessions.seconds:.2f} s)",
        flush=True,
    )
    latencies, missed = measure_idle(target, plan, plan.mailbox)
    idle_errors = (
        (f"{missed} of {plan.idle_deliveries} deliveries never woke IDLE",) if missed else ()
    )
    if latencies:
        print(
            f"  {target.name}: IDLE wake-up median {statistics.median(latencies) * 1000:.1f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms",
            flush=True,
        )
    rss = target.peak_rss()
    stored = mailbox_size(target.host, target.imap_port)
    return ImapFigures(
        server=target.name,
        clients=plan.clients,
        commands=sessions.commands,
        expected_commands=plan.clients * plan.commands_per_client,
        seconds=sessions.seconds,
        client_cores=sessions.cpu / sessions.seconds if sessions.seconds else 0.0,
        login_median_ms=sessions.login_median_s * 1000,
        fetch_all_median_s=sessions.fetch_all_median_s,
        idle_median_ms=statistics.median(latencies) * 1000 if latencies else None,
        idle_p95_ms=percentile(latencies, 0.95) * 1000 if latencies else None,
        idle_samples=len(latencies),
        expected_messages=plan.mailbox + plan.idle_deliveries,
        stored_messages=stored,
        peak_rss_kib=getattr(rss, "total_kib", None),
        errors=(sessions.errors + idle_errors)[:10],
        latencies=sessions.latencies,
        server_cpu_s=server_cpu,
    )


# -- report -------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "n/a"


def format_imap_table(figures: list[ImapFigures], plan: ImapPlan, notes: list[str]) -> str:
    header = (
        f"{'server':<13} {'commands/s':>10} {'wall s':>7} {'login ms':>9} {'FETCH 1:* s':>11} "
        f"{'IDLE med ms':>11} {'IDLE p95 ms':>11} {'messages':>11} {'RSS MiB':>8}"
    )
    lines = [
        f"IMAP: {plan.clients} clients x {plan.commands_per_client} commands on a "
        f"{plan.mailbox}-message mailbox; IDLE wake-up over {plan.idle_deliveries} LMTP deliveries",
        header,
        "-" * len(header),
    ]
    for f in figures:
        stored = f"{f.stored_messages if f.stored_messages is not None else '?'}/"
        stored += f"{f.expected_messages}" + ("" if f.verified else " !")
        rss = f"{f.peak_rss_kib / 1024:.1f}" if f.peak_rss_kib is not None else "n/a"
        lines.append(
            f"{f.server:<13} {f.rate:>10.1f} {f.seconds:>7.2f} {f.login_median_ms:>9.1f} "
            f"{f.fetch_all_median_s:>11.3f} {_ms(f.idle_median_ms):>11} "
            f"{_ms(f.idle_p95_ms):>11} {stored:>11} {rss:>8}"
        )
    for r in imap_ratios(figures):
        lines.append(
            f"ratio {OURS} / {PEER}: commands/s {r['commands']:.2f}x, "
            f"IDLE median latency {r['idle_median']:.3g}x (lower is better)"
        )
    lines.append(
        "login ms = median LOGIN time per client, outside the commands/s clock; "
        "FETCH 1:* s = median time of the all-envelopes FETCH; RSS = sum of peak RSS over "
        "the server's process tree (one process for stalwart-py)"
    )
    lines.extend(format_latency_table(figures))
    for f in figures:
        cpu = f.cpu_ms_per_command
        if cpu is not None:
            lines.append(
                f"server CPU during {f.server} sessions: {f.server_cpu_s:.2f} s, "
                f"{cpu:.2f} ms per command (user + system of the process tree)"
            )
        lines.append(
            f"load generator CPU during {f.server} sessions: {f.client_cores:.2f} cores "
            f"of {os.cpu_count()}"
        )
        if f.commands != f.expected_commands:
            lines.append(f"! {f.server}: {f.commands} of {f.expected_commands} commands completed")
        for err in f.errors[:3]:
            lines.append(f"! {f.server}: {err}")
    lines.extend(f"note: {note}" for note in notes)
    return "\n".join(lines)


def format_latency_table(figures: list[ImapFigures]) -> list[str]:
    """Median (and summed) wall time per command kind, one column pair per server."""
    shown = [f for f in figures if f.latencies]
    if not shown:
        return []
    kinds: list[str] = []
    for f in shown:
        kinds += [c.kind for c in f.latencies if c.kind not in kinds]
    header = f"{'command (median ms / summed s)':<32}" + "".join(f" {f.server:>20}" for f in shown)
    lines = ["", header, "-" * len(header)]
    for kind in kinds:
        row = f"{kind:<32}"
        for f in shown:
            c = next((c for c in f.latencies if c.kind == kind), None)
            cell = f"{c.median_ms:.2f} / {c.total_s:.2f}" if c is not None else "-"
            row += f" {cell:>20}"
        lines.append(row)
    lines.append("")
    return lines


def imap_ratios(figures: list[ImapFigures]) -> list[dict[str, float]]:
    by_name = {f.server: f for f in figures}
    ours, peer = by_name.get(OURS), by_name.get(PEER)
    if ours is None or peer is None or not peer.rate:
        return []
    idle = (
        ours.idle_median_ms / peer.idle_median_ms
        if ours.idle_median_ms is not None and peer.idle_median_ms
        else float("nan")
    )
    return [{"commands": ours.rate / peer.rate, "idle_median": idle}]


def imap_record(
    figures: list[ImapFigures], plan: ImapPlan, notes: list[str], argv: list[str]
) -> dict[str, object]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine_info(),
        "workload": "imap",
        "command": " ".join(argv),
        "plan": asdict(plan),
        "results": [{**asdict(f), "rate": f.rate, "verified": f.verified} for f in figures],
        "ratios": [{"peer": PEER, **r} for r in imap_ratios(figures)],
        "notes": notes,
    }


# -- the workload entry point -------------------------------------------------------------------

Factory = Callable[[], AbstractContextManager[ImapBenchTarget]]


def _targets(args: argparse.Namespace, notes: list[str]) -> Iterator[tuple[str, Factory]]:
    if not args.no_stalwart:
        ok = stalwart_available()
        if ok.available:
            yield OURS, lambda: StalwartImapServer((USER,))
        else:
            note = f"stalwart-py UNAVAILABLE, not measured: {ok.reason}"
            print(note, flush=True)
            notes.append(note)
    if args.no_dovecot:
        return
    dovecot = ensure_dovecot(want_fts=False, install=not args.no_install)
    if not dovecot.available:
        note = f"Dovecot UNAVAILABLE, measuring stalwart-py alone: {dovecot.reason}"
        print(note, flush=True)
        notes.append(note)
        return
    notes.append(f"Dovecot {dovecot.version} (Maildir, imap + lmtp, no FTS: no text searches)")
    yield PEER, lambda: DovecotServer((USER,), fts=False, imap=True)


def run_imap(args: argparse.Namespace, argv: list[str]) -> bool:
    """The IMAP workload on every available server. True when all went well."""
    plan = ImapPlan(mailbox=args.imap_mailbox, clients=args.imap_clients)
    notes = [
        f"one account; {plan.clients} client processes (imaplib), each one session; "
        f"searches: {', '.join(' '.join(s) for s in SEARCHES)}",
        "LOGIN is outside the clock; stalwart-py verifies argon2 hashes but its login cache "
        "is warm (the bench logged in once to check the mailbox), Dovecot compares {PLAIN}",
    ]
    figures: list[ImapFigures] = []
    load_before = os.getloadavg()[0]
    ok = True
    for name, factory in _targets(args, notes):
        print(f"IMAP workload on {name} ...", flush=True)
        try:
            with factory() as server:
                try:
                    figures.append(measure_imap(server, plan))
                except BaseException:
                    print(server.log_tail(), file=sys.stderr)
                    raise
        except (BenchError, RuntimeError, OSError) as exc:
            ok = False
            note = f"{name} FAILED: {exc}"
            print(note, file=sys.stderr, flush=True)
            notes.append(failure_note(note))
    ok = ok and bool(figures) and all(f.verified for f in figures)
    notes.append(
        f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"(on {os.cpu_count()} CPUs; anything well above the bench's own load skews figures)"
    )
    print()
    print(format_imap_table(figures, plan, notes))
    if figures:
        append_result(imap_record(figures, plan, notes, argv))
        print("\nappended to tests/bench/results.jsonl")
    return ok
