"""The protocol-neutral error taxonomy.

Every layer below the protocols reports failure as an :class:`ErrorKind`; each protocol maps the
kinds once (IMAP response codes per RFC 5530, JMAP error types, LMTP enhanced status codes) in its
own ``errors`` module.  Backend code never knows about tags, status lines or problem JSON.
"""

from __future__ import annotations

import enum


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
    # From the write log (store/writelog.py): no quorum, nothing happened ...
    UNAVAILABLE = "unavailable"
    # ... or the write may have happened (a leader lost mid-commit): retry with the request id.
    UNKNOWN_OUTCOME = "unknown_outcome"


class MailError(Exception):
    """A domain failure carried as a value (inside apply results) or raised above the store.

    A plain exception class with value equality, not a frozen dataclass: the interpreter and
    trio assign ``__context__``/``__traceback__`` to raised exceptions, which a frozen slotted
    dataclass refuses (TypeError from its ``__setattr__``)."""

    __slots__ = ("kind", "detail")

    def __init__(self, kind: ErrorKind, detail: str = "") -> None:
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MailError):
            return NotImplemented
        return type(self) is type(other) and (self.kind, self.detail) == (other.kind, other.detail)

    def __hash__(self) -> int:
        return hash((type(self), self.kind, self.detail))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, detail={self.detail!r})"

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value
