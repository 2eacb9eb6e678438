"""The ``env`` fixture of the IMAP transcript tests: a fresh server per test, no traceback on any
session (a module with other needs defines its own ``env``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .imap_support import Env, checked_env


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with checked_env(tmp_path / "data") as e:
        yield e
