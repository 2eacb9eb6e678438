"""Command handlers, one module per command family, gathered into one dispatch table."""

from __future__ import annotations

from typing import Any

from .. import commands as C
from . import append, auth, copymove, expunge, fetch, mailboxes, quota, search, select, store

HANDLERS: dict[type[C.Command], Any] = {
    **auth.HANDLERS,
    **mailboxes.HANDLERS,
    **select.HANDLERS,
    **append.HANDLERS,
    **fetch.HANDLERS,
    **store.HANDLERS,
    **copymove.HANDLERS,
    **expunge.HANDLERS,
    **search.HANDLERS,
    **quota.HANDLERS,
}
