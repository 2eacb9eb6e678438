"""Results: the stdout table and the JSON line appended to tests/bench/results.jsonl."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.lmtp import LmtpFigures, LmtpPlan
from tests.bench.procs import git_commit, machine_info

RESULTS = Path(__file__).resolve().parent / "results.jsonl"
OURS = "stalwart-py"
# Like-for-like peer: stalwart-py indexes full text on delivery, so does Dovecot with
# fts_autoindex; plain Dovecot is shown for reference.
LIKE_FOR_LIKE = ("dovecot+fts", "dovecot")


@dataclass(frozen=True, slots=True)
class Ratio:
    """stalwart-py / peer throughput, both measured in the same run."""

    peer: str
    like_for_like: bool
    one: float
    many: float


def ratios(figures: list[LmtpFigures]) -> list[Ratio]:
    by_name = {f.server: f for f in figures}
    ours = by_name.get(OURS)
    if ours is None:
        return []
    peers = [name for name in LIKE_FOR_LIKE if name in by_name]
    result: list[Ratio] = []
    for peer in peers:
        other = by_name[peer]
        result.append(
            Ratio(
                peer=peer,
                like_for_like=peer == peers[0],
                one=ours.rate_1 / other.rate_1 if other.rate_1 else 0.0,
                many=ours.rate_n / other.rate_n if other.rate_n else 0.0,
            )
        )
    return result


def _mib(kib: int | None) -> str:
    return f"{kib / 1024:.1f}" if kib is not None else "n/a"


def format_lmtp_table(figures: list[LmtpFigures], plan: LmtpPlan, notes: list[str]) -> str:
    """A plain-text table of the LMTP figures, the ratios and any notes."""
    n = plan.concurrency
    header = (
        f"{'server':<13} {'1 conn msg/s':>12} {f'{n} conn msg/s':>12} "
        f"{'stored/sent':>13} {'peak RSS MiB':>12} {'RSS all procs':>13} {'FTS catch-up':>12}"
    )
    lines = [
        f"LMTP delivery: {plan.throughput} messages of 4096 bytes per throughput run, "
        f"peak RSS after {plan.total} messages",
        header,
        "-" * len(header),
    ]
    for f in figures:
        stored = f"{f.stored if f.stored is not None else '?'}/{f.delivered}"
        if not f.verified:
            stored += " !"
        catchup = f"{f.index_catchup_s:.1f} s" if f.index_catchup_s is not None else "n/a"
        procs = f"{_mib(f.peak_rss_tree_kib)} ({f.processes or 0})"
        lines.append(
            f"{f.server:<13} {f.rate_1:>12.1f} {f.rate_n:>12.1f} {stored:>13} "
            f"{_mib(f.peak_rss_kib):>12} {procs:>13} {catchup:>12}"
        )
    for r in ratios(figures):
        tag = "like-for-like, both index full text" if r.like_for_like else "reference"
        lines.append(
            f"ratio {OURS} / {r.peer}: 1 conn {r.one:.2f}x, {n} conn {r.many:.2f}x  ({tag})"
        )
    lines.append(
        "peak RSS = VmHWM of the main process; 'RSS all procs' = sum of VmHWM over the "
        "process tree (an upper bound; process count in brackets)"
    )
    for f in figures:
        lines.append(
            f"load generator CPU during {f.server} runs: {f.client_cores_1:.2f} cores (1 conn), "
            f"{f.client_cores_n:.2f} cores ({n} conn) of {os.cpu_count()}"
        )
    for f in figures:
        if not f.verified:
            lines.append(
                f"! {f.server}: expected {f.expected}, client delivered {f.delivered} "
                f"({f.failed} failed), server stored {f.stored}. {f.stored_note}"
            )
        for err in f.errors[:3]:
            lines.append(f"! {f.server}: {err}")
    lines.extend(f"note: {note}" for note in notes)
    return "\n".join(lines)


def lmtp_record(
    figures: list[LmtpFigures], plan: LmtpPlan, notes: list[str], argv: list[str]
) -> dict[str, object]:
    """The JSON object for one run of the LMTP workload."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine_info(),
        "workload": "lmtp",
        "command": " ".join(argv),
        "plan": asdict(plan),
        "results": [{**asdict(f), "verified": f.verified} for f in figures],
        "ratios": [asdict(r) for r in ratios(figures)],
        "notes": notes,
    }


def append_result(record: dict[str, object], path: Path = RESULTS) -> None:
    """Append one JSON line to the results file."""
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, sort_keys=True) + "\n")
