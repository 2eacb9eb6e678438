"""LMTP delivery workload: N messages over C concurrent connections, from C worker processes.

Each worker is a separate process (so the Python load generator is not the bottleneck on the
client side), builds its messages before the clock starts, waits on a barrier with the other
workers, then delivers with :class:`smtplib.LMTP`: one recipient per transaction (so the
single post-DATA reply smtplib reads is the whole answer, RFC 2033 §4.2), several transactions
per connection, reconnecting every ``per_connection`` messages (connect + LHLO are timed).

Throughput is messages delivered divided by the wall time from the first worker starting to
the last worker finishing (CLOCK_MONOTONIC is system-wide on Linux, so the workers' clocks
compare).
"""

from __future__ import annotations

import multiprocessing
import smtplib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier

from tests.bench.messages import DEFAULT_SEED, DEFAULT_SIZE, make_message
from tests.bench.target import BenchTarget


@dataclass(frozen=True, slots=True)
class LmtpLoad:
    """What to deliver: ``messages`` messages numbered from ``first_index``."""

    host: str
    port: int
    recipients: tuple[str, ...]
    messages: int
    connections: int
    first_index: int = 0
    per_connection: int = 100
    size: int = DEFAULT_SIZE
    seed: int = DEFAULT_SEED


@dataclass(frozen=True, slots=True)
class LmtpResult:
    """Outcome of one workload run."""

    connections: int
    attempted: int
    delivered: int
    failed: int
    seconds: float
    client_cpu_s: float
    errors: tuple[str, ...]

    @property
    def rate(self) -> float:
        """Delivered messages per second."""
        return self.delivered / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class _WorkerReport:
    start: float
    end: float
    cpu: float
    delivered: int
    failed: int
    errors: tuple[str, ...]


def recipient_for(recipients: Sequence[str], index: int) -> str:
    """The recipient of message ``index``: round-robin over the accounts."""
    return recipients[index % len(recipients)]


def _chunks(load: LmtpLoad) -> list[range]:
    """Split the message numbers into ``connections`` contiguous, near-equal ranges."""
    base, extra = divmod(load.messages, load.connections)
    ranges: list[range] = []
    start = load.first_index
    for worker in range(load.connections):
        count = base + (1 if worker < extra else 0)
        ranges.append(range(start, start + count))
        start += count
    return ranges


def _worker(
    load: LmtpLoad,
    indices: range,
    barrier: Barrier,
    results: multiprocessing.SimpleQueue[_WorkerReport],
) -> None:
    batch = [
        (index, make_message(index, recipient_for(load.recipients, index), seed=load.seed))
        for index in indices
    ]
    errors: list[str] = []
    delivered = failed = 0
    barrier.wait()
    start = time.monotonic()
    cpu_start = time.process_time()
    client: smtplib.LMTP | None = None
    sent_on_connection = 0
    for index, message in batch:
        try:
            if client is None or sent_on_connection >= load.per_connection:
                if client is not None:
                    client.quit()
                client = smtplib.LMTP(load.host, load.port, timeout=120)
                client.ehlo("bench.client")
                sent_on_connection = 0
            client.sendmail(message.sender, [recipient_for(load.recipients, index)], message.data)
            delivered += 1
            sent_on_connection += 1
        except (OSError, smtplib.SMTPException) as exc:
            failed += 1
            if len(errors) < 5:
                errors.append(f"message {index}: {type(exc).__name__}: {exc}")
            if client is not None:
                try:
                    client.close()
                finally:
                    client = None
    if client is not None:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    end = time.monotonic()
    cpu = time.process_time() - cpu_start
    results.put(_WorkerReport(start, end, cpu, delivered, failed, tuple(errors)))


