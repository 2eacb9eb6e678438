"""The argument grammar of the mailbox commands: SELECT/EXAMINE (CONDSTORE, QRESYNC: RFC 7162),
CREATE (CREATE-SPECIAL-USE, RFC 6154), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST
(LIST-EXTENDED, LIST-STATUS: RFC 5258, RFC 5819), LSUB, STATUS, APPEND (MULTIAPPEND, BINARY,
UTF8: RFC 3502, RFC 3516, RFC 6855) and the QUOTA commands (RFC 9208)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from . import commands as C
from .parse_reader import PLACEHOLDER, Handler, Reader

_SPECIAL_USE = {
    f.upper(): f
    for f in ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
}
_STATUS_ITEMS = frozenset(
    {
        "MESSAGES",
        "UIDNEXT",
        "UIDVALIDITY",
        "UNSEEN",
        "DELETED",
        "SIZE",
        "HIGHESTMODSEQ",
        "RECENT",
        "APPENDLIMIT",
        "MAILBOXID",
    }
)
_LIST_SELECT = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})


def _select(r: Reader, readonly: bool) -> C.Select:
    r.sp()
    mailbox = r.mailbox()
    condstore = False
    qresync: C.QResync | None = None
    if r.maybe_sp():
        r.char(b"(")
        while True:
            param = r.keyword()
            if param == "CONDSTORE" and not condstore:
                condstore = True
            elif param == "QRESYNC" and qresync is None:
                r.sp()
                qresync = _qresync(r)
            else:
                raise r.fail(f"Unknown or repeated SELECT parameter {param[:40]}")
            if r.maybe_char(b")"):
                break
            r.sp()
    return C.Select(r.tag, mailbox, readonly, condstore, qresync)


def _qresync(r: Reader) -> C.QResync:
    # RFC 7162 §7: "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
    r.char(b"(")
    uidvalidity = r.number(nonzero=True)
    r.sp()
    modseq = r.number64(nonzero=True)
    known: C.SequenceSet | None = None
    match: tuple[C.SequenceSet, C.SequenceSet] | None = None
    if r.maybe_sp():
        if r.peek() != ord("("):
            known = r.sequence_set()
            if known.saved:
                raise r.fail("$ is not allowed in QRESYNC")
            if r.maybe_sp():
                match = _seq_match(r)
        else:
            match = _seq_match(r)
    r.char(b")")
    return C.QResync(uidvalidity, modseq, known, match)


def _seq_match(r: Reader) -> tuple[C.SequenceSet, C.SequenceSet]:
    r.char(b"(")
    seqs = r.sequence_set()
    r.sp()
    uids = r.sequence_set()
    r.char(b")")
    if seqs.saved or uids.saved:
        raise r.fail("$ is not allowed in QRESYNC")
    return seqs, uids


def _create(r: Reader) -> C.Create:
    r.sp()
    mailbox = r.mailbox()
    uses: tuple[str, ...] = ()
    if r.maybe_sp():
        r.char(b"(")
        while True:
            param = r.keyword()
            if param != "USE":
                raise r.fail(f"Unknown CREATE parameter {param[:40]}")
            r.sp()

            def use_attr() -> str:
                # An unknown attribute is well-formed: the handler answers NO [USEATTR]
                # (RFC 6154 §3), so it is passed through rather than refused here.
                flag = r.flag()
                return _SPECIAL_USE.get(flag.upper(), flag)

            uses += tuple(r.paren_list(use_attr))
            if r.maybe_char(b")"):
                break
            r.sp()
    return C.Create(r.tag, mailbox, uses)


def _one_mailbox(
    cls: type[C.Delete | C.Subscribe | C.Unsubscribe],
) -> Callable[[Reader], C.Command]:
    def handler(r: Reader) -> C.Command:
        r.sp()
        return cls(r.tag, r.mailbox())

    return handler


def _rename(r: Reader) -> C.Rename:
    r.sp()
    old = r.mailbox()
    r.sp()
    return C.Rename(r.tag, old, r.mailbox())


def _status_items(r: Reader) -> tuple[str, ...]:
    def item() -> str:
        name = r.keyword()
        if name not in _STATUS_ITEMS:
            raise r.fail(f"Unknown STATUS item {name[:40]}")
        return name

    return tuple(r.paren_list(item, allow_empty=False))


def _list(r: Reader) -> C.List:
    r.sp()
    selection: set[str] = set()
    extended = False
    if r.peek() == ord("("):
        extended = True

        def select_opt() -> str:
            opt = r.keyword()
            if opt not in _LIST_SELECT:
                raise r.fail(f"Unknown LIST selection option {opt[:40]}")
            return opt

        selection = set(r.paren_list(select_opt))
        # RFC 5258 §3.1: RECURSIVEMATCH needs another option that it modifies.
        if "RECURSIVEMATCH" in selection and not selection - {"RECURSIVEMATCH", "REMOTE"}:
            raise r.fail("RECURSIVEMATCH needs another selection option")
        r.sp()
    reference = r.mailbox_text(r.astring())
    r.sp()
    if r.peek() == ord("("):
        extended = True
        patterns = tuple(r.paren_list(r.list_mailbox, allow_empty=False))
    else:
        patterns = (r.list_mailbox(),)
    returns = C.ListReturn()
    if r.maybe_sp():
        if r.keyword() != "RETURN":
            raise r.fail("Expected RETURN")
        extended = True
        r.sp()
        returns = _list_return(r)
    return C.List(r.tag, reference, patterns, frozenset(selection), returns, extended)


def _list_return(r: Reader) -> C.ListReturn:
    subscribed = children = special_use = False
    status: tuple[str, ...] | None = None

    def option() -> None:
        nonlocal subscribed, children, special_use, status
        opt = r.keyword()
        if opt == "SUBSCRIBED":
            subscribed = True
        elif opt == "CHILDREN":
            children = True
        elif opt == "SPECIAL-USE":
            special_use = True
        elif opt == "STATUS" and status is None:  # RFC 5819 §2
            r.sp()
            status = _status_items(r)
        else:
            raise r.fail(f"Unknown LIST return option {opt[:40]}")

    r.paren_list(option)
    return C.ListReturn(subscribed, children, special_use, status)


def _lsub(r: Reader) -> C.Lsub:
    r.sp()
    reference = r.mailbox_text(r.astring())
    r.sp()
    return C.Lsub(r.tag, reference, r.list_mailbox())


def _status(r: Reader) -> C.Status:
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return C.Status(r.tag, mailbox, _status_items(r))


def _append(r: Reader) -> C.Append:
    r.sp()
    mailbox = r.mailbox()
    messages: list[C.AppendMessage] = []
    while True:
        r.sp()
        flags: tuple[str, ...] = ()
        date_time: dt.datetime | None = None
        if r.peek() == ord("("):
            flags = r.flag_list()
            r.sp()
        if r.peek() == ord('"'):
            date_time = r.date_time()
            r.sp()
        utf8 = False
        if r.peek() == PLACEHOLDER:
            lit = r.literal(allow_binary=True)
        else:
            if r.keyword() != "UTF8":
                raise r.fail("Expected a literal")
            r.sp()  # RFC 6855 §4: "UTF8" SP "(" literal8 ")"
            r.char(b"(")
            lit = r.literal(allow_binary=True)
            r.char(b")")
            utf8 = True
        messages.append(C.AppendMessage(lit.data, flags, date_time, lit.binary, utf8))
        if r.at_end():
            return C.Append(r.tag, mailbox, tuple(messages))


def _getquota(r: Reader) -> C.GetQuota:
    r.sp()
    return C.GetQuota(r.tag, r.astring())


def _getquotaroot(r: Reader) -> C.GetQuotaRoot:
    r.sp()
    return C.GetQuotaRoot(r.tag, r.mailbox())


def _setquota(r: Reader) -> C.SetQuota:
    r.sp()
    root = r.astring()
    r.sp()

    def resource() -> tuple[str, int]:
        name = r.keyword()
        r.sp()
        return name, r.number64()

    limits = tuple(r.paren_list(resource))
    return C.SetQuota(r.tag, root, limits)


COMMANDS: dict[str, Handler] = {
    "SELECT": lambda r: _select(r, False),
    "EXAMINE": lambda r: _select(r, True),
    "CREATE": _create,
    "DELETE": _one_mailbox(C.Delete),
    "RENAME": _rename,
    "SUBSCRIBE": _one_mailbox(C.Subscribe),
    "UNSUBSCRIBE": _one_mailbox(C.Unsubscribe),
    "LIST": _list,
    "LSUB": _lsub,
    "STATUS": _status,
    "APPEND": _append,
    "GETQUOTA": _getquota,
    "GETQUOTAROOT": _getquotaroot,
    "SETQUOTA": _setquota,
}
