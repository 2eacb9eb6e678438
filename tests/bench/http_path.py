"""HTTP workload: the JMAP request path against a bare trio + h11 server, in one run.

Four targets, each answering POSTs on 127.0.0.1 over ``connections`` keep-alive connections:

- **bare**: :mod:`tests.bench.bare_http`, trio + h11 answering every POST with one fixed JSON
  body and doing nothing else: the ceiling of a Python HTTP layer on this machine;
- **echo**: stalwart-py's ``POST /jmap/`` with one ``Core/echo`` call (authentication, the
  whole HTTP and JMAP request path, no mail methods);
- **inbox**: the JMAP workload's inbox request (``Mailbox/get`` + ``Email/query`` of the inbox,
  newest first, limit 50 + ``Email/get`` of those 50 by result reference) on an account of
  ``mailbox`` messages;
- **nocache**: the same inbox request to a second stalwart-py server started with
  ``STALWART_HTTP_ANSWER_CACHE_ENTRIES=0`` on a copy of the first one's data dir (same mail,
  same ids): the exact answer cache is off, so every request is parsed, dispatched to the three
  methods and encoded — what a request costs when the cache cannot answer it (the methods'
  own caches of the account index stay on, as after any request that did not change mail).

The load generator is ``wrk`` (one thread; DESIGN.md §5: a Python client competes with the
server for the 2 cores) when it is installed, else the bench's own (:mod:`tests.bench.load`,
one process per connection).  The four are measured in turn, ``rounds`` times, so that a
change of the machine's load touches all of them; each figure is the median of its rounds and
each stalwart-py figure is also given as a ratio to the bare server's of the same round.
Before the runs one answer of each is checked in full (the inbox: 3 method responses, 50 emails
with subject and sender); wrk then counts non-2xx answers and socket errors, which fail the run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.jmap import (
    USING,
    JmapClient,
    JmapPlan,
    _auth_header,
    check_inbox_response,
    discover,
    fill_to,
    inbox_request,
)
from tests.bench.jmap_server import StalwartJmapServer
from tests.bench.load import LoadRequest, run_load
from tests.bench.procs import BenchError, failure_note, free_port, git_commit, machine_info
from tests.bench.report import append_result
from tests.bench.stalwart import stalwart_blocked

ECHO_ARGS = {"hello": "world", "n": 1}
TARGETS = ("bare", "echo", "inbox", "nocache")
# The environment of the second stalwart-py server: the answer cache off ([http]).
NO_ANSWER_CACHE = {"STALWART_HTTP_ANSWER_CACHE_ENTRIES": "0"}


def echo_request() -> bytes:
    return json.dumps({"using": USING, "methodCalls": [["Core/echo", ECHO_ARGS, "0"]]}).encode()


def check_echo(data: bytes) -> str | None:
    try:
        [[name, args, call_id]] = json.loads(data)["methodResponses"]
    except (ValueError, KeyError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if (name, args, call_id) != ("Core/echo", ECHO_ARGS, "0"):
        return f"unexpected echo answer {name} {args} {call_id}"
    return None


def check_bare(data: bytes) -> str | None:
    return None if json.loads(data).get("methodResponses") else "bare answer without JSON"


@dataclass(frozen=True, slots=True)
class HttpPlan:
    mailbox: int = 2_000
    connections: int = 8
    seconds: float = 10.0
    rounds: int = 3


@dataclass(slots=True)
class Round:
    rates: dict[str, float] = field(default_factory=dict)

    def ratio(self, target: str) -> float:
        return self.rates[target] / self.rates["bare"] if self.rates.get("bare") else 0.0


@dataclass(slots=True)
class HttpFigures:
    tool: str = ""
    rounds: list[Round] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def median(self, target: str) -> float:
        return statistics.median(r.rates[target] for r in self.rounds)

    def median_ratio(self, target: str) -> float:
        return statistics.median(r.ratio(target) for r in self.rounds)


class BareServer:
    """:mod:`tests.bench.bare_http` in its own process."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BareServer:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.bare_http", str(self.port)],
            cwd=Path(__file__).resolve().parents[2],
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                status, data = JmapClient(self.host, self.port).raw("POST", "/", b"{}")
                if status == 200 and check_bare(data) is None:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline or self._proc.poll() is not None:
                raise BenchError("the bare trio + h11 server did not start")
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None


