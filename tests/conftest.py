"""Fixtures shared by every suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stalwart_py.accounts import Directory
from stalwart_py.server import passwords_for

from .support import ServerThread, make_config


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    """A running server on a fresh data directory (domain example.org, admin and demo users)."""
    srv = ServerThread(make_config(tmp_path / "data")).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def directory(server: ServerThread) -> Directory:
    """Directory administration against the running server's store."""
    return Directory(server.store, passwords_for(server.cfg))
