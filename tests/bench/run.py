"""`make bench`: benchmark stalwart-py against Dovecot in one run.

    .venv/bin/python -m tests.bench.run [--only lmtp|imap|jmap|imap-text|http] [--messages N]
        [--no-dovecot]

Each workload starts every server fresh in a temp dir, measures it, stops it, verifies what was
stored, prints a table and appends a JSON line to tests/bench/results.jsonl. Workloads are
modules (lmtp.py, imap.py, jmap.py, imap_text.py, http_path.py) registered in WORKLOADS below.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from tests.bench.dovecot import DovecotServer, ensure_dovecot
from tests.bench.http_path import add_arguments as add_http_arguments
from tests.bench.http_path import run_http
from tests.bench.imap import run_imap
from tests.bench.imap_text import add_arguments as add_imap_text_arguments
from tests.bench.imap_text import run_imap_text
from tests.bench.jmap import add_arguments as add_jmap_arguments
from tests.bench.jmap import run_jmap
from tests.bench.lmtp import LmtpFigures, LmtpPlan, measure_lmtp
from tests.bench.procs import BenchError, failure_note
from tests.bench.report import append_result, format_lmtp_table, lmtp_record
from tests.bench.stalwart import StalwartServer, stalwart_available
from tests.bench.target import BenchTarget

ServerFactory = Callable[[], AbstractContextManager[BenchTarget]]


def _targets(
    args: argparse.Namespace, recipients: tuple[str, ...], notes: list[str]
) -> Iterator[tuple[str, ServerFactory]]:
    """The servers to measure, in order; unavailable ones are reported in ``notes``."""
    if not args.no_stalwart:
        ok = stalwart_available()
        if ok.available:
            yield "stalwart-py", lambda: StalwartServer(recipients)
        else:
            note = f"stalwart-py UNAVAILABLE, not measured: {ok.reason}"
            print(note, flush=True)
            notes.append(note)
    if args.no_dovecot:
        return
    dovecot = ensure_dovecot(want_fts=True, install=not args.no_install)
    if not dovecot.available:
        note = f"Dovecot UNAVAILABLE, measuring stalwart-py alone: {dovecot.reason}"
        print(note, flush=True)
        notes.append(note)
        return
    notes.append(f"Dovecot {dovecot.version} (Maildir, mail_fsync=optimized)")
    yield "dovecot", lambda: DovecotServer(recipients, fts=False)
    if dovecot.fts_xapian:
        notes.append("dovecot+fts = Dovecot with fts-xapian and fts_autoindex=yes")
        yield "dovecot+fts", lambda: DovecotServer(recipients, fts=True)
    else:
        note = f"Dovecot FTS not measured: {dovecot.reason}"
        print(note, flush=True)
        notes.append(note)


def run_lmtp(args: argparse.Namespace, argv: list[str]) -> bool:
    """The LMTP delivery workload on every available server. True when all went well."""
    recipients = tuple(f"user{i}@bench.local" for i in range(1, args.accounts + 1))
    plan = LmtpPlan.for_total(args.messages, args.throughput_messages)
    notes: list[str] = [
        f"{args.accounts} accounts, one recipient per transaction, "
        f"{plan.per_connection} messages per connection, {plan.warmup} warm-up messages"
    ]
    figures: list[LmtpFigures] = []
    load_before = os.getloadavg()[0]
    ok = True
    for name, factory in _targets(args, recipients, notes):
        print(f"LMTP workload on {name} ...", flush=True)
        try:
            with factory() as server:
                try:
                    figures.append(measure_lmtp(server, plan))
                except BaseException:
                    print(server.log_tail(), file=sys.stderr)
                    raise
        except (BenchError, RuntimeError, OSError) as exc:
            ok = False
            note = f"{name} FAILED: {exc}"
            print(note, file=sys.stderr, flush=True)
            notes.append(failure_note(note))
    ok = ok and all(f.verified for f in figures)
    notes.append(
        f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
        f"(on {os.cpu_count()} CPUs; anything well above the bench's own load skews figures)"
    )
    print()
    print(format_lmtp_table(figures, plan, notes))
    if figures:
        append_result(lmtp_record(figures, plan, notes, argv))
        print("\nappended to tests/bench/results.jsonl")
    return ok


WORKLOADS: dict[str, Callable[[argparse.Namespace, list[str]], bool]] = {
    "lmtp": run_lmtp,
    "imap": run_imap,
    "jmap": run_jmap,
    "imap-text": run_imap_text,
    "http": run_http,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(WORKLOADS), help="run one workload only")
    parser.add_argument(
        "--messages",
        type=int,
        default=10_000,
        help="messages delivered to each server; peak RSS is read after these (default 10000)",
    )
    parser.add_argument(
        "--throughput-messages",
        type=int,
        default=3_000,
        help="messages per throughput run (1 and 4 connections; default 3000)",
    )
    parser.add_argument("--accounts", type=int, default=10, help="recipient accounts (10)")
    parser.add_argument(
        "--imap-mailbox", type=int, default=1_000, help="messages in the IMAP mailbox (1000)"
    )
    parser.add_argument(
        "--imap-clients", type=int, default=10, help="concurrent IMAP client processes (10)"
    )
    add_jmap_arguments(parser)
    add_http_arguments(parser)
    add_imap_text_arguments(parser)
    parser.add_argument("--no-dovecot", action="store_true", help="measure stalwart-py only")
    parser.add_argument("--no-stalwart", action="store_true", help="measure Dovecot only")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install Dovecot")
    args = parser.parse_args(argv)
    if args.messages < 4 or args.throughput_messages < 1 or args.accounts < 1:
        parser.error("--messages must be >= 4, --throughput-messages and --accounts >= 1")
    if args.imap_mailbox < 20 or args.imap_clients < 1:
        parser.error("--imap-mailbox must be >= 20 and --imap-clients >= 1")
    if args.jmap_mailbox < 100 or args.jmap_connections < 1 or args.jmap_queries < 1:
        parser.error("--jmap-mailbox must be >= 100, --jmap-connections and --jmap-queries >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    selected = [args.only] if args.only else list(WORKLOADS)
    ok = True
    for workload in selected:
        ok = WORKLOADS[workload](args, ["python -m tests.bench.run", *argv]) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