_WRK_RATE = re.compile(r"Requests/sec:\s+([0-9.]+)")
_WRK_BAD = re.compile(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)")


def wrk_rate(url: str, body: bytes, plan: HttpPlan) -> tuple[float, str | None]:
    """Requests/s by wrk, and what went wrong (non-2xx answers, socket errors), if anything."""
    script = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "{_auth_header()}"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        done = subprocess.run(
            ["wrk", "-t1", f"-c{plan.connections}", f"-d{plan.seconds:g}s", "-s", f.name, url],
            capture_output=True,
            text=True,
            timeout=plan.seconds + 60,
        )
    finally:
        os.unlink(f.name)
    match = _WRK_RATE.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise BenchError(f"wrk failed: {done.stdout}{done.stderr}")
    bad = _WRK_BAD.search(done.stdout)
    return float(match.group(1)), (bad.group(0) if bad else None)


Check = Callable[[bytes], "str | None"]


def measure(
    host: str, port: int, body: bytes, check: Check, plan: HttpPlan, tool: str
) -> tuple[float, str | None]:
    if tool == "wrk":
        return wrk_rate(f"http://{host}:{port}/jmap/", body, plan)
    t = run_load(
        host, port, LoadRequest(body, _auth_header(), check), plan.connections, plan.seconds
    )
    return t.rate, (t.errors[0] if t.errors else None)


def verify(host: str, port: int, body: bytes, check: Check) -> None:
    client = JmapClient(host, port)
    try:
        for _ in range(20):  # also warms the caches, as a polling client would
            status, data = client.raw("POST", "/jmap/", body)
            problem = check(data) if status == 200 else f"HTTP {status}: {data[:200]!r}"
            if problem is not None:
                raise BenchError(f"answer check failed: {problem}")
    finally:
        client.close()


def prepare(server: StalwartJmapServer, plan: HttpPlan) -> None:
    """Fill the account, then stop the server so that its data dir can be copied."""
    fill_to(server, discover(server.host, server.http_port), plan.mailbox, JmapPlan())
    server.stop()


def measure_http(
    bare: BareServer,
    server: StalwartJmapServer,
    nocache: StalwartJmapServer,
    plan: HttpPlan,
    figures: HttpFigures,
) -> None:
    host, port = server.host, server.http_port
    account = discover(host, port)
    if discover(host, nocache.http_port) != account:
        raise BenchError("the server without answer cache sees another account")
    work = {
        "bare": (bare.port, echo_request(), check_bare),
        "echo": (port, echo_request(), check_echo),
        "inbox": (port, inbox_request(account), check_inbox_response),
        "nocache": (nocache.http_port, inbox_request(account), check_inbox_response),
    }
    for target_port, body, check in work.values():
        verify(host, target_port, body, check)
    for n in range(plan.rounds):
        current = Round()
        for target in TARGETS:
            target_port, body, check = work[target]
            rate, problem = measure(host, target_port, body, check, plan, figures.tool)
            current.rates[target] = rate
            if problem is not None:
                figures.errors.append(f"{target} round {n + 1}: {problem}")
        figures.rounds.append(current)
        print(
            f"  round {n + 1}: bare {current.rates['bare']:.0f} req/s, echo "
            f"{current.rates['echo']:.0f} ({current.ratio('echo'):.2f}x), inbox "
            f"{current.rates['inbox']:.0f} ({current.ratio('inbox'):.2f}x), inbox without "
            f"answer cache {current.rates['nocache']:.0f} ({current.ratio('nocache'):.2f}x)",
            flush=True,
        )


