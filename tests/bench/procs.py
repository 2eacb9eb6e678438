"""Process and machine helpers for the benchmark: free ports, readiness, peak RSS, machine info."""

from __future__ import annotations

import os
import platform
import smtplib
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class BenchError(RuntimeError):
    """A benchmark step failed (server did not start, deliveries went missing, ...)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def lmtp_ready(host: str, port: int) -> bool:
    """True when the server accepts a connection and answers LHLO with 250 (RFC 2033 §4.1)."""
    try:
        with smtplib.LMTP(host, port, timeout=2) as client:
            code, _ = client.ehlo("bench.client")
            return code == 250
    except (OSError, smtplib.SMTPException):
        return False


def wait_lmtp_ready(
    host: str, port: int, proc: subprocess.Popen[bytes] | None, timeout: float, log: Path
) -> None:
    """Poll until the LMTP listener answers LHLO; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(
                f"server exited with status {proc.returncode} before LMTP was ready\n" + tail(log)
            )
        if lmtp_ready(host, port):
            return
        time.sleep(0.1)
    raise BenchError(f"LMTP on {host}:{port} not ready after {timeout:.0f} s\n" + tail(log))


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return f"--- last lines of {path} ---\n" + "\n".join(text.splitlines()[-lines:])


def _status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_kib(pid: int) -> int | None:
    """VmHWM (peak resident set size, KiB) of one process, or None if it is gone."""
    return _status_kib(pid, "VmHWM")


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc/PID/task/*/children)."""
    result: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            result.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return result


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    seen: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.append(current)
        stack.extend(children(current))
    return seen


@dataclass(frozen=True, slots=True)
class TreeRss:
    """Peak RSS of a process tree: the main process and the sum over all live processes."""

    main_kib: int
    total_kib: int
    processes: int


def tree_peak_rss(pid: int) -> TreeRss | None:
    """VmHWM of ``pid`` and the sum of VmHWM over it and its live descendants.

    The sum over-estimates the tree's simultaneous peak (each process peaked at its own
    time) and counts shared pages once per process; it is an upper bound.
    """
    main = peak_rss_kib(pid)
    if main is None:
        return None
    total = 0
    count = 0
    for p in descendants(pid):
        value = peak_rss_kib(p)
        if value is not None:
            total += value
            count += 1
    return TreeRss(main_kib=main, total_kib=total, processes=count)


def machine_info() -> dict[str, object]:
    """nproc, CPU model, memory and OS, for the results file."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = _meminfo_kib("MemTotal")
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "mem_total_mib": mem_kib // 1024 if mem_kib else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def _meminfo_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def git_commit() -> str | None:
    """HEAD of the repository (with ``-dirty`` when the tree has changes), or None."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
        suffix = "-dirty" if dirty.stdout.strip() else ""
        return head.stdout.strip() + suffix
    except (OSError, subprocess.SubprocessError):
        return None


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGTERM, wait up to ``timeout``; SIGKILL if it is still alive. Returns the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


def failure_note(text: str, limit: int = 2000) -> str:
    """A failure for results.jsonl: the whole message (the command's output included), one line,
    at most ``limit`` characters."""
    flat = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
