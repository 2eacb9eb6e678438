"""IMAP ``SEARCH TEXT`` of an infix needle over a large mailbox (RFC 3501 §6.4.4 substrings).

The mailbox is the JMAP workload's (:mod:`tests.bench.jmap`): ``messages`` 4 KB messages
delivered over LMTP, every 100th carrying :data:`~tests.bench.jmap.MARKER` (``kilimanjaro``),
so a needle inside that word matches exactly 1 %. Once the full-text index has caught up (the
JMAP text query's total reaches the number of marked messages), one IMAP session (plaintext
LOGIN on loopback, the server is started with IMAP enabled through ``STALWART_IMAP_*``)
selects INBOX and times ``queries`` sequential commands of each kind, every answer checked:

* ``UID SEARCH TEXT limanj`` — an infix no word index can answer (the substring scan);
* ``UID SEARCH TEXT kilimanjaro`` — the whole word, through the same substring scan;
* the baseline measured in the same run on the same mailbox: JMAP ``Email/query`` with
  ``filter: {"text": "kilimanjaro"}`` (tantivy word index, limit 50, calculateTotal).

Then, unless ``--no-dovecot``, the peer: Dovecot (Maildir, no FTS plugin, so its SEARCH TEXT
reads every message) gets the same messages over LMTP and answers the same infix search
(at most 5 timed, it is slow). Reported: p50/p95 per kind, the infix p50 as ratios to the
word-index query and to Dovecot, and peak RSS. ``--jmap-data DIR`` reuses a prepared
stalwart-py data directory (100,000 deliveries take minutes; Dovecot's are always fresh).
"""

from __future__ import annotations

import argparse
import imaplib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.dovecot import DovecotServer, ensure_dovecot
from tests.bench.jmap import (
    MARKER,
    USER,
    USING,
    JmapClient,
    JmapPlan,
    StalwartJmapServer,
    deliver,
    discover,
    fill_to,
    marked_count,
    percentile,
    text_query,
    wait_text_index,
)
from tests.bench.procs import BenchError, failure_note, free_port, git_commit, machine_info
from tests.bench.report import append_result
from tests.bench.stalwart import PASSWORD, stalwart_blocked

INFIX = MARKER[2:-3]  # "limanj": inside the word, never a word of its own


@dataclass(frozen=True, slots=True)
class Timing:
    what: str
    matches: int
    p50_ms: float
    p95_ms: float


def _time(n: int, run: Callable[[], int]) -> tuple[list[float], int]:
    """``n`` timed calls of ``run``: the latencies (s) and the last call's match count."""
    latencies = []
    matches = -1
    for _ in range(n):
        t0 = time.monotonic()
        matches = run()
        latencies.append(time.monotonic() - t0)
    return latencies, matches


def _timing(what: str, latencies: list[float], matches: int) -> Timing:
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    return Timing(what, matches, p50 * 1000, p95 * 1000)


def time_imap_search(
    host: str, port: int, password: str, needles: tuple[str, ...], expected: int, queries: int
) -> list[Timing]:
    """``queries`` timed ``UID SEARCH TEXT`` per needle in one session (after one warm-up);
    each must find ``expected`` messages."""
    out: list[Timing] = []
    imap = imaplib.IMAP4(host, port)
    try:
        imap.login(USER, password)
        imap.select("INBOX", readonly=True)
        for needle in needles:

            def search(needle: str = needle) -> int:
                status, data = imap.uid("SEARCH", "TEXT", needle)
                if status != "OK":
                    raise BenchError(f"SEARCH TEXT {needle} -> {status} {data!r}")
                return len(data[0].split())

            search()  # warm-up
            latencies, found = _time(queries, search)
            if found != expected:
                raise BenchError(f"SEARCH TEXT {needle} found {found}, expected {expected}")
            out.append(_timing(f"IMAP UID SEARCH TEXT {needle}", latencies, found))
    finally:
        imap.logout()
    return out


def measure(
    server: StalwartJmapServer, imap_port: int, messages: int, queries: int
) -> list[Timing]:
    account = discover(server.host, server.http_port)
    fill_to(server, account, messages, JmapPlan(text_messages=messages))
    expected = marked_count(messages)
    wait_text_index(server.host, server.http_port, account, expected)
    out = time_imap_search(server.host, imap_port, PASSWORD, (INFIX, MARKER), expected, queries)
    client = JmapClient(server.host, server.http_port)
    body = json.dumps({"using": USING, "methodCalls": text_query(account)}).encode()

    def query() -> int:
        status, data = client.raw("POST", "/jmap/", body)
        if status != 200:
            raise BenchError(f"JMAP text query -> {status}")
        return int(json.loads(data)["methodResponses"][0][1]["total"])

    try:
        query()
        latencies, found = _time(queries, query)
    finally:
        client.close()
    if found != expected:
        raise BenchError(f"JMAP text query found {found}, expected {expected}")
    out.append(_timing(f"JMAP Email/query text {MARKER} (word index)", latencies, found))
    return out


