"""Fixtures for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.cli_support import Serve


@pytest.fixture
def serve() -> Iterator[list[Serve]]:
    """The ``stalwart-py serve`` processes a test appends here are killed when it ends."""
    started: list[Serve] = []
    try:
        yield started
    finally:
        for s in started:
            s.kill()
