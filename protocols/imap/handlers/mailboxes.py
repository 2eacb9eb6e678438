"""CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (LIST-EXTENDED, LIST-STATUS), LSUB,
NAMESPACE, STATUS."""

from __future__ import annotations

import re
from typing import Any

from protocols.mail import MailTransaction, Ref
from store import ErrorKind, MailError
from store.ids import object_id
from store.models import Mailbox

from .. import commands as C
from ..connection import CommandFailed, Done, ImapConnection
from ..mutf7 import encode as mutf7_encode
from ..names import ATTRIBUTE_ROLES, DELIMITER, MailboxTree, normalise
from ..serializer import ResponseCode
from ..subscriptions import Orphans
from ..values import Atom


def tree(s: ImapConnection) -> MailboxTree:
    """The mailboxes the session's token may see (the ``l`` right, RFC 4314)."""
    return MailboxTree(s.ctx.mail.mailboxes(s.auth_token, s.account_id))


def orphans(s: ImapConnection) -> Orphans:
    return Orphans(s.ctx.mail, s.auth_token, s.account_id)


def wire_name(s: ImapConnection, name: str) -> str:
    """Mailbox names go out as UTF-8 after ENABLE UTF8=ACCEPT/IMAP4rev2, else modified UTF-7."""
    return name if s.utf8 else mutf7_encode(name)


def require(s: ImapConnection, name: str) -> Mailbox:
    mb = tree(s).find(name)
    if mb is None:
        raise CommandFailed("NO", "No such mailbox", "NONEXISTENT")
    return mb


async def _commit(tx: MailTransaction, ref: Ref) -> Any:
    """Commits ``tx``: ``ref``'s value, or its error raised (the outcome of the transaction's
    other operations does not matter)."""
    result = (await tx.commit())[ref]
    if result.error is not None:
        raise result.error
    return result.value


def _check_name(name: str) -> list[str]:
    parts = name.split(DELIMITER)
    if not name or any(p == "" for p in parts):
        raise CommandFailed("NO", "Invalid mailbox name", "CANNOT")
    return parts


async def _create_path(s: ImapConnection, name: str, role: str = "") -> int:
    """Creates ``name`` and any missing superiors (RFC 9051 §6.3.4); the new mailbox's id."""
    parts = _check_name(name)
    parent, missing = tree(s).split_new(name)
    if not missing:
        raise CommandFailed("NO", "Mailbox already exists", "ALREADYEXISTS")
    kept = orphans(s)
    for i, part in enumerate(missing):
        last = i == len(missing) - 1
        path = DELIMITER.join(parts[: len(parts) - len(missing) + i + 1])
        # RFC 9051 §6.3.4: CREATE does not subscribe; clients SUBSCRIBE themselves.  But a
        # name that stayed on the subscription list when its mailbox was deleted (RFC 3501
        # §6.3.6) is subscribed: the new mailbox takes the subscription over.
        tx = s.begin()
        ref = tx.create_mailbox(
            s.account_id, part, parent_id=parent, role=role if last else "", subscribed=path in kept
        )
        kept.forget(tx, path)
        parent = await _commit(tx, ref)
    return int(parent)


async def create(s: ImapConnection, cmd: C.Create, out: list[bytes]) -> Done:
    name = normalise(cmd.mailbox).rstrip(DELIMITER)
    if name.upper() == "INBOX":
        raise CommandFailed("NO", "INBOX already exists", "ALREADYEXISTS")
    role = ""
    for attr in cmd.special_use:
        role = ATTRIBUTE_ROLES.get(attr.lower(), "")
        if not role or len(cmd.special_use) > 1:
            raise CommandFailed("NO", "Unsupported special-use attribute", "USEATTR")
    try:
        mbox = await _create_path(s, name, role)
    except MailError as err:
        if err.kind is ErrorKind.ALREADY_EXISTS and role:
            raise CommandFailed("NO", "That special use is taken", "USEATTR") from err
        raise
    return Done(
        "CREATE completed", ResponseCode("MAILBOXID", ([Atom(object_id("mailbox", mbox))],))
    )


async def delete(s: ImapConnection, cmd: C.Delete, out: list[bytes]) -> Done:
    t = tree(s)
    mb = t.find(cmd.mailbox)
    if mb is None:
        raise CommandFailed("NO", "No such mailbox", "NONEXISTENT")
    if mb.role == "inbox":
        raise CommandFailed("NO", "INBOX cannot be deleted", "CANNOT")
    # RFC 3501 §6.3.6: the server "MUST NOT unilaterally remove" a name from the subscription
    # list when its mailbox goes (RFC 9051 §6.3.7: SHOULD NOT).  An unsubscribed name drops
    # an entry a JMAP-created mailbox of the same name may have left.  Same batch as the
    # DELETE, so that no crash in between loses the subscription (should the DELETE itself
    # fail, a kept name is ignored while its mailbox exists).
    kept = orphans(s)
    path = t.path(mb.id)
    tx = s.begin()
    ref = tx.destroy_mailbox(s.account_id, mb.id, remove_emails=True)
    if mb.subscribed:
        kept.keep(tx, path)
    else:
        kept.forget(tx, path)
    await _commit(tx, ref)
    return Done("DELETE completed")