def measure_dovecot(messages: int, queries: int) -> tuple[list[Timing], int | None]:
    """Dovecot 2.3 (Maildir, no FTS plugin) with the same messages delivered over LMTP: its
    SEARCH TEXT reads every message.  The timings, and the peak RSS of all its processes."""
    with DovecotServer((USER,), fts=False, imap=True) as dovecot:
        print(f"  delivering {messages} messages to Dovecot over LMTP ...", flush=True)
        seconds = deliver(dovecot.host, dovecot.lmtp_port, 0, messages, 4)
        print(f"  delivered in {seconds:.1f} s", flush=True)
        timings = time_imap_search(
            dovecot.host, dovecot.imap_port, "secret", (INFIX,), marked_count(messages), queries
        )
        rss = dovecot.peak_rss()
        return [replace(t, what="dovecot " + t.what) for t in timings], (
            rss.total_kib if rss is not None else None
        )


@contextmanager
def _imap_enabled(port: int) -> Iterator[None]:
    """The stalwart-py server started meanwhile serves IMAP on ``port`` (environment overrides
    beat the config file, and the server process inherits them)."""
    overrides = {
        "STALWART_IMAP_ENABLED": "true",
        "STALWART_IMAP_PORT": str(port),
        "STALWART_IMAP_TLS_PORT": str(free_port()),
        "STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "true",
    }
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _stalwart(args: argparse.Namespace, notes: list[str]) -> tuple[list[Timing], int | None]:
    imap_port = free_port()
    root = Path(args.jmap_data).resolve() if args.jmap_data else None
    print(f"IMAP SEARCH TEXT over {args.imap_text_messages} messages on stalwart-py ...")
    try:
        with _imap_enabled(imap_port), StalwartJmapServer(root) as server:
            try:
                timings = measure(
                    server, imap_port, args.imap_text_messages, args.imap_text_queries
                )
                return timings, server.peak_rss_kib()
            except BaseException:
                print(server.log_tail(), file=sys.stderr)
                raise
    except (BenchError, OSError, imaplib.IMAP4.error) as exc:
        print(f"stalwart-py FAILED: {exc}", file=sys.stderr, flush=True)
        notes.append(failure_note(f"stalwart-py FAILED: {exc}"))
        return [], None


def _dovecot(args: argparse.Namespace, notes: list[str]) -> tuple[list[Timing], int | None]:
    if args.no_dovecot:
        return [], None
    dovecot = ensure_dovecot(want_fts=False, install=not args.no_install)
    if not dovecot.available:
        notes.append(f"Dovecot UNAVAILABLE, not measured: {dovecot.reason}")
        return [], None
    notes.append(f"Dovecot {dovecot.version} (Maildir, no FTS plugin)")
    print(f"IMAP SEARCH TEXT over {args.imap_text_messages} messages on Dovecot ...")
    try:
        return measure_dovecot(args.imap_text_messages, min(args.imap_text_queries, 5))
    except (BenchError, OSError, imaplib.IMAP4.error) as exc:
        print(f"Dovecot FAILED: {exc}", file=sys.stderr, flush=True)
        notes.append(failure_note(f"Dovecot FAILED: {exc}"))
        return [], None


def run_imap_text(args: argparse.Namespace, argv: list[str]) -> bool:
    blocked = stalwart_blocked(args.no_stalwart, "IMAP SEARCH TEXT workload")
    if blocked is not None:
        return blocked
    notes: list[str] = []
    load_before = os.getloadavg()[0]
    timings, rss = _stalwart(args, notes)
    if not timings:
        return False
    peer, peer_rss = _dovecot(args, notes)
    notes.append(
        f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"(on {os.cpu_count()} CPUs)"
    )
    infix, word_index = timings[0], timings[-1]
    ratios = {"infix_to_word_index_p50": infix.p50_ms / word_index.p50_ms}
    if peer:
        ratios["infix_to_dovecot_p50"] = infix.p50_ms / peer[0].p50_ms
    print(f"\n{args.imap_text_messages} messages, {infix.matches} match")
    for t in timings + peer:
        print(f"  {t.what:<60} p50 {t.p50_ms:9.1f} ms  p95 {t.p95_ms:9.1f} ms")
    for name, ratio in ratios.items():
        print(f"  {name}: {ratio:.3g}")
    print(f"  peak RSS: stalwart-py {rss} KiB, Dovecot (all processes) {peer_rss} KiB")
    for n in notes:
        print(f"note: {n}")
    append_result(
        {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "machine": machine_info(),
            "workload": "imap-text",
            "command": " ".join(argv),
            "plan": {
                "messages": args.imap_text_messages,
                "queries": args.imap_text_queries,
                "infix": INFIX,
            },
            "results": [asdict(t) for t in timings + peer],
            **ratios,
            "peak_rss_kib": {"stalwart-py": rss, "dovecot": peer_rss},
            "notes": notes,
        }
    )
    print("\nappended to tests/bench/results.jsonl")
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--imap-text-*`` options (the mailbox takes minutes to deliver)."""
    for name, default, what in (
        ("messages", 100_000, "messages searched (100000; delivery takes minutes)"),
        ("queries", 20, "searches timed per kind (20)"),
    ):
        parser.add_argument(f"--imap-text-{name}", type=int, default=default, help=what)
