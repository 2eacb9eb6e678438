"""Password hashing with argon2id (cost configurable in [auth])."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@dataclass(frozen=True, slots=True)
class HashParams:
    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 4


class Passwords:
    """argon2 is imported on first use: commands that never hash (``account list``) skip it."""

    def __init__(self, params: HashParams = HashParams()) -> None:
        self.params = params
        self._hasher_instance: PasswordHasher | None = None

    @property
    def _hasher(self) -> PasswordHasher:
        if self._hasher_instance is None:
            from argon2 import PasswordHasher

            self._hasher_instance = PasswordHasher(
                time_cost=self.params.time_cost,
                memory_cost=self.params.memory_cost,
                parallelism=self.params.parallelism,
            )
        return self._hasher_instance

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        """Slow by design (≈0.2 s with default cost): call it from a worker thread."""
        if not stored:
            return False
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return bool(self._hasher.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False


def generate_password(length: int = 20) -> str:
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))
