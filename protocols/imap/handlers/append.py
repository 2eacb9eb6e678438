"""APPEND with MULTIAPPEND (RFC 3502), UIDPLUS APPENDUID (RFC 4315), BINARY literal8 (RFC 3516)
and UTF8 literals (RFC 6855)."""

from __future__ import annotations

from typing import Any

from protocols.mail import NewMessage
from protocols.mime import canonical_line_ends, parse_message

from .. import commands as C
from ..connection import CommandFailed, Done, ImapConnection
from ..flags import FlagError, to_keywords
from ..serializer import ResponseCode, format_sequence_set
from ..values import Atom
from .mailboxes import tree


async def append(s: ImapConnection, cmd: C.Append, out: list[bytes]) -> Done:
    mb = tree(s).find(cmd.mailbox)
    if mb is None:
        raise CommandFailed("NO", "Mailbox does not exist", "TRYCREATE")
    # MULTIAPPEND is all or nothing (RFC 3502 §6.3.11): one atomic transaction.
    tx = s.begin(atomic=True)
    refs = []
    for msg in cmd.messages:
        if not msg.data:
            raise CommandFailed("NO", "Empty messages cannot be stored", "CANNOT")
        if len(msg.data) > s.ctx.limits.max_literal_size:
            raise CommandFailed("NO", "Message too large", "TOOBIG")
        try:
            keywords = to_keywords(msg.flags)
        except FlagError as exc:
            raise CommandFailed("BAD", str(exc)) from exc
        # RFC 5322 §2.3: stored with CRLF line ends, so the size may differ from the
        # literal's; RFC822.SIZE and BODY[] agree with what is stored.
        data = canonical_line_ends(msg.data)
        received = int(msg.date_time.timestamp()) if msg.date_time is not None else tx.now
        new = NewMessage(data, parse_message(data), (mb.id,), keywords, max(received, 0))
        refs.append(tx.import_message(s.account_id, new))
    s.name_keywords(tx, (flag for msg in cmd.messages for flag in msg.flags))
    result = await tx.commit()
    imports = [result[ref] for ref in refs]
    failure = next((r.error for r in imports if r.error is not None), None)
    if failure is not None:
        raise failure  # the transaction was atomic: none of the messages went in
    uids = [r.value.uids[0][1] for r in imports]
    code = ResponseCode("APPENDUID", (mb.uidvalidity, Atom(format_sequence_set(uids))))
    return Done("APPEND completed", code)


HANDLERS: dict[type[C.Command], Any] = {C.Append: append}