async def rename(s: ImapConnection, cmd: C.Rename, out: list[bytes]) -> Done:
    t = tree(s)
    source = t.find(cmd.mailbox)
    if source is None:
        raise CommandFailed("NO", "No such mailbox", "NONEXISTENT")
    new_name = normalise(cmd.new_name).rstrip(DELIMITER)
    parts = _check_name(new_name)
    if t.find(new_name) is not None:
        raise CommandFailed("NO", "Target mailbox already exists", "ALREADYEXISTS")
    if source.role == "inbox":
        # RFC 9051 §6.3.6: renaming INBOX moves its messages to a new mailbox; INBOX stays.
        target = await _create_path(s, new_name)
        tx = s.begin()
        for _, eid in s.ctx.store.mailbox_uids(s.account_id, source.id):
            tx.move_email(s.account_id, eid, source.id, target)
        await tx.commit()
        return Done("RENAME completed")
    parent_name = DELIMITER.join(parts[:-1])
    parent = 0
    if parent_name:
        existing = t.find(parent_name)
        parent = existing.id if existing is not None else await _create_path(s, parent_name)
    if parent == source.id or _is_descendant(t, parent, source.id):
        raise CommandFailed("NO", "Cannot move a mailbox under itself", "CANNOT")
    # The mailbox keeps its own subscription (JMAP's isSubscribed goes with it); a new name
    # still on the subscription list (its mailbox was deleted) subscribes it, as CREATE does.
    kept = orphans(s)
    subscribed = True if new_name in kept else None
    tx = s.begin()
    ref = tx.update_mailbox(
        s.account_id, source.id, name=parts[-1], parent_id=parent, subscribed=subscribed
    )
    kept.forget(tx, new_name)
    await _commit(tx, ref)
    return Done("RENAME completed")


def _is_descendant(t: MailboxTree, mbox: int, ancestor: int) -> bool:
    seen = set()
    while mbox and mbox not in seen:
        seen.add(mbox)
        if mbox == ancestor:
            return True
        m = t.by_id.get(mbox)
        mbox = m.parent_id if m else 0
    return False


async def subscribe(s: ImapConnection, cmd: C.Subscribe, out: list[bytes]) -> Done:
    mb = require(s, cmd.mailbox)
    tx = s.begin()
    await _commit(tx, tx.update_mailbox(s.account_id, mb.id, subscribed=True))
    return Done("SUBSCRIBE completed")


async def unsubscribe(s: ImapConnection, cmd: C.Unsubscribe, out: list[bytes]) -> Done:
    mb = tree(s).find(cmd.mailbox)
    tx = s.begin()
    if mb is not None:
        ref = tx.update_mailbox(s.account_id, mb.id, subscribed=False)
        orphans(s).forget(tx, cmd.mailbox)
        await _commit(tx, ref)
    elif orphans(s).forget(tx, cmd.mailbox):
        await tx.commit()  # a subscribed name whose mailbox was deleted (RFC 3501 §6.3.6)
    else:
        raise CommandFailed("NO", "No such mailbox", "NONEXISTENT")
    return Done("UNSUBSCRIBE completed")


# -- LIST ----------------------------------------------------------------------------------


def pattern_regex(reference: str, pattern: str) -> re.Pattern[str]:
    """RFC 9051 §6.3.9: ``*`` matches anything, ``%`` anything but the delimiter."""
    full = normalise(reference + pattern)
    out = []
    for ch in full:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append("[^/]*")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


async def list_(s: ImapConnection, cmd: C.List, out: list[bytes]) -> Done:
    await _list(s, cmd.tag, cmd.reference, cmd.patterns, cmd.selection, cmd.returns, out, "LIST")
    return Done("LIST completed")


async def lsub(s: ImapConnection, cmd: C.Lsub, out: list[bytes]) -> Done:
    await _list(
        s,
        cmd.tag,
        cmd.reference,
        (cmd.pattern,),
        frozenset({"SUBSCRIBED"}),
        C.ListReturn(),
        out,
        "LSUB",
    )
    return Done("LSUB completed")