def format_table(figures: HttpFigures, plan: HttpPlan, notes: list[str]) -> str:
    lines = [
        f"HTTP: POST /jmap/ on {plan.connections} keep-alive connections, {plan.seconds:g} s per "
        f"target and round, {len(figures.rounds)} rounds, load by {figures.tool}",
        f"{'target':<44} {'req/s (median)':>14} {'x bare (median)':>15}",
    ]
    lines.append("-" * len(lines[-1]))
    labels = {
        "bare": "bare trio + h11, fixed JSON body",
        "echo": "stalwart-py Core/echo",
        "inbox": f"stalwart-py inbox request ({plan.mailbox} messages)",
        "nocache": "stalwart-py inbox request, answer cache off",
    }
    if figures.rounds:
        for target in TARGETS:
            ratio = "" if target == "bare" else f"{figures.median_ratio(target):.2f}"
            lines.append(f"{labels[target]:<44} {figures.median(target):>14.0f} {ratio:>15}")
    lines += [f"! {e}" for e in figures.errors]
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def run_http(args: argparse.Namespace, argv: list[str]) -> bool:
    """The HTTP workload (``--only http``)."""
    plan = HttpPlan(
        mailbox=args.http_mailbox,
        connections=args.jmap_connections,
        seconds=args.http_seconds,
        rounds=args.http_rounds,
    )
    blocked = stalwart_blocked(args.no_stalwart, "HTTP workload")
    if blocked is not None:
        return blocked
    figures = HttpFigures(tool="wrk" if shutil.which("wrk") else "the bench's load generator")
    notes: list[str] = []
    if figures.tool != "wrk":
        notes.append(
            "wrk is not installed (apt-get install wrk): measured with tests/bench/load.py"
        )
    load_before = os.getloadavg()[0]
    root = Path(args.jmap_data).resolve() if args.jmap_data else None
    print(
        "HTTP workload: bare trio + h11, stalwart-py Core/echo, inbox, inbox without answer "
        "cache ...",
        flush=True,
    )
    ok = True
    try:
        with BareServer() as bare, StalwartJmapServer(root) as server:
            prepare(server, plan)
            with StalwartJmapServer(None, NO_ANSWER_CACHE, seed=server.data) as nocache:
                server.start()
                try:
                    measure_http(bare, server, nocache, plan, figures)
                except BaseException:
                    print(server.log_tail(), nocache.log_tail(), sep="\n", file=sys.stderr)
                    raise
    except (BenchError, RuntimeError, OSError) as exc:
        print(f"HTTP workload FAILED: {exc}", file=sys.stderr, flush=True)
        notes.append(failure_note(f"HTTP workload FAILED: {exc}"))
        ok = False
    notes.append(
        f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"(on {os.cpu_count()} CPUs)"
    )
    print()
    print(format_table(figures, plan, notes))
    if figures.rounds:
        append_result(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "git_commit": git_commit(),
                "machine": machine_info(),
                "workload": "http",
                "command": " ".join(argv),
                "plan": asdict(plan),
                "tool": figures.tool,
                "rounds": [r.rates for r in figures.rounds],
                "median": {t: figures.median(t) for t in TARGETS},
                "ratio_to_bare": {t: figures.median_ratio(t) for t in TARGETS if t != "bare"},
                "errors": figures.errors,
                "notes": notes,
            }
        )
        print("\nappended to tests/bench/results.jsonl")
    return ok and bool(figures.rounds) and not figures.errors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--http-*`` options of ``tests.bench.run`` (connections: ``--jmap-connections``)."""
    parser.add_argument(
        "--http-mailbox", type=int, default=2_000, help="messages for the inbox request (2000)"
    )
    parser.add_argument(
        "--http-seconds", type=float, default=10.0, help="seconds per target and round (10)"
    )
    parser.add_argument("--http-rounds", type=int, default=3, help="rounds of the four (3)")