def run_lmtp_load(load: LmtpLoad, timeout: float = 1800.0) -> LmtpResult:
    """Run the workload and wait for every worker; raise if a worker dies."""
    if load.messages <= 0 or load.connections <= 0:
        raise ValueError("messages and connections must be positive")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(load.connections)
    results: multiprocessing.SimpleQueue[_WorkerReport] = ctx.SimpleQueue()
    workers = [
        ctx.Process(target=_worker, args=(load, chunk, barrier, results), daemon=True)
        for chunk in _chunks(load)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + timeout
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    reports: list[_WorkerReport] = []
    while not results.empty():
        reports.append(results.get())
    for worker in workers:
        if worker.is_alive():
            worker.kill()
            worker.join()
    if len(reports) != len(workers):
        raise RuntimeError(
            f"{len(workers) - len(reports)} of {len(workers)} LMTP workers did not report"
        )
    seconds = max(r.end for r in reports) - min(r.start for r in reports)
    return LmtpResult(
        connections=load.connections,
        attempted=load.messages,
        delivered=sum(r.delivered for r in reports),
        failed=sum(r.failed for r in reports),
        seconds=seconds,
        client_cpu_s=sum(r.cpu for r in reports),
        errors=tuple(e for r in reports for e in r.errors),
    )


@dataclass(frozen=True, slots=True)
class LmtpPlan:
    """How many messages each phase delivers to one fresh server.

    Phases, in order, numbered consecutively so every Message-ID is distinct: a warm-up on one
    connection, the throughput run on 1 connection, the throughput run on ``concurrency``
    connections, then a fill-up on ``concurrency`` connections until ``total`` messages have
    been delivered, after which the server's peak RSS is read.
    """

    total: int = 10_000
    throughput: int = 3_000
    warmup: int = 50
    concurrency: int = 4
    per_connection: int = 100

    def __post_init__(self) -> None:
        if self.warmup + 2 * self.throughput > self.total:
            raise ValueError(
                f"total ({self.total}) must cover warm-up ({self.warmup}) "
                f"and two throughput runs of {self.throughput}"
            )

    @classmethod
    def for_total(cls, total: int, throughput: int = 3_000) -> LmtpPlan:
        """A plan for ``total`` messages, shrinking the throughput runs to fit."""
        warmup = min(50, total // 10)
        throughput = max(1, min(throughput, (total - warmup) // 2))
        return cls(total=max(total, warmup + 2 * throughput), throughput=throughput, warmup=warmup)


@dataclass(frozen=True, slots=True)
class LmtpFigures:
    """Everything measured on one server for the LMTP workload."""

    server: str
    rate_1: float
    rate_n: float
    concurrency: int
    client_cores_1: float  # CPU the load generator used, in cores (cpu s / wall s)
    client_cores_n: float
    expected: int
    delivered: int
    failed: int
    stored: int | None
    stored_note: str
    peak_rss_kib: int | None
    peak_rss_tree_kib: int | None
    processes: int | None
    index_catchup_s: float | None
    errors: tuple[str, ...]

    @property
    def verified(self) -> bool:
        """True when the server really stored every message the client was told it took."""
        return self.stored is not None and self.stored == self.delivered == self.expected


def measure_lmtp(server: BenchTarget, plan: LmtpPlan) -> LmtpFigures:
    """Run every phase of ``plan`` against a started ``server``, then stop it and count."""
    next_index = 0
    results: list[LmtpResult] = []

    def phase(count: int, connections: int) -> LmtpResult:
        nonlocal next_index
        load = LmtpLoad(
            host=server.host,
            port=server.lmtp_port,
            recipients=server.recipients,
            messages=count,
            connections=connections,
            first_index=next_index,
            per_connection=plan.per_connection,
        )
        next_index += count
        result = run_lmtp_load(load)
        results.append(result)
        return result

    if plan.warmup:
        phase(plan.warmup, 1)
    one = phase(plan.throughput, 1)
    print(f"  {server.name}: 1 connection: {one.rate:8.1f} msg/s", flush=True)
    many = phase(plan.throughput, plan.concurrency)
    print(f"  {server.name}: {plan.concurrency} connections: {many.rate:8.1f} msg/s", flush=True)
    rest = plan.total - next_index
    if rest > 0:
        fill = phase(rest, plan.concurrency)
        print(f"  {server.name}: fill-up to {plan.total}: {fill.rate:8.1f} msg/s", flush=True)
    catchup = server.wait_indexed()
    rss = server.peak_rss()
    server.stop()
    stored = server.count_messages()
    return LmtpFigures(
        server=server.name,
        rate_1=one.rate,
        rate_n=many.rate,
        client_cores_1=one.client_cpu_s / one.seconds if one.seconds else 0.0,
        client_cores_n=many.client_cpu_s / many.seconds if many.seconds else 0.0,
        concurrency=plan.concurrency,
        expected=plan.total,
        delivered=sum(r.delivered for r in results),
        failed=sum(r.failed for r in results),
        stored=stored,
        stored_note=server.count_note,
        peak_rss_kib=rss.main_kib if rss else None,
        peak_rss_tree_kib=rss.total_kib if rss else None,
        processes=rss.processes if rss else None,
        index_catchup_s=catchup,
        errors=tuple(e for r in results for e in r.errors)[:10],
    )
