"""/changes (RFC 8620 §5.2) shared by the mail types, over the store's change log."""

from __future__ import annotations

from protocols.jmap.context import JmapContext
from protocols.jmap.core import (
    Changes,
    ChangesArgs,
    MethodError,
    compute_changes,
    parse_state,
)
from store import Store
from store.ids import object_id


def type_changes(
    ctx: JmapContext, acct: int, type_name: str, kind: str, args: ChangesArgs
) -> Changes:
    """RFC 8620 §5.2 for one store type (``kind`` names the id prefix in store/ids.py)."""
    store = ctx.store
    state = store.account(acct)
    if state is None:
        raise MethodError("accountNotFound")
    current = state.type_state(type_name)
    position = parse_state(args.since_state)
    log = store.changes_since(acct, position.modseq) if position is not None else []
    return compute_changes(
        type_name,
        args.since_state,
        current=current,
        floor=state.changes_floor,
        log=log,
        max_changes=args.max_changes,
        id_of=lambda n: object_id(kind, n),
    )


def email_state(store: Store, acct: int) -> int:
    state = store.account(acct)
    return 0 if state is None else state.type_state("Email")
