"""The protocol-neutral error taxonomy.

Every layer below the protocols reports failure as an :class:`ErrorKind`; each protocol maps the
kinds once (IMAP response codes per RFC 5530, JMAP error types, LMTP enhanced status codes) in its
own ``errors`` module.  Backend code never knows about tags, status lines or problem JSON.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorKind(enum.Enum):
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    NO_PERMISSION = "no_permission"
    OVER_QUOTA = "over_quota"
    EXPUNGED = "expunged"
    IN_USE = "in_use"
    TEMPORARY = "temporary"
    INVALID = "invalid"
    TOO_LARGE = "too_large"
    LIMIT = "limit"
    HAS_CHILDREN = "has_children"
    STATE_MISMATCH = "state_mismatch"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class MailError(Exception):
    """A domain failure carried as a value (inside apply results) or raised above the store."""

    kind: ErrorKind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value
