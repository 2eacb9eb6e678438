"""The /set response (RFC 8620 §5.3), collected object by object."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import SET_WILL_DESTROY, SetError


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


def split_will_destroy(
    update: Mapping[str, dict[str, Any]],
    destroy: Iterable[str],
    created_ids: Mapping[str, str],
    destroyable: Callable[[str], bool] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, SetError]]:
    """Updates to perform, and ``willDestroy`` errors for those whose object is also destroyed.

    RFC 8620 §5.3 ``willDestroy``: "The client requested that an object be both updated and
    destroyed in the same /set request, and the server has decided to therefore ignore the
    update."  Ids and ``#creationId`` references are compared once resolved, so call this
    after the creates of the same /set ran.  ``destroyable`` (given a resolved id) leaves out
    destroys known to fail (no such object, may not be deleted): their update still runs and
    reports its own outcome.
    """

    def resolve(ident: str) -> str:
        return created_ids.get(ident[1:], ident) if ident.startswith("#") else ident

    doomed = {resolve(ident) for ident in destroy}
    if destroyable is not None:
        doomed = {ident for ident in doomed if destroyable(ident)}
    kept: dict[str, dict[str, Any]] = {}
    refused: dict[str, SetError] = {}
    for ident, patch in update.items():
        if resolve(ident) in doomed:
            refused[ident] = SetError(
                SET_WILL_DESTROY, "The object is destroyed by this request; update ignored."
            )
        else:
            kept[ident] = patch
    return kept, refused
