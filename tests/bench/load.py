"""The bench's own HTTP load generator: one process per keep-alive connection (raw
:mod:`http.client`, one request in flight per connection), every response's status checked and
every ``VERIFY_EVERY``-th one verified in full; used where ``wrk`` is not installed, and by the
JMAP workload (which verifies its answers)."""

from __future__ import annotations

import http.client
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier

VERIFY_EVERY = 25  # decode and check every Nth response in full


@dataclass(frozen=True, slots=True)
class LoadRequest:
    """The POST /jmap/ every worker repeats; ``check`` (a module-level function: it goes to
    the worker processes) returns None for a correct answer, else why not."""

    body: bytes
    authorization: str
    check: Callable[[bytes], str | None]


@dataclass(frozen=True, slots=True)
class _LoadReport:
    start: float
    end: float
    cpu: float
    requests: int
    verified: int
    errors: tuple[str, ...]
    latencies: tuple[float, ...]


def _load_worker(
    host: str,
    port: int,
    request: LoadRequest,
    seconds: float,
    barrier: Barrier,
    results: multiprocessing.SimpleQueue[_LoadReport],
) -> None:
    # Raw http.client, headers built once: the client must stay cheap next to the server.
    conn = http.client.HTTPConnection(host, port, timeout=120)
    headers = {"Authorization": request.authorization, "Content-Type": "application/json"}
    body = request.body
    conn.connect()
    errors: list[str] = []
    latencies: list[float] = []
    requests = verified = 0
    barrier.wait()
    cpu_start = time.process_time()
    start = time.monotonic()
    deadline = start + seconds
    now = start
    while now < deadline:
        conn.request("POST", "/jmap/", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        then = now
        now = time.monotonic()
        latencies.append(now - then)
        if response.status != 200:
            if len(errors) < 5:
                errors.append(f"HTTP {response.status}: {data[:200]!r}")
        elif requests % VERIFY_EVERY == 0:
            problem = request.check(data)
            if problem is not None and len(errors) < 5:
                errors.append(problem)
            verified += problem is None
        requests += 1
    cpu = time.process_time() - cpu_start
    conn.close()
    results.put(_LoadReport(start, now, cpu, requests, verified, tuple(errors), tuple(latencies)))


@dataclass(frozen=True, slots=True)
class Throughput:
    connections: int
    requests: int
    seconds: float
    client_cores: float
    p50_ms: float
    p95_ms: float
    verified: int
    errors: tuple[str, ...]
    server_cpu_s: float = 0.0
    delivered: int = 0  # (c): messages delivered over LMTP during the run
    delivery_seconds: float = 0.0  # (c): how long the deliveries went on (start to stop)

    @property
    def delivery_rate(self) -> float:
        return self.delivered / self.delivery_seconds if self.delivery_seconds > 0 else 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def server_ms_per_request(self) -> float:
        """Server CPU per request: what the rate would be bounded by is 1000 / this."""
        return self.server_cpu_s * 1000 / self.requests if self.requests else float("nan")

    @property
    def server_cores(self) -> float:
        return self.server_cpu_s / self.seconds if self.seconds > 0 else 0.0


def run_load(
    host: str,
    port: int,
    request: LoadRequest,
    connections: int,
    seconds: float,
    server_cpu: Callable[[], float] = lambda: 0.0,
) -> Throughput:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(connections)
    results: multiprocessing.SimpleQueue[_LoadReport] = ctx.SimpleQueue()
    workers = [
        ctx.Process(
            target=_load_worker, args=(host, port, request, seconds, barrier, results), daemon=True
        )
        for _ in range(connections)
    ]
    for w in workers:
        w.start()
    cpu_before = server_cpu()
    reports = [results.get() for _ in workers]  # drain before join: results can be large
    cpu_used = server_cpu() - cpu_before  # includes the workers' start-up wait: an upper bound
    for w in workers:
        w.join(60)
    wall = max(r.end for r in reports) - min(r.start for r in reports)
    latencies = [x for r in reports for x in r.latencies]
    return Throughput(
        connections=connections,
        requests=sum(r.requests for r in reports),
        seconds=wall,
        client_cores=sum(r.cpu for r in reports) / wall if wall else 0.0,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p95_ms=percentile(latencies, 0.95) * 1000,
        verified=sum(r.verified for r in reports),
        errors=tuple(e for r in reports for e in r.errors)[:10],
        server_cpu_s=cpu_used,
    )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]
