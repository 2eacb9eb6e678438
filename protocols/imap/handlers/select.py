"""SELECT, EXAMINE (with CONDSTORE and QRESYNC, RFC 7162), CLOSE, UNSELECT."""

from __future__ import annotations

from typing import Any

from store import ErrorKind, MailError
from store.ids import object_id

from .. import commands as C
from ..connection import CommandFailed, Done, ImapConnection, State, unusable_name_refusal
from ..flags import KEYWORD_TO_SYSTEM, FlagNames
from ..selected import SelectedMailbox
from ..serializer import ResponseCode, format_sequence_set, untagged_status
from ..values import Atom
from .expunge import expunge_deleted
from .mailboxes import tree, wire_name


def deselect(s: ImapConnection) -> None:
    s.selected = None
    s.searchres = []
    if s.state is State.SELECTED:
        s.state = State.AUTHENTICATED


async def select(s: ImapConnection, cmd: C.Select, out: list[bytes]) -> Done:
    if cmd.qresync is not None and not s.qresync:
        # RFC 7162 §3.2.5: BAD, and a BAD command changes nothing (the selection stays).
        raise CommandFailed("BAD", "QRESYNC was not enabled")
    had_selection = s.selected is not None
    deselect(s)
    if had_selection:
        # RFC 9051 §6.3.1 / RFC 7162 §3.2.11: the previous mailbox is closed.
        out.append(untagged_status("OK", "Previous mailbox closed", "CLOSED"))
    if cmd.condstore or cmd.qresync is not None:
        s.condstore = True
    refusal = unusable_name_refusal(cmd)
    if refusal is not None:
        return refusal
    t = tree(s)
    mb = t.find(cmd.mailbox)
    if mb is None:
        raise CommandFailed("NO", "No such mailbox", "NONEXISTENT")
    try:
        # IMAP4rev2 has no \Recent (RFC 9051 Appendix E): such a session claims none.
        recent = None if s.rev2 else s.ctx.recent
        sel = SelectedMailbox(
            s.ctx.store,
            s.account_id,
            mb.id,
            read_only=cmd.readonly,
            recent=recent,
            records=s.ctx.records,
        )
    except LookupError as exc:
        raise CommandFailed("NO", "No such mailbox", "NONEXISTENT") from exc
    s.selected = sel
    s.state = State.SELECTED
    sel.announced.update(sel.keywords_in_use() - set(KEYWORD_TO_SYSTEM))
    names = s.flag_names()
    out.append(s.flags_responses(names, selecting=True))
    out.append(b"* %d EXISTS\r\n" % sel.exists)
    if not s.rev2:
        out.append(b"* %d RECENT\r\n" % len(sel.recent))
        first_unseen = _first_unseen(s, sel)
        if first_unseen:
            out.append(untagged_status("OK", "First unseen", f"UNSEEN {first_unseen}"))
    out.append(untagged_status("OK", "UIDs valid", f"UIDVALIDITY {sel.uidvalidity}"))
    out.append(untagged_status("OK", "Predicted next UID", f"UIDNEXT {mb.uidnext}"))
    out.append(untagged_status("OK", "Highest", f"HIGHESTMODSEQ {sel.modseq}"))
    out.append(untagged_status("OK", "Ok", f"MAILBOXID ({object_id('mailbox', mb.id)})"))
    if s.rev2:
        # RFC 9051 §6.3.1: the server MUST send a LIST response with the mailbox name.
        out.append(s.line(Atom("LIST"), [], "/", wire_name(s, t.path(mb.id))))
    if cmd.qresync is not None and cmd.qresync.uidvalidity == sel.uidvalidity:
        out.append(_qresync(s, sel, cmd.qresync, names))
    code = "READ-ONLY" if cmd.readonly else "READ-WRITE"
    return Done(f"{'EXAMINE' if cmd.readonly else 'SELECT'} completed", code)


def _first_unseen(s: ImapConnection, sel: SelectedMailbox) -> int:
    seq = 0
    for _, email in sel.iter_records(sel.uids):
        seq += 1
        if email is None or "$seen" not in email.keywords:
            return seq
    return 0


def _qresync(s: ImapConnection, sel: SelectedMailbox, q: C.QResync, names: FlagNames) -> bytes:
    """RFC 7162 §3.2.5.1: VANISHED (EARLIER) for what went since the client's modseq, then
    FETCH FLAGS for what changed."""
    out: list[bytes] = []
    state = s.ctx.store.account(s.account_id)
    vanished: set[int] = set()
    if state is not None and state.changes_floor <= q.modseq:
        for _, entries in s.ctx.store.changes_since(s.account_id, q.modseq):
            for e in entries:
                if e.type == "imap" and e.id == sel.mailbox_id and e.op == "x":
                    vanished.add(e.uid)
    elif q.known_uids is not None:
        # History compacted: every known UID that no longer exists.
        top = max((b or 0) for a, b in q.known_uids.ranges) if q.known_uids.ranges else 0
        present = set(sel.uids)
        vanished = {u for u in q.known_uids.iter(max(top, 1)) if u not in present}
    if q.known_uids is not None and vanished:
        top = max(vanished)
        vanished = {u for u in vanished if q.known_uids.contains(u, top)}
    vanished -= set(sel.uids)
    if vanished:
        out.append(
            b"* VANISHED (EARLIER) " + format_sequence_set(sorted(vanished)).encode() + b"\r\n"
        )
    changed = [
        (seq, uid, email)
        for seq, uid, email in ((n, u, sel.record(u)) for n, u in enumerate(sel.uids, start=1))
        if email is not None and email.modseq > q.modseq
    ]
    out.append(s.announce_flags((email.keywords for _, _, email in changed), names))
    for seq, uid, email in changed:
        flags = [Atom(f) for f in sel.flags_of(uid, email, names)]
        items: list[Any] = [Atom("UID"), uid, Atom("FLAGS"), flags]
        items += [Atom("MODSEQ"), [email.modseq]]
        out.append(s.line(seq, Atom("FETCH"), items))
    return b"".join(out)


async def close(s: ImapConnection, cmd: C.Close, out: list[bytes]) -> Done:
    sel = s.selected
    assert sel is not None
    if not sel.read_only:
        # RFC 9051 §6.4.1: expunge silently (no untagged EXPUNGE), then deselect.  Without
        # the right to expunge, CLOSE still closes, expunging nothing (RFC 4314 §4).
        try:
            await expunge_deleted(s, None)
        except MailError as err:
            if err.kind is not ErrorKind.NO_PERMISSION:
                raise
    deselect(s)
    return Done("CLOSE completed")


async def unselect(s: ImapConnection, cmd: C.Unselect, out: list[bytes]) -> Done:
    deselect(s)
    return Done("UNSELECT completed")


HANDLERS: dict[type[C.Command], Any] = {
    C.Select: select,
    C.Close: close,
    C.Unselect: unselect,
}

__all__ = ["HANDLERS", "ResponseCode", "deselect"]
