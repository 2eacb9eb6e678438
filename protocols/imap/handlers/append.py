"""APPEND with MULTIAPPEND (RFC 3502), UIDPLUS APPENDUID (RFC 4315), BINARY literal8 (RFC 3516)
and UTF8 literals (RFC 6855)."""

from __future__ import annotations

import hashlib
from typing import Any

from protocols.mime import canonical_line_ends, parse_message
from store import Batch, MailError
from store.batch import DestroyEmail, ImportEmail, PutBlob
from store.codec import pack

from .. import commands as C
from ..flags import FlagError, to_keywords
from ..serializer import ResponseCode, format_sequence_set
from ..session import CommandFailed, Done, ImapSession
from ..values import Atom
from .mailboxes import tree


async def append(s: ImapSession, cmd: C.Append, out: list[bytes]) -> Done:
    mb = tree(s).find(cmd.mailbox)
    if mb is None:
        raise CommandFailed("NO", "Mailbox does not exist", "TRYCREATE")
    now = s.ctx.now()
    ops: list[Any] = []
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
        parsed = parse_message(data)
        sha = hashlib.sha256(data).digest()
        received = int(msg.date_time.timestamp()) if msg.date_time is not None else now
        ops.append(PutBlob(sha, data, hold_until=now))
        ops.append(
            ImportEmail(
                s.account_id,
                sha,
                len(data),
                (mb.id,),
                keywords,
                max(received, 0),
                pack(parsed.to_wire()),
                message_id=parsed.message_id[0] if parsed.message_id else "",
                references=tuple(dict.fromkeys((*parsed.in_reply_to, *parsed.references))),
                subject=parsed.normalized_subject,
            )
        )
    naming = s.keyword_naming(flag for msg in cmd.messages for flag in msg.flags)
    result = await s.ctx.write(Batch((*ops, *naming), now=now))
    imports = result.results[1 : len(ops) : 2]
    failure = next((r.error for r in result.results[: len(ops)] if r.error is not None), None)
    if failure is not None:
        # MULTIAPPEND is all or nothing (RFC 3502 §6.3.11): undo the ones that went in.
        undo = tuple(
            DestroyEmail(s.account_id, r.value.email_id) for r in imports if r.error is None
        )
        if undo:
            await s.ctx.write(Batch(undo, now=now))
        if isinstance(failure, MailError):
            raise failure
        raise CommandFailed("NO", "Append failed")
    uids = [r.value.uids[0][1] for r in imports]
    code = ResponseCode("APPENDUID", (mb.uidvalidity, Atom(format_sequence_set(uids))))
    return Done("APPEND completed", code)


HANDLERS: dict[type[C.Command], Any] = {C.Append: append}
