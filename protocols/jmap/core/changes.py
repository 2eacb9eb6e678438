"""The generic ``/changes`` computation (RFC 8620 §5.2) over the store's change log.

A state string is the account's modseq for the data type as decimal (``"42"``): the client has
seen every change up to and including that modseq.  When ``maxChanges`` stops the answer in the
middle of one modseq (a single batch may touch many objects), the intermediate state is
``"<modseq>:<n>"``: everything up to ``modseq`` plus the first ``n`` entries of this type at the
next one.  Entries at one modseq are stored in a fixed order, so such a state is exact.

Coalescing follows §5.2: created-then-updated is reported as created; updated-then-destroyed as
destroyed; created-then-destroyed is left out entirely.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from store.models import ChangeEntry

from .errors import CANNOT_CALCULATE_CHANGES, MethodError

_STATE: Final = re.compile(r"(0|[1-9][0-9]{0,19})(?::([1-9][0-9]{0,9}))?")


@dataclass(frozen=True, slots=True)
class StatePosition:
    modseq: int
    skip: int = 0  # entries of the type already seen at modseq + 1

    def __str__(self) -> str:
        return f"{self.modseq}:{self.skip}" if self.skip else str(self.modseq)


def parse_state(text: str) -> StatePosition | None:
    match = _STATE.fullmatch(text)
    if match is None:
        return None
    return StatePosition(int(match[1]), int(match[2] or 0))


@dataclass(frozen=True, slots=True)
class Changes:
    old_state: str
    new_state: str
    has_more_changes: bool
    created: tuple[str, ...]
    updated: tuple[str, ...]
    destroyed: tuple[str, ...]

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated) + len(self.destroyed)

    def to_json(self, account_id: str) -> dict[str, Any]:
        return {
            "accountId": account_id,
            "oldState": self.old_state,
            "newState": self.new_state,
            "hasMoreChanges": self.has_more_changes,
            "created": list(self.created),
            "updated": list(self.updated),
            "destroyed": list(self.destroyed),
        }


def cannot_calculate(description: str) -> MethodError:
    return MethodError(CANNOT_CALCULATE_CHANGES, description)


def check_since_state(since_state: str, *, current: int, floor: int) -> StatePosition:
    """The position ``since_state`` names, or ``cannotCalculateChanges``.

    Refused: a string we never issue, a state newer than ``current`` (the type's state now) and
    one older than ``floor`` (``AccountState.changes_floor``: history before it is compacted).
    """
    position = parse_state(since_state)
    if position is None:
        raise cannot_calculate(f"{since_state!r} is not a state of this server.")
    if position.modseq > current or (position.skip and position.modseq >= current):
        raise cannot_calculate(f"State {since_state!r} is in the future.")
    if position.modseq < floor:
        raise cannot_calculate(
            f"State {since_state!r} is older than the change history kept; resynchronise."
        )
    return position


def compute_changes(
    type_name: str,
    since_state: str,
    *,
    current: int,
    floor: int,
    log: Iterable[tuple[int, Sequence[ChangeEntry]]],
    max_changes: int | None,
    id_of: Callable[[int], str],
) -> Changes:
    """Created/updated/destroyed ids of ``type_name`` since ``since_state``.

    ``current`` is the type's state now (``AccountState.type_state(type_name)``), ``floor`` the
    account's ``changes_floor``, and ``log`` the store's ``changes_since(acct, modseq)`` for the
    position's modseq (oldest first).  Entries newer than ``current`` are ignored, so a write
    landing between reading the state and reading the log cannot make the answer inconsistent.
    """
    position = check_since_state(since_state, current=current, floor=floor)
    first: dict[int, str] = {}  # id → first op seen
    last: dict[int, str] = {}  # id → last op seen
    stop: StatePosition | None = None
    for modseq, entries in log:
        if modseq <= position.modseq:
            continue
        if modseq > current:
            break
        index = 0
        for entry in entries:
            if entry.type != type_name:
                continue
            index += 1
            if modseq == position.modseq + 1 and index <= position.skip:
                continue
            if entry.id not in first:
                if max_changes is not None and len(first) >= max_changes:
                    stop = StatePosition(modseq - 1, index - 1)
                    break
                first[entry.id] = entry.op
            last[entry.id] = entry.op
        if stop is not None:
            break
    created: list[str] = []
    updated: list[str] = []
    destroyed: list[str] = []
    for ident, op in first.items():
        final = last[ident]
        if op == "c":
            if final != "d":
                created.append(id_of(ident))
        elif final == "d":
            destroyed.append(id_of(ident))
        else:
            updated.append(id_of(ident))
    return Changes(
        old_state=since_state,
        new_state=str(stop) if stop is not None else str(current),
        has_more_changes=stop is not None,
        created=tuple(created),
        updated=tuple(updated),
        destroyed=tuple(destroyed),
    )
