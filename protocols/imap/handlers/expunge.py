"""EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, §6.4.9; UIDPLUS)."""

from __future__ import annotations

from typing import Any

from store.models import KEYWORD_DELETED

from .. import commands as C
from ..connection import CommandFailed, Done, ImapConnection


async def expunge_deleted(s: ImapConnection, uids: list[int] | None) -> int:
    """Removes the selected mailbox's \\Deleted messages (within ``uids`` when given) from it;
    an email in no other mailbox is destroyed.  Returns how many were removed."""
    sel = s.selected
    assert sel is not None
    store = s.ctx.store
    candidates = sel.uids if uids is None else uids
    # The flags as of now, not as of the last poll: another session may just have set or
    # cleared \Deleted.  Syncing the shared records with the current state gives that.
    s.ctx.records.sync(s.account_id, store.account(s.account_id))
    tx = s.begin()
    for _, email in sel.records_for(candidates):
        if email is not None and KEYWORD_DELETED in email.keywords:
            tx.expunge_email(s.account_id, email, sel.mailbox_id)
    removed = len(tx)
    await tx.commit()
    return removed


async def expunge(s: ImapConnection, cmd: C.Expunge, out: list[bytes]) -> Done:
    sel = s.selected
    assert sel is not None
    if sel.read_only:
        raise CommandFailed("NO", "Mailbox is read-only", "READ-ONLY")
    uids = None if cmd.uids is None else s.resolve(cmd.uids, uid=True)
    await expunge_deleted(s, uids)
    return Done("EXPUNGE completed")


HANDLERS: dict[type[C.Command], Any] = {C.Expunge: expunge}
