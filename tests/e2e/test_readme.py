"""The README's shell code blocks, run in order as a newcomer would type them.

User-visible rule (issue 8, "a newcomer's first hour", item 2): every command the README shows
works, in the order shown, on a fresh data directory.  Commands that start a server or the test
suite are skipped by an explicit list; any other command the test does not know fails it, so a
new block must either run here or be added to that list with its reason.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.e2e.cli_support import TIMEOUT, account_rows, clean_env
from tests.support import FAST_AUTH, REPO

CLI = ".venv/bin/stalwart-py"

# Commands not run here, and why.
SKIPPED = {
    "make run": "starts the server (tests/e2e/test_first_start.py runs `serve`)",
    "make test": "runs this suite",
    "STALWART_TEST_CORPUS=/path/to/corpus/mime make test": "runs this suite",
}


def shell_blocks(text: str) -> list[list[str]]:
    """The command lines of every ```sh block, in order."""
    blocks = re.findall(r"^```sh\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def test_every_readme_command_runs_in_order_on_a_fresh_data_directory(tmp_path: Path) -> None:
    """Behaviour: each command exits 0 in a fresh directory (its ./data), in README order."""
    lines = [line for block in shell_blocks((REPO / "README.md").read_text()) for line in block]
    admin = [line for line in lines if line not in SKIPPED]
    assert all(line.startswith(CLI + " ") for line in admin), [
        line for line in admin if not line.startswith(CLI + " ")
    ]
    assert len(admin) >= 6, admin  # the administration block is found
    last = ""
    for line in admin:
        args = shlex.split(line)[1:]
        result = subprocess.run(
            [sys.executable, "-m", "stalwart_py", *args],
            cwd=tmp_path,
            env={**clean_env(), **FAST_AUTH},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        notes = [n for n in result.stderr.splitlines() if "data directory" not in n]
        assert notes == [], (line, result.stderr)
        last = result.stdout if args[:2] == ["account", "list"] else last
    rows = account_rows(last)
    assert set(rows) == {"alice@example.org", "bob@example.org", "team@example.org"}
    assert rows["alice@example.org"].aliases == ("postmaster@example.org",)
    assert rows["bob@example.org"].quota == "1.5G"
    assert (tmp_path / "data" / "db").is_dir()
