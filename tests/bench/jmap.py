"""JMAP workload: a mail client's "open the inbox" request, and full-text Email/query latency.

One stalwart-py account, one data directory reused by every phase:

1. ``mailbox`` messages (4 KB, :mod:`tests.bench.messages`; every 100th carries a marker word,
   :data:`MARKER`, so a text filter matches exactly 1 % of the mail) are delivered over LMTP
   (4 connections, separate processes); the delivery time is printed.
2. **Inbox request** (RFC 8620 §3.3, RFC 8621): one POST to ``/jmap/`` holding ``Mailbox/get``
   (all mailboxes), ``Email/query`` (``inMailbox`` the inbox, sort ``receivedAt`` descending,
   ``limit`` 50) and ``Email/get`` of those 50 ids by result reference (§3.7) with the
   properties of a message list (id, threadId, mailboxIds, keywords, from, subject,
   receivedAt, size, preview). The load generator is one process per keep-alive connection
   (raw :mod:`http.client`, one request in flight per connection, no JMAP library), on 1 and
   on ``connections`` connections, for ``seconds`` each; requests/s is completed requests over
   the wall time from the first worker starting to the last one finishing. Every response's
   status is checked, and every 25th one is decoded and verified in full (3 method responses,
   50 emails with a subject). The client's own CPU is reported, in cores.
   (c) The same request on ``connections`` connections again while one LMTP connection in the
   bench process delivers ``deliveries_per_second`` unmarked messages into the same account
   (each one changes the mailbox under the server's cached answers); afterwards those messages
   are destroyed over JMAP, so the data directory keeps its size.
3. The mailbox is topped up to ``text_messages`` messages (default 100,000: that takes minutes;
   the delivery time is printed), the full-text index is awaited (the text query's total must
   reach the exact number of marked messages), then ``queries`` sequential ``Email/query``
   requests with ``filter: {"text": MARKER}``, sort receivedAt descending, limit 50 and
   ``calculateTotal`` give the p50 and p95 latency (client-side, whole HTTP round trip). The
   same figure is also taken at ``mailbox`` messages, before the top-up.

``--jmap-data DIR`` keeps the prepared data directory in ``DIR`` between bench runs: a later
run reuses it and only delivers what is missing (handy when profiling: 100,000 deliveries
take several minutes). Without it a temp dir is used and removed.

Peer: Cyrus IMAP (the JMAP server the issue compares with) is not packaged for this machine,
so it is not measured; the issue quotes Cyrus 3.6 at about 20 requests/s keep-alive.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import http.client
import json
import multiprocessing
import os
import smtplib
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.jmap_server import USER, StalwartJmapServer
from tests.bench.load import LoadRequest, Throughput, percentile, run_load
from tests.bench.messages import make_message
from tests.bench.procs import (
    BenchError,
    failure_note,
    git_commit,
    machine_info,
)
from tests.bench.report import append_result
from tests.bench.stalwart import PASSWORD, stalwart_blocked

MARKER = "kilimanjaro"  # not in the generator's vocabulary: only the marked messages have it
MARK_EVERY = 100  # message i carries MARKER when i % MARK_EVERY == 0: exactly 1 %
CYRUS_NOTE = (
    "Cyrus IMAP is not available on this machine (no package), so no peer was measured; "
    "the issue quotes Cyrus 3.6 at about 20 requests/s keep-alive for this kind of request"
)
USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"]
LIST_PROPERTIES = [
    "id",
    "threadId",
    "mailboxIds",
    "keywords",
    "from",
    "subject",
    "receivedAt",
    "size",
    "preview",
]


@dataclass(frozen=True, slots=True)
class JmapPlan:
    mailbox: int = 10_000
    text_messages: int = 100_000
    connections: int = 8
    seconds: float = 10.0
    queries: int = 200
    delivery_connections: int = 4
    deliveries_per_second: float = 20.0  # (c): LMTP deliveries during a run; 0 skips it


# -- a minimal JMAP client (http.client, keep-alive) --------------------------------------------


def _auth_header() -> str:
    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


class JmapClient:
    """One keep-alive HTTP/1.1 connection; just enough JMAP for the bench."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=300)
        self.headers = {"Authorization": _auth_header(), "Content-Type": "application/json"}

    def raw(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.conn.request(method, path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def session(self) -> dict[str, Any]:
        status, body = self.raw("GET", "/jmap/session")
        if status != 200:
            raise BenchError(f"GET /jmap/session -> {status}: {body[:200]!r}")
        session: dict[str, Any] = json.loads(body)
        return session

    def call(self, calls: list[list[Any]]) -> list[list[Any]]:
        body = json.dumps({"using": USING, "methodCalls": calls}).encode()
        status, data = self.raw("POST", "/jmap/", body)
        if status != 200:
            raise BenchError(f"POST /jmap/ -> {status}: {data[:300]!r}")
        responses: list[list[Any]] = json.loads(data)["methodResponses"]
        for name, args, _ in responses:
            if name == "error":
                raise BenchError(f"JMAP method error: {args}")
        return responses

    def close(self) -> None:
        self.conn.close()


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    inbox_id: str


def discover(host: str, port: int) -> Account:
    client = JmapClient(host, port)
    try:
        session = client.session()
        acct = session["primaryAccounts"]["urn:ietf:params:jmap:mail"]
        [[_, mailboxes, _]] = client.call([["Mailbox/get", {"accountId": acct, "ids": None}, "0"]])
        inbox = next(m["id"] for m in mailboxes["list"] if m.get("role") == "inbox")
        return Account(acct, inbox)
    finally:
        client.close()


def inbox_request(account: Account, limit: int = 50) -> bytes:
    """The workload (a) request body."""
    acct = account.account_id
    calls = [
        ["Mailbox/get", {"accountId": acct, "ids": None}, "0"],
        [
            "Email/query",
            {
                "accountId": acct,
                "filter": {"inMailbox": account.inbox_id},
                "sort": [{"property": "receivedAt", "isAscending": False}],
                "limit": limit,
            },
            "1",
        ],
        [
            "Email/get",
            {
                "accountId": acct,
                "#ids": {"resultOf": "1", "name": "Email/query", "path": "/ids"},
                "properties": LIST_PROPERTIES,
            },
            "2",
        ],
    ]
    return json.dumps({"using": USING, "methodCalls": calls}).encode()


def text_query(account: Account) -> list[list[Any]]:
    return [
        [
            "Email/query",
            {
                "accountId": account.account_id,
                "filter": {"text": MARKER},
                "sort": [{"property": "receivedAt", "isAscending": False}],
                "limit": 50,
                "calculateTotal": True,
            },
            "q",
        ]
    ]


def check_inbox_response(data: bytes, limit: int = 50) -> str | None:
    """None when ``data`` is a full, correct answer to :func:`inbox_request`; else why not."""
    try:
        responses = json.loads(data)["methodResponses"]
        names = [r[0] for r in responses]
        if names != ["Mailbox/get", "Email/query", "Email/get"]:
            return f"method responses {names}"
        ids = responses[1][1]["ids"]
        emails = responses[2][1]["list"]
        if len(ids) != limit or [e["id"] for e in emails] != ids:
            return f"{len(ids)} ids, {len(emails)} emails, or out of order"
        for e in emails:
            missing = [p for p in LIST_PROPERTIES if p not in e]
            if missing or not e["subject"] or not e["from"]:
                return f"email {e.get('id')} lacks {missing or 'subject/from'}"
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def inbox_load(body: bytes) -> LoadRequest:
    return LoadRequest(body, _auth_header(), check_inbox_response)


# -- delivery ----------------------------------------------------------------------------------


def marked_message(index: int) -> tuple[str, bytes]:
    """Message ``index`` of the generator; every 100th gets MARKER as its first body line."""
    message = make_message(index, USER)
    data = message.data
    if index % MARK_EVERY == 0:
        data = data.replace(b"\r\n\r\n", f"\r\n\r\nRef {MARKER}.\r\n".encode(), 1)
    return message.sender, data


def marked_count(total: int) -> int:
    return (total + MARK_EVERY - 1) // MARK_EVERY


def _deliver_worker(
    host: str, port: int, indices: range, results: multiprocessing.SimpleQueue[tuple[int, str]]
) -> None:
    delivered = 0
    error = ""
    client: smtplib.LMTP | None = None
    try:
        for n, index in enumerate(indices):
            if client is None or n % 100 == 0:
                if client is not None:
                    client.quit()
                client = smtplib.LMTP(host, port, timeout=300)
                client.ehlo("bench.client")
            sender, data = marked_message(index)
            client.sendmail(sender, [USER], data)
            delivered += 1
        if client is not None:
            client.quit()
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
    results.put((delivered, error))


def deliver(host: str, port: int, first: int, end: int, connections: int) -> float:
    """Deliver messages ``first``..``end-1``; returns the wall time. Raises on any failure."""
    if end <= first:
        return 0.0
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.SimpleQueue[tuple[int, str]] = ctx.SimpleQueue()
    count = end - first
    step = (count + connections - 1) // connections
    chunks = [range(s, min(s + step, end)) for s in range(first, end, step)]
    started = time.monotonic()
    workers = [
        ctx.Process(target=_deliver_worker, args=(host, port, c, results), daemon=True)
        for c in chunks
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.monotonic() - started
    reports = [results.get() for _ in workers if not results.empty()]
    done = sum(r[0] for r in reports)
    errors = [r[1] for r in reports if r[1]]
    if done != count or errors:
        raise BenchError(f"delivered {done} of {count} messages: {errors[:3]}")
    return seconds


def email_total(host: str, port: int, account: Account) -> int:
    client = JmapClient(host, port)
    try:
        [[_, result, _]] = client.call(
            [
                [
                    "Email/query",
                    {"accountId": account.account_id, "calculateTotal": True, "limit": 1},
                    "0",
                ]
            ]
        )
        return int(result["total"])
    finally:
        client.close()


def fill_to(server: StalwartJmapServer, account: Account, total: int, plan: JmapPlan) -> None:
    """Deliver until the account holds ``total`` messages (numbered from what it holds)."""
    have = email_total(server.host, server.http_port, account)
    if have > total:
        print(f"  prepared mailbox already holds {have} messages (> {total}); using it as is")
        return
    if have == total:
        print(f"  prepared mailbox holds {have} messages: reused, nothing delivered", flush=True)
        return
    print(f"  delivering messages {have}..{total - 1} over LMTP ...", flush=True)
    seconds = deliver(server.host, server.lmtp_port, have, total, plan.delivery_connections)
    print(
        f"  delivered {total - have} messages in {seconds:.1f} s "
        f"({(total - have) / seconds:.0f} msg/s, {plan.delivery_connections} connections)",
        flush=True,
    )
    now = email_total(server.host, server.http_port, account)
    if now != total:
        raise BenchError(f"the account holds {now} messages after delivering up to {total}")


# -- workload (c): requests/s while mail arrives ------------------------------------------------


class _Trickle:
    """Delivers unmarked generator messages over one LMTP connection at ``rate`` per second
    from a thread, until stopped (the mailbox then changes under the cached answers)."""

    def __init__(self, host: str, port: int, rate: float, first: int) -> None:
        self.host, self.port, self.rate = host, port, rate
        self.next_index = first
        self.delivered = 0
        self.error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lmtp-trickle", daemon=True)

    def __enter__(self) -> _Trickle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        try:
            client = smtplib.LMTP(self.host, self.port, timeout=60)
            client.ehlo("bench.trickle")
            due = time.monotonic()
            while not self._stop.is_set():
                if self.next_index % MARK_EVERY == 0:  # keep (b)'s marked count unchanged
                    self.next_index += 1
                sender, data = marked_message(self.next_index)
                self.next_index += 1
                client.sendmail(sender, [USER], data)
                self.delivered += 1
                due += 1 / self.rate
                self._stop.wait(max(0.0, due - time.monotonic()))
            client.quit()
        except (OSError, smtplib.SMTPException) as exc:
            self.error = f"{type(exc).__name__}: {exc}"


def remove_newest(host: str, port: int, account: Account, count: int) -> None:
    """Destroy the ``count`` most recently received emails (what a trickle delivered), so that
    a prepared data dir keeps its size for the next run."""
    client = JmapClient(host, port)
    try:
        while count > 0:
            batch = min(count, 500)
            [[_, query, _], [name, result, _]] = client.call(
                [
                    [
                        "Email/query",
                        {
                            "accountId": account.account_id,
                            "sort": [{"property": "receivedAt", "isAscending": False}],
                            "limit": batch,
                        },
                        "q",
                    ],
                    [
                        "Email/set",
                        {
                            "accountId": account.account_id,
                            "#destroy": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
                        },
                        "d",
                    ],
                ]
            )
            if name != "Email/set" or len(result.get("destroyed") or []) != len(query["ids"]):
                raise BenchError(f"could not remove the trickled messages: {result}")
            count -= batch
    finally:
        client.close()


def run_with_deliveries(
    server: StalwartJmapServer, account: Account, body: bytes, plan: JmapPlan
) -> Throughput:
    host = server.host
    started = time.monotonic()
    with _Trickle(host, server.lmtp_port, plan.deliveries_per_second, 50_000_001) as trickle:
        t = run_load(
            host,
            server.http_port,
            inbox_load(body),
            plan.connections,
            plan.seconds,
            server.cpu_seconds,
        )
    seconds = time.monotonic() - started
    if trickle.error:
        raise BenchError(f"LMTP trickle failed: {trickle.error}")
    remove_newest(host, server.http_port, account, trickle.delivered)
    return dataclasses.replace(t, delivered=trickle.delivered, delivery_seconds=seconds)


# -- workload (b): text query latency ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextLatency:
    messages: int
    matches: int
    queries: int
    p50_ms: float
    p95_ms: float
    index_wait_s: float


def wait_text_index(
    host: str, port: int, account: Account, expected: int, timeout: float = 1800
) -> float:
    """Poll the text query until its total reaches ``expected`` (the FTS index caught up)."""
    client = JmapClient(host, port)
    started = time.monotonic()
    try:
        while True:
            [[_, result, _]] = client.call(text_query(account))
            if result["total"] >= expected:
                if result["total"] != expected:
                    raise BenchError(f"text query found {result['total']}, expected {expected}")
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise BenchError(f"FTS index still at {result['total']} of {expected}")
            time.sleep(0.5)
    finally:
        client.close()


def measure_text(host: str, port: int, account: Account, messages: int, n: int) -> TextLatency:
    expected = marked_count(messages)
    waited = wait_text_index(host, port, account, expected)
    client = JmapClient(host, port)
    body = json.dumps({"using": USING, "methodCalls": text_query(account)}).encode()
    latencies: list[float] = []
    try:
        for _ in range(5):  # warm-up
            client.raw("POST", "/jmap/", body)
        for _ in range(n):
            t0 = time.monotonic()
            status, data = client.raw("POST", "/jmap/", body)
            latencies.append(time.monotonic() - t0)
            if status != 200:
                raise BenchError(f"text query -> {status}: {data[:200]!r}")
        result = json.loads(data)["methodResponses"][0][1]
        if result["total"] != expected or len(result["ids"]) != min(50, expected):
            raise BenchError(f"text query answered {result['total']} / {len(result['ids'])} ids")
    finally:
        client.close()
    return TextLatency(
        messages=messages,
        matches=expected,
        queries=n,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p95_ms=percentile(latencies, 0.95) * 1000,
        index_wait_s=waited,
    )


# -- the whole workload ------------------------------------------------------------------------


@dataclass(slots=True)
class JmapFigures:
    server: str = "stalwart-py"
    throughput: list[Throughput] = field(default_factory=list)
    text: list[TextLatency] = field(default_factory=list)
    peak_rss_kib: int | None = None

    @property
    def verified(self) -> bool:
        return bool(self.throughput) and all(t.verified and not t.errors for t in self.throughput)


def _print_throughput(t: Throughput) -> None:
    arriving = (
        f" while {t.delivered} messages arrive over LMTP ({t.delivery_rate:.1f}/s)"
        if t.delivered
        else ""
    )
    print(
        f"  inbox request, {t.connections} connection(s){arriving}: {t.rate:8.1f} req/s "
        f"(p50 {t.p50_ms:.1f} ms, p95 {t.p95_ms:.1f} ms; server CPU "
        f"{t.server_ms_per_request:.2f} ms/request, {t.server_cores:.2f} cores; client CPU "
        f"{t.client_cores:.2f} cores; {t.verified} responses verified in full)",
        flush=True,
    )
    for err in t.errors[:3]:
        print(f"  ! {err}", flush=True)


def measure_jmap(server: StalwartJmapServer, plan: JmapPlan, figures: JmapFigures) -> None:
    host, port = server.host, server.http_port
    account = discover(host, port)
    fill_to(server, account, plan.mailbox, plan)
    body = inbox_request(account)
    warm = JmapClient(host, port)
    for _ in range(20):  # builds the account index and warms the caches
        status, data = warm.raw("POST", "/jmap/", body)
        problem = check_inbox_response(data) if status == 200 else f"HTTP {status}"
        if problem is not None:
            raise BenchError(f"inbox request failed: {problem}: {data[:300]!r}")
    warm.close()
    for connections in sorted({1, plan.connections}):
        t = run_load(host, port, inbox_load(body), connections, plan.seconds, server.cpu_seconds)
        figures.throughput.append(t)
        _print_throughput(t)
    if plan.deliveries_per_second > 0:
        t = run_with_deliveries(server, account, body, plan)
        figures.throughput.append(t)
        _print_throughput(t)
    sizes = sorted({plan.mailbox, max(plan.mailbox, plan.text_messages)})
    for size in sizes:
        fill_to(server, account, size, plan)
        lat = measure_text(host, port, account, size, plan.queries)
        figures.text.append(lat)
        print(
            f"  text query over {size} messages ({lat.matches} match): "
            f"p50 {lat.p50_ms:.1f} ms, p95 {lat.p95_ms:.1f} ms "
            f"(index caught up {lat.index_wait_s:.1f} s after the last delivery)",
            flush=True,
        )
    figures.peak_rss_kib = server.peak_rss_kib()


def format_jmap_table(figures: JmapFigures, plan: JmapPlan, notes: list[str]) -> str:
    lines = [
        f"JMAP (a): Mailbox/get + Email/query (inbox, receivedAt desc, limit 50) + Email/get "
        f"(50, by result reference) in one request, {plan.mailbox}-message mailbox, "
        f"{plan.seconds:.0f} s per run",
        f"{'server':<13} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'srv CPU ms/req':>14} {'srv cores':>9} {'client cores':>12} {'verified':>9}",
    ]
    lines.append("-" * len(lines[-1]))
    for t in figures.throughput:
        lines.append(
            f"{figures.server:<13} {t.connections:>5} {t.rate:>9.1f} {t.p50_ms:>8.1f} "
            f"{t.p95_ms:>8.1f} {t.server_ms_per_request:>14.2f} {t.server_cores:>9.2f} "
            f"{t.client_cores:>12.2f} {t.verified:>9}"
            + (" !" if t.errors else "")
            + (f"  (c) while {t.delivery_rate:.0f} msg/s arrive" if t.delivered else "")
        )
    lines.append("cyrus 3.6      (not available here; the issue quotes ≈20 req/s keep-alive)")
    lines.append(
        "srv CPU ms/req = server process CPU (user+system) per request: 1000 / it is the rate "
        "one fully available core would give, whatever else loads the machine"
    )
    lines.append("")
    lines.append(
        f"JMAP (b): Email/query filter {{text: {MARKER!r}}} (1 % of messages), receivedAt desc, "
        "limit 50, calculateTotal; sequential, one connection"
    )
    head = f"{'messages':>9} {'matches':>8} {'queries':>8} {'p50 ms':>8} {'p95 ms':>8}"
    lines += [head, "-" * len(head)]
    for x in figures.text:
        lines.append(
            f"{x.messages:>9} {x.matches:>8} {x.queries:>8} {x.p50_ms:>8.1f} {x.p95_ms:>8.1f}"
        )
    if figures.peak_rss_kib is not None:
        lines.append(f"server peak RSS: {figures.peak_rss_kib / 1024:.1f} MiB")
    for t in figures.throughput:
        for err in t.errors[:3]:
            lines.append(f"! {t.connections} conn: {err}")
    lines.extend(f"note: {n}" for n in notes)
    return "\n".join(lines)


def run_jmap(args: argparse.Namespace, argv: list[str]) -> bool:
    """The JMAP workload (stalwart-py only: no peer is available here)."""
    plan = JmapPlan(
        mailbox=args.jmap_mailbox,
        text_messages=args.jmap_text_messages,
        connections=args.jmap_connections,
        seconds=args.jmap_seconds,
        queries=args.jmap_queries,
        deliveries_per_second=args.jmap_deliveries,
    )
    notes = [CYRUS_NOTE]
    print(f"note: {CYRUS_NOTE}", flush=True)
    blocked = stalwart_blocked(args.no_stalwart, "JMAP workload (no peer)")
    if blocked is not None:
        return blocked
    figures = JmapFigures()
    load_before = os.getloadavg()[0]
    root = Path(args.jmap_data).resolve() if args.jmap_data else None
    if root is not None:
        notes.append(f"prepared data dir kept in {root}")
    print("JMAP workload on stalwart-py ...", flush=True)
    try:
        with StalwartJmapServer(root) as server:
            try:
                measure_jmap(server, plan, figures)
            except BaseException:
                print(server.log_tail(), file=sys.stderr)
                raise
    except (BenchError, RuntimeError, OSError, http.client.HTTPException) as exc:
        print(f"stalwart-py FAILED: {exc}", file=sys.stderr, flush=True)
        notes.append(failure_note(f"stalwart-py FAILED: {exc}"))
        ok_run = False
    else:
        ok_run = figures.verified
    notes.append(
        f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"(on {os.cpu_count()} CPUs)"
    )
    print()
    print(format_jmap_table(figures, plan, notes))
    if figures.throughput or figures.text:
        append_result(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "git_commit": git_commit(),
                "machine": machine_info(),
                "workload": "jmap",
                "command": " ".join(argv),
                "plan": asdict(plan),
                "results": [
                    {
                        "server": figures.server,
                        "throughput": [
                            {
                                **asdict(t),
                                "rate": t.rate,
                                "server_ms_per_request": t.server_ms_per_request,
                            }
                            for t in figures.throughput
                        ],
                        "text_query": [asdict(x) for x in figures.text],
                        "peak_rss_kib": figures.peak_rss_kib,
                        "verified": figures.verified,
                    }
                ],
                "notes": notes,
            }
        )
        print("\nappended to tests/bench/results.jsonl")
    return ok_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--jmap-*`` options of ``tests.bench.run``."""
    parser.add_argument(
        "--jmap-mailbox", type=int, default=10_000, help="messages for the inbox request (10000)"
    )
    parser.add_argument(
        "--jmap-text-messages",
        type=int,
        default=100_000,
        help="messages for the text-query latency (100000; delivery takes minutes)",
    )
    parser.add_argument(
        "--jmap-connections", type=int, default=8, help="keep-alive connections (8, and 1)"
    )
    parser.add_argument(
        "--jmap-seconds", type=float, default=10.0, help="seconds per throughput run (10)"
    )
    parser.add_argument(
        "--jmap-deliveries",
        type=float,
        default=20.0,
        help="(c): LMTP deliveries per second during an extra 8-connection run (20; 0 skips it)",
    )
    parser.add_argument(
        "--jmap-queries", type=int, default=200, help="text queries timed for p50/p95 (200)"
    )
    parser.add_argument(
        "--jmap-data",
        metavar="DIR",
        help="keep the prepared data dir in DIR and reuse it on later runs",
    )
