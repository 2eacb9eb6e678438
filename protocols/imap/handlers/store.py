"""STORE and UID STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE (RFC 7162 §3.1.3)."""

from __future__ import annotations

from typing import Any

from protocols.mail import MailTransaction, Ref
from store import ErrorKind, MailError

from .. import commands as C
from ..connection import CommandFailed, Done, ImapConnection
from ..flags import FlagError, to_keywords
from ..serializer import format_sequence_set
from ..values import Atom

# Errors that mean the message went away meanwhile (NO [EXPUNGEISSUED], RFC 2180 §4.2.1).
_GONE = frozenset({ErrorKind.NOT_FOUND, ErrorKind.EXPUNGED})


async def store(s: ImapConnection, cmd: C.Store, out: list[bytes]) -> Done:
    sel = s.selected
    assert sel is not None
    if sel.read_only:
        raise CommandFailed("NO", "Mailbox is read-only", "READ-ONLY")
    try:
        keywords = to_keywords(cmd.flags)
    except FlagError as exc:
        raise CommandFailed("BAD", str(exc)) from exc
    if cmd.unchanged_since is not None:
        s.condstore = True
    uids = s.resolve(cmd.sequence_set, uid=cmd.uid)
    targets: list[tuple[int, int]] = []
    for uid in uids:
        eid = sel.email_ids.get(uid)
        if eid is not None:
            targets.append((uid, eid))
    # UNCHANGEDSINCE 0 always fails (RFC 7162 §3.1.3): modseqs are >= 1.
    tx = s.begin()
    refs: list[Ref | None] = []  # None: gone before the transaction was built
    for _, eid in targets if cmd.unchanged_since != 0 else ():
        try:
            refs.append(_update(tx, s.account_id, eid, cmd, keywords))
        except MailError as err:
            if err.kind not in _GONE:
                raise  # e.g. NO_PERMISSION: the whole STORE is refused, nothing stored
            refs.append(None)
    if any(ref is not None for ref in refs) and cmd.mode != "REMOVE":
        s.name_keywords(tx, cmd.flags)
    committed = await tx.commit()
    results = [None if ref is None else committed[ref] for ref in refs]
    # The modseq of this STORE's own changes (a message it left unchanged keeps its own).
    own = committed.modseq(s.account_id)
    modified: list[int] = []
    shown: dict[int, tuple[int, int]] = {}  # for forget_flag_news
    lines: list[tuple[int, list[Any]]] = []  # the FETCH responses: (uid, items)
    stored: list[tuple[str, ...]] = []  # the keywords of every message stored
    names = s.flag_names()
    expunged = False
    refused: MailError | None = None
    for (uid, eid), result in zip(targets, results or [None] * len(targets), strict=False):
        if cmd.unchanged_since == 0 or (
            result is not None
            and result.error is not None
            and result.error.kind is ErrorKind.STATE_MISMATCH
        ):
            modified.append(uid if cmd.uid else (sel.seq_of(uid) or 0))
            continue
        if result is not None and result.error is not None and result.error.kind not in _GONE:
            refused = refused or result.error  # e.g. LIMIT: too many keywords on a message
            continue
        if result is None or result.error is not None:
            expunged = True
            continue
        email = s.ctx.store.email(s.account_id, eid)
        if email is None:
            expunged = True
            continue
        stored.append(email.keywords)
        if not cmd.silent:
            shown[uid] = (0, email.modseq)  # the FETCH below shows this record
        elif result.value.modseq == own:
            shown[uid] = (own, own)  # .SILENT: only the client's own change is known to it
        values: list[Any] = []
        if cmd.uid:
            values += [Atom("UID"), uid]
        if not cmd.silent:
            values += [Atom("FLAGS"), [Atom(f) for f in sel.flags_of(uid, email, names)]]
        if s.condstore:
            values += [Atom("MODSEQ"), [email.modseq]]
        # RFC 7162 §3.1.3: with UNCHANGEDSINCE the new MODSEQ is sent even for .SILENT.
        if not cmd.silent or cmd.unchanged_since is not None:
            lines.append((uid, values))
    # RFC 3501 §7.2.6 / RFC 9051 §7.3.5: a keyword new to the client comes in FLAGS, before
    # the FETCH responses that show it (and with .SILENT too, as Dovecot does).
    out.append(s.announce_flags(stored, names))
    for uid, values in lines:
        out.append(s.line(sel.seq_of(uid), Atom("FETCH"), values))
    sel.forget_flag_news(shown)
    if modified:
        return Done(
            "Some messages were modified", f"MODIFIED {format_sequence_set(sorted(modified))}"
        )
    if refused is not None:
        raise refused  # NO with the kind's response code; the others were stored
    if expunged:
        return Done("Some messages were expunged", "EXPUNGEISSUED", "NO")
    return Done("STORE completed")


def _update(
    tx: MailTransaction, acct: int, eid: int, cmd: C.Store, keywords: tuple[str, ...]
) -> Ref:
    if_modseq = cmd.unchanged_since or 0
    if cmd.mode == "SET":
        return tx.update_email(acct, eid, keywords_set=keywords, if_modseq=if_modseq)
    if cmd.mode == "ADD":
        return tx.update_email(acct, eid, keywords_add=keywords, if_modseq=if_modseq)
    return tx.update_email(acct, eid, keywords_remove=keywords, if_modseq=if_modseq)


HANDLERS: dict[type[C.Command], Any] = {C.Store: store}