async def _list(
    s: ImapConnection,
    tag: str,
    reference: str,
    patterns: tuple[str, ...],
    selection: frozenset[str],
    returns: C.ListReturn,
    out: list[bytes],
    verb: str,
) -> None:
    if patterns == ("",):
        # RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
        out.append(s.line(Atom(verb), [Atom("\\Noselect")], DELIMITER, ""))
        return
    t = tree(s)
    # A reference or pattern that is no valid name (C.UnusableName) matches nothing: LIST
    # still answers OK (as Dovecot does), since it asked a valid question.
    usable = () if isinstance(reference, C.UnusableName) else patterns
    regexes = [pattern_regex(reference, p) for p in usable if not isinstance(p, C.UnusableName)]

    def matched(path: str) -> bool:
        return any(r.match(path) for r in regexes)

    special_only = "SPECIAL-USE" in selection
    show_subscribed = "SUBSCRIBED" in selection or returns.subscribed
    subscribed = _subscribed_names(s, t) if "SUBSCRIBED" in selection else None
    names = set(t.by_path) if subscribed is None else _with_parents(subscribed)
    for path in sorted(names, key=lambda p: (p != "INBOX", p)):
        if not matched(path):
            continue
        mb = t.by_path.get(path)
        extra: list[Any] = []
        if subscribed is not None and path not in subscribed:
            # A parent of subscribed names the pattern hides: LSUB lists it \Noselect
            # (RFC 3501 §6.3.9), LIST RECURSIVEMATCH with CHILDINFO (RFC 5258 §3.5).
            below = path + DELIMITER
            if not any(n.startswith(below) and not matched(n) for n in subscribed):
                continue
            if verb == "LSUB":
                out.append(s.line(Atom(verb), [Atom("\\Noselect")], DELIMITER, wire_name(s, path)))
                continue
            if "RECURSIVEMATCH" not in selection:
                continue
            extra = [["CHILDINFO", ["SUBSCRIBED"]]]
        if mb is None:
            # No mailbox by that name (only with SUBSCRIBED): subscribed still (RFC 3501
            # §6.3.6), or the parent of such names.  LIST-EXTENDED says \\NonExistent (RFC 5258
            # §3.1), which implies \\Noselect: LSUB, which has no \\NonExistent, says that.
            if special_only:
                continue
            assert subscribed is not None
            mine = ["\\Subscribed"] if path in subscribed else []
            attrs = ["\\Noselect"] if verb == "LSUB" else [*mine, "\\NonExistent"]
        else:
            attrs = t.attributes(mb)
            if special_only and len([a for a in attrs if a not in _STRUCTURAL]) == 0:
                continue
            if not show_subscribed or verb == "LSUB":
                attrs = [a for a in attrs if a != "\\Subscribed"]
        name = wire_name(s, path)
        out.append(s.line(Atom(verb), [Atom(a) for a in attrs], DELIMITER, name, *extra))
        if returns.status and mb is not None:
            out.append(_status_line(s, mb, path, returns.status))


def _subscribed_names(s: ImapConnection, t: MailboxTree) -> set[str]:
    """Every subscribed name: the subscribed mailboxes', and those kept after their mailbox
    was deleted (:mod:`..subscriptions`; while a mailbox of the name exists, its flag rules)."""
    names = {path for path, mb in t.by_path.items() if mb.subscribed}
    names.update(n for n in orphans(s).names() if t.find(n) is None)
    return names


def _with_parents(names: set[str]) -> set[str]:
    """``names`` and every name above them (the candidates for \\Noselect / CHILDINFO)."""
    out = set(names)
    for name in names:
        parts = name.split(DELIMITER)
        out.update(DELIMITER.join(parts[:i]) for i in range(1, len(parts)))
    return out


_STRUCTURAL = {"\\HasChildren", "\\HasNoChildren", "\\Subscribed", "\\Noselect"}


async def namespace(s: ImapConnection, cmd: C.Namespace, out: list[bytes]) -> Done:
    out.append(s.line(Atom("NAMESPACE"), [["", DELIMITER]], None, None))
    return Done("NAMESPACE completed")


# -- STATUS --------------------------------------------------------------------------------


def _status_line(s: ImapConnection, mb: Mailbox, path: str, items: tuple[str, ...]) -> bytes:
    values: list[Any] = []
    state = s.ctx.store.account(s.account_id)
    for item in items:
        item = item.upper()
        if item == "MESSAGES":
            value: Any = mb.total
        elif item == "UIDNEXT":
            value = mb.uidnext
        elif item == "UIDVALIDITY":
            value = mb.uidvalidity
        elif item == "UNSEEN":
            value = mb.unseen
        elif item == "DELETED":
            value = mb.deleted
        elif item == "SIZE":
            value = mb.size
        elif item == "RECENT":
            # Messages no session has seen yet, as the next SELECT would report them.
            uids = [u for u, _ in s.ctx.store.mailbox_uids(s.account_id, mb.id)]
            value = s.ctx.recent.count(s.account_id, mb.id, uids)
        elif item == "HIGHESTMODSEQ":
            s.condstore = True
            value = state.modseq if state else 0
        elif item == "APPENDLIMIT":
            value = s.ctx.limits.max_literal_size
        elif item == "MAILBOXID":
            value = [object_id("mailbox", mb.id)]
        else:
            continue
        values += [Atom(item), value]
    return s.line(Atom("STATUS"), wire_name(s, path), values)


async def status(s: ImapConnection, cmd: C.Status, out: list[bytes]) -> Done:
    t = tree(s)
    mb = t.find(cmd.mailbox)
    if mb is None:
        raise CommandFailed("NO", "No such mailbox", "NONEXISTENT")
    out.append(_status_line(s, mb, t.path(mb.id), cmd.items))
    return Done("STATUS completed")


HANDLERS: dict[type[C.Command], Any] = {
    C.Create: create,
    C.Delete: delete,
    C.Rename: rename,
    C.Subscribe: subscribe,
    C.Unsubscribe: unsubscribe,
    C.List: list_,
    C.Lsub: lsub,
    C.Namespace: namespace,
    C.Status: status,
}
