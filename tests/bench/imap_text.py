"""IMAP ``SEARCH TEXT`` of an infix needle over a large mailbox (RFC 3501 §6.4.4 substrings).

The mailbox is the JMAP workload's (:mod:`tests.bench.jmap`): ``messages`` 4 KB messages
delivered over LMTP, every 100th carrying :data:`~tests.bench.jmap.MARKER` (``kilimanjaro``),
so a needle inside that word matches exactly 1 %. Once the full-text index has caught up (the
JMAP text query's total reaches the number of marked messages), one IMAP session (plaintext
LOGIN on loopback, the server is started with IMAP enabled through ``STALWART_IMAP_*``)
selects INBOX and times ``queries`` sequential commands of each kind, every answer checked:

* ``UID SEARCH TEXT limanja`` — an infix no word index can answer (the substring scan);
* ``UID SEARCH TEXT kilimanjaro`` — the whole word, through the same substring scan;
* the baseline measured in the same run on the same mailbox: JMAP ``Email/query`` with
  ``filter: {"text": "kilimanjaro"}`` (tantivy word index, limit 50, calculateTotal).

Reported: p50/p95 per kind, the infix p50 as a ratio to the word-index baseline, and the
server's peak RSS. ``--jmap-data DIR`` reuses a prepared data directory (100,000 deliveries
take minutes).
"""

from __future__ import annotations

import argparse
import imaplib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.jmap import (
    MARKER,
    USER,
    USING,
    JmapClient,
    JmapPlan,
    StalwartJmapServer,
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

INFIX = MARKER[2:-3]  # "limanja": inside the word, never a word of its own


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


def measure(
    server: StalwartJmapServer, imap_port: int, messages: int, queries: int
) -> list[Timing]:
    account = discover(server.host, server.http_port)
    fill_to(server, account, messages, JmapPlan(text_messages=messages))
    expected = marked_count(messages)
    wait_text_index(server.host, server.http_port, account, expected)
    out: list[Timing] = []
    imap = imaplib.IMAP4(server.host, imap_port)
    try:
        imap.login(USER, PASSWORD)
        imap.select("INBOX", readonly=True)
        for needle in (INFIX, MARKER):

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


def run_imap_text(args: argparse.Namespace, argv: list[str]) -> bool:
    blocked = stalwart_blocked(args.no_stalwart, "IMAP SEARCH TEXT workload")
    if blocked is not None:
        return blocked
    messages, queries = args.imap_text_messages, args.imap_text_queries
    imap_port = free_port()
    overrides = {
        "STALWART_IMAP_ENABLED": "true",
        "STALWART_IMAP_PORT": str(imap_port),
        "STALWART_IMAP_TLS_PORT": str(free_port()),
        "STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "true",
    }
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)  # the server process inherits them (they beat the file)
    notes: list[str] = []
    timings: list[Timing] = []
    rss = None
    print(f"IMAP SEARCH TEXT over {messages} messages on stalwart-py ...", flush=True)
    root = Path(args.jmap_data).resolve() if args.jmap_data else None
    try:
        with StalwartJmapServer(root) as server:
            try:
                timings = measure(server, imap_port, messages, queries)
                rss = server.peak_rss_kib()
            except BaseException:
                print(server.log_tail(), file=sys.stderr)
                raise
    except (BenchError, OSError, imaplib.IMAP4.error) as exc:
        print(f"stalwart-py FAILED: {exc}", file=sys.stderr, flush=True)
        notes.append(failure_note(f"stalwart-py FAILED: {exc}"))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if not timings:
        return False
    ratio = timings[0].p50_ms / timings[-1].p50_ms
    print(f"\n{queries} sequential queries each, {messages} messages, {timings[0].matches} match")
    for t in timings:
        print(f"  {t.what:<52} p50 {t.p50_ms:8.1f} ms  p95 {t.p95_ms:8.1f} ms")
    print(f"  infix SEARCH TEXT p50 / word-index query p50: {ratio:.1f}x")
    if rss is not None:
        print(f"  server peak RSS: {rss / 1024:.1f} MiB")
    append_result(
        {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "machine": machine_info(),
            "workload": "imap-text",
            "command": " ".join(argv),
            "plan": {"messages": messages, "queries": queries, "infix": INFIX},
            "results": [asdict(t) for t in timings],
            "infix_to_word_index_p50": ratio,
            "peak_rss_kib": rss,
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
