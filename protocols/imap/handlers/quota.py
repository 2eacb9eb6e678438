"""QUOTA (RFC 9208): one quota root "" per account, STORAGE in KiB and MESSAGE."""

from __future__ import annotations

from typing import Any

from .. import commands as C
from ..connection import CommandFailed, Done, ImapConnection
from ..values import Atom
from .mailboxes import require, wire_name


def _quota_line(s: ImapConnection) -> bytes | None:
    principal = s.ctx.store.principal(s.account_id)
    state = s.ctx.store.account(s.account_id)
    if principal is None or state is None or not principal.quota:
        return None
    used_kib = (state.used_bytes + 1023) // 1024
    limit_kib = principal.quota // 1024
    return s.line(Atom("QUOTA"), "", [Atom("STORAGE"), used_kib, limit_kib])


async def getquotaroot(s: ImapConnection, cmd: C.GetQuotaRoot, out: list[bytes]) -> Done:
    require(s, cmd.mailbox)
    line = _quota_line(s)
    roots = [""] if line is not None else []
    out.append(s.line(Atom("QUOTAROOT"), wire_name(s, cmd.mailbox), *roots))
    if line is not None:
        out.append(line)
    return Done("GETQUOTAROOT completed")


async def getquota(s: ImapConnection, cmd: C.GetQuota, out: list[bytes]) -> Done:
    line = _quota_line(s) if cmd.root == "" else None
    if line is None:
        raise CommandFailed("NO", "No such quota root", "NONEXISTENT")
    out.append(line)
    return Done("GETQUOTA completed")


async def setquota(s: ImapConnection, cmd: C.SetQuota, out: list[bytes]) -> Done:
    # Quotas are set by administrators (stalwart-py account quota), not by users.
    raise CommandFailed("NO", "Quotas are managed by the administrator", "NOPERM")


HANDLERS: dict[type[C.Command], Any] = {
    C.GetQuotaRoot: getquotaroot,
    C.GetQuota: getquota,
    C.SetQuota: setquota,
}
