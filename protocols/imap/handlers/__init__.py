"""Command handlers, one module per command family, gathered into one dispatch table (read by
:class:`protocols.imap.session.ImapSession`; the handlers import only the connection state,
:mod:`protocols.imap.connection`, never the session)."""

from __future__ import annotations

from .. import commands as C
from ..connection import Handler
from . import append, auth, copymove, expunge, fetch, mailboxes, quota, search, select, store

HANDLERS: dict[type[C.Command], Handler] = {
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
