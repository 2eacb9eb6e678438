"""The data directory: opening its store and the password hasher the configuration asks for.

Shared by the server and the administration commands; kept free of trio and the protocols so
that the command line starts quickly.
"""

from __future__ import annotations

from store import Store

from .config import Config
from .passwords import HashParams, Passwords


def passwords_for(cfg: Config) -> Passwords:
    return Passwords(
        HashParams(
            time_cost=cfg.auth.argon2_time_cost,
            memory_cost=cfg.auth.argon2_memory_cost,
            parallelism=cfg.auth.argon2_parallelism,
        )
    )


def has_store(cfg: Config) -> bool:
    """True if the data directory holds a store (LevelDB writes CURRENT when it creates one)."""
    return (cfg.server.data_dir / "db" / "CURRENT").is_file()


def open_store(cfg: Config) -> Store:
    """Opens the data directory's store (raises MailError(IN_USE) if a server holds it)."""
    return Store(cfg.server.data_dir / "db", group_commit_max=cfg.store.group_commit_max)
