"""``[auth]``: password hashing cost and the login cache (stalwart_py/auth.py,
stalwart_py/passwords.py), with the rule between the Argon2 parameters."""

from __future__ import annotations

from dataclasses import dataclass

from .checks import at_least, at_most
from .kinds import DURATION, INT
from .schema import Finding, Rule, Values, setting


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Password hashing (Argon2id, RFC 9106) and login caching. Cost settings apply to hashes
    created from now on; existing hashes keep their parameters and still verify."""

    argon2_time_cost: int = setting(
        INT,
        3,
        "Argon2id passes over memory (t). Higher is slower for attackers and for logins alike.",
        at_least(1, "RFC 9106 §3.1"),
    )
    argon2_memory_cost: int = setting(
        INT,
        65536,
        "Argon2id memory in KiB (m); 65536 is 64 MiB per hash computed. At least 8 × "
        "`argon2_parallelism` (RFC 9106 §3.1).",
        at_least(8, "RFC 9106 §3.1"),
    )
    argon2_parallelism: int = setting(
        INT,
        4,
        "Argon2id lanes (p).",
        at_least(1, "RFC 9106 §3.1"),
        at_most(2**24 - 1, "RFC 9106 §3.1"),
    )
    login_cache_ttl: float = setting(
        DURATION,
        "5m",
        "Remember a successful password check for this long, so that clients reconnecting "
        "with the same credentials skip the slow hash. `0` disables the cache.",
    )


def _argon2_memory(values: Values) -> list[Finding]:
    memory, lanes = values["auth"]["argon2_memory_cost"], values["auth"]["argon2_parallelism"]
    if memory < 8 * lanes:
        return [
            (
                (("auth", "argon2_memory_cost"), ("auth", "argon2_parallelism")),
                f"argon2_memory_cost must be at least 8 × argon2_parallelism = {8 * lanes} KiB "
                f"(RFC 9106 §3.1), got {memory}",
            )
        ]
    return []


ARGON2_MEMORY = Rule(
    (("auth", "argon2_memory_cost"), ("auth", "argon2_parallelism")), _argon2_memory
)
