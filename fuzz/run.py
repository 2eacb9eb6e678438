"""`make fuzz`: runs every fuzz target in this folder for a bounded number of executions.

Each target is a script using atheris (`fuzz_*.py`); this runner starts each in its own process
with `-atheris_runs=N` (default 20000, `FUZZ_RUNS` to change) and fails if any target finds a crash.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed: pip install -e '.[fuzz]'", file=sys.stderr)
        return 2
    runs = int(os.environ.get("FUZZ_RUNS", "20000"))
    failed = []
    for target in sorted(HERE.glob("fuzz_*.py")):
        print(f"== {target.name}: {runs} runs", flush=True)
        proc = subprocess.run([sys.executable, str(target), f"-atheris_runs={runs}"], check=False)
        if proc.returncode != 0:
            failed.append(target.name)
    if failed:
        print(f"fuzz targets that found a problem: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("all fuzz targets ran clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
