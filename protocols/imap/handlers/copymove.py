"""COPY, MOVE and their UID forms (RFC 9051 §6.4.7, RFC 6851 MOVE, RFC 4315 COPYUID).

COPY creates independent messages (new email ids, same stored blob): flags set later on one copy
do not reach the other, as IMAP clients expect. MOVE keeps the email and changes its mailbox.
Both may name the selected mailbox: the messages get new UIDs in it.
"""

from __future__ import annotations

from typing import Any

from protocols.mail import Ref

from .. import commands as C
from ..connection import CommandFailed, Done, ImapConnection
from ..serializer import ResponseCode, encode_code, format_sequence_set
from ..values import Atom
from .mailboxes import tree


def _target(s: ImapConnection, name: str) -> Any:
    mb = tree(s).find(name)
    if mb is None:
        raise CommandFailed("NO", "Mailbox does not exist", "TRYCREATE")
    return mb


async def copy(s: ImapConnection, cmd: C.Copy, out: list[bytes]) -> Done:
    sel = s.selected
    assert sel is not None
    target = _target(s, cmd.mailbox)
    uids = s.resolve(cmd.sequence_set, uid=cmd.uid)
    tx = s.begin()
    refs: list[Ref] = []
    sources: list[int] = []
    for uid in uids:
        eid = sel.email_ids.get(uid)
        if eid is None or s.ctx.store.email(s.account_id, eid) is None:
            continue
        # A new, independent email sharing the blob and the stored parse (same keywords and
        # internal date: RFC 9051 §6.4.7).
        refs.append(tx.copy_email(s.account_id, eid, s.account_id, (target.id,)))
        sources.append(uid)
    if not refs:
        if uids:
            return Done("Messages were expunged", "EXPUNGEISSUED", "NO")
        return Done("COPY completed, nothing to copy")
    result = await tx.commit()
    failure = result.error()
    if failure is not None:
        raise failure
    new_uids = [result[ref].value.uids[0][1] for ref in refs]
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


async def move(s: ImapConnection, cmd: C.Move, out: list[bytes]) -> Done:
    sel = s.selected
    assert sel is not None
    if sel.read_only:
        raise CommandFailed("NO", "Mailbox is read-only", "READ-ONLY")
    target = _target(s, cmd.mailbox)
    uids = s.resolve(cmd.sequence_set, uid=cmd.uid)
    # MOVE to the selected mailbox itself: RFC 6851 does not forbid it, and (as Dovecot does)
    # the messages get new UIDs there: COPYUID, the old UIDs expunged, EXISTS for the new.
    # The email keeps its id (JMAP sees it updated, in the same mailboxes).
    tx = s.begin()
    refs: list[Ref] = []
    sources: list[int] = []
    for uid in uids:
        eid = sel.email_ids.get(uid)
        email = s.ctx.store.email(s.account_id, eid) if eid is not None else None
        if email is None or email.uid_in(sel.mailbox_id) != uid:
            continue
        refs.append(tx.move_email(s.account_id, email.id, sel.mailbox_id, target.id))
        sources.append(uid)
    if not refs:
        if uids:
            return Done("Messages were expunged", "EXPUNGEISSUED", "NO")
        return Done("MOVE completed, nothing to move")
    result = await tx.commit()
    moved_src, moved_dst = [], []
    for uid, ref in zip(sources, refs, strict=True):
        r = result[ref]
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
