"""Where the tests find the MIME corpus (README "Running the tests").

A clone outside the project's workspace has no ``../shared/corpus/mime`` beside it; the variable
``STALWART_TEST_CORPUS`` points the tests at a copy instead, and a test that needs a missing corpus
skips with a reason naming that variable.  Checked by running pytest in a subprocess, as a user
would, with the variable set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

MESSAGE = b"From: a@example.org\r\nSubject: corpus probe\r\n\r\nbody\r\n"


def run_pytest(corpus: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STALWART_TEST_CORPUS": str(corpus)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_stalwart_test_corpus_points_the_corpus_tests_at_another_directory(
    tmp_path: Path,
) -> None:
    """Behaviour: with STALWART_TEST_CORPUS set, the corpus tests read that directory's messages."""
    corpus = tmp_path / "my-corpus"
    (corpus / "probe").mkdir(parents=True)
    (corpus / "probe" / "only-one.eml").write_bytes(MESSAGE)
    result = run_pytest(corpus, "tests/unit/test_mime.py", "-q", "-k", "test_corpus_message")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout, result.stdout
    listed = run_pytest(corpus, "tests/unit/test_mime.py", "--collect-only", "-q")
    ids = [line for line in listed.stdout.splitlines() if "test_corpus_message[" in line]
    assert ids == ["tests/unit/test_mime.py::test_corpus_message[probe/only-one.eml]"], ids


def test_a_missing_corpus_skips_with_a_reason_naming_the_variable(tmp_path: Path) -> None:
    """Behaviour: a test needing a corpus that is not there skips, and the reason says which
    directory was looked at and which variable points the tests at a corpus."""
    missing = tmp_path / "nowhere"
    wanted = "present_or_skipped or body_lists_example or corpus_message"
    files = ("tests/unit/test_mime.py", "tests/protocol/test_lmtp_server.py")
    result = run_pytest(missing, *files, "-q", "-rs", "-k", wanted)
    assert result.returncode == 0, result.stdout + result.stderr
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skips, result.stdout
    for line in skips:
        assert str(missing) in line and "STALWART_TEST_CORPUS" in line, line
