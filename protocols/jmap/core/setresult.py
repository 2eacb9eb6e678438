"""The /set response (RFC 8620 §5.3), collected object by object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import SetError


@dataclass(slots=True)
class SetResponse:
    """A builder (mutable on purpose) for a /set response; empty maps are sent as ``null``."""

    account_id: str
    old_state: str | None
    new_state: str
    created: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    destroyed: list[str] = field(default_factory=list)
    not_created: dict[str, SetError] = field(default_factory=dict)
    not_updated: dict[str, SetError] = field(default_factory=dict)
    not_destroyed: dict[str, SetError] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def errors(m: dict[str, SetError]) -> dict[str, Any] | None:
            return {k: e.to_json() for k, e in m.items()} or None

        return {
            "accountId": self.account_id,
            "oldState": self.old_state,
            "newState": self.new_state,
            "created": self.created or None,
            "updated": self.updated or None,
            "destroyed": self.destroyed or None,
            "notCreated": errors(self.not_created),
            "notUpdated": errors(self.not_updated),
            "notDestroyed": errors(self.not_destroyed),
        }
