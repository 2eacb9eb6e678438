"""COPY, MOVE and their UID forms (RFC 9051 §6.4.7, RFC 6851 MOVE, RFC 4315 COPYUID).

COPY creates independent messages (new email ids, same stored blob): flags set later on one copy
do not reach the other, as IMAP clients expect. MOVE keeps the email and changes its mailbox.
Both may name the selected mailbox: the messages get new UIDs in it.
"""

from __future__ import annotations

from typing import Any

from protocols.mime import ParsedMessage
from store import Batch, MailError
from store.batch import ImportEmail, UpdateEmail
from store.codec import unpack

from .. import commands as C
from ..serializer import ResponseCode, encode_code, format_sequence_set
from ..session import CommandFailed, Done, ImapSession
from ..values import Atom
from .mailboxes import tree


def _target(s: ImapSession, name: str) -> Any:
    mb = tree(s).find(name)
    if mb is None:
        raise CommandFailed("NO", "Mailbox does not exist", "TRYCREATE")
    return mb


async def copy(s: ImapSession, cmd: C.Copy, out: list[bytes]) -> Done:
    sel = s.selected
    assert sel is not None
    target = _target(s, cmd.mailbox)
    uids = s.resolve(cmd.sequence_set, uid=cmd.uid)
    store = s.ctx.store
    ops: list[ImportEmail] = []
    sources: list[int] = []
    for uid in uids:
        eid = sel.email_ids.get(uid)
        email = store.email(s.account_id, eid) if eid is not None else None
        if email is None:
            continue
        meta = store.metadata(s.account_id, email.id) or b""
        refs: tuple[str, ...] = ()
        subject = ""
        if meta:
            parsed = ParsedMessage.from_wire(unpack(meta))
            refs = tuple(dict.fromkeys((*parsed.in_reply_to, *parsed.references)))
            subject = parsed.normalized_subject
        ops.append(
            ImportEmail(
                s.account_id,
                email.blob,
                email.size,
                (target.id,),
                email.keywords,
                email.received_at,
                meta,
                message_id=email.message_id,
                references=refs,
                subject=subject,
            )
        )
        sources.append(uid)
    if not ops:
        if uids:
            return Done("Messages were expunged", "EXPUNGEISSUED", "NO")
        return Done("COPY completed, nothing to copy")
    result = await s.ctx.write(Batch(tuple(ops), now=s.ctx.now()))
    failure = next((r.error for r in result.results if r.error is not None), None)
    if failure is not None:
        raise failure if isinstance(failure, MailError) else CommandFailed("NO", "Copy failed")
    new_uids = [r.value.uids[0][1] for r in result.results]
    code = _copyuid(target.uidvalidity, sources, new_uids)
    return Done("COPY completed", code)


def _copyuid(uidvalidity: int, sources: list[int], targets: list[int]) -> ResponseCode:
    return ResponseCode(
        "COPYUID",
        (uidvalidity, Atom(_ordered_set(sources)), Atom(_ordered_set(targets))),
    )


def _ordered_set(uids: list[int]) -> str:
    """COPYUID sets keep the order of correspondence (RFC 4315 §3), so no reordering here."""
    if uids == sorted(uids):
        return format_sequence_set(uids)
    return ",".join(str(u) for u in uids)


async def move(s: ImapSession, cmd: C.Move, out: list[bytes]) -> Done:
    sel = s.selected
    assert sel is not None
    if sel.read_only:
        raise CommandFailed("NO", "Mailbox is read-only", "READ-ONLY")
    target = _target(s, cmd.mailbox)
    uids = s.resolve(cmd.sequence_set, uid=cmd.uid)
    store = s.ctx.store
    # MOVE to the selected mailbox itself: RFC 6851 does not forbid it, and (as Dovecot does)
    # the messages get new UIDs there: COPYUID, the old UIDs expunged, EXISTS for the new.
    # The email keeps its id (JMAP sees it updated, in the same mailboxes).
    here = (target.id,) if target.id == sel.mailbox_id else ()
    ops: list[UpdateEmail] = []
    sources: list[int] = []
    for uid in uids:
        eid = sel.email_ids.get(uid)
        email = store.email(s.account_id, eid) if eid is not None else None
        if email is None or email.uid_in(sel.mailbox_id) != uid:
            continue
        ops.append(
            UpdateEmail(
                s.account_id,
                email.id,
                mailboxes_remove=() if here else (sel.mailbox_id,),
                mailboxes_add=() if here else (target.id,),
                mailboxes_renew=here,
            )
        )
        sources.append(uid)
    if not ops:
        if uids:
            return Done("Messages were expunged", "EXPUNGEISSUED", "NO")
        return Done("MOVE completed, nothing to move")
    result = await s.ctx.write(Batch(tuple(ops), now=s.ctx.now()))
    moved_src, moved_dst = [], []
    for uid, r in zip(sources, result.results, strict=True):
        if r.error is None:
            moved_src.append(uid)
            moved_dst.append(dict(r.value.uids).get(target.id, 0))
    if moved_src:
        # RFC 6851 §4.3: COPYUID in an untagged OK before the expunges.
        code = _copyuid(target.uidvalidity, moved_src, moved_dst)
        out.append(b"* OK " + encode_code(code) + b" Moved\r\n")
    # The expunges are due now (MOVE is not a command that defers them for its own messages).
    out.append(s.news(allow_expunge=True))
    if len(moved_src) < len(sources):
        return Done("Some messages could not be moved", "EXPUNGEISSUED", "NO")
    return Done("MOVE completed")


HANDLERS: dict[type[C.Command], Any] = {C.Copy: copy, C.Move: move}
