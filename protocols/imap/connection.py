"""One IMAP connection's state, and what the command handlers return or raise.

A leaf of the package's handlers (``handlers/``): they take an :class:`ImapConnection` and
return :class:`Done` or raise :class:`CommandFailed` / :class:`store.MailError`; the dispatch of
commands to them is :class:`protocols.imap.session.ImapSession`, which imports their table
(``handlers/__init__.py``), so no module of the package imports back.

The connection holds the :class:`AccessToken` it logged in with (none before); the account it
acts on is the token's personal account (the sharing issue adds the others the token may see).
"""

from __future__ import annotations

import bisect
import enum
import functools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from protocols.mail import AccessToken, MailTransaction

from . import commands as C
from .context import ImapContext
from .flags import SYSTEM_FLAGS, FlagNames, flags_item, spellings
from .selected import SelectedMailbox, Untagged
from .serializer import ResponseCode, format_sequence_set, untagged, untagged_status
from .values import Atom


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


class Action(enum.Enum):
    STARTTLS = "starttls"
    COMPRESS = "compress"
    IDLE = "idle"
    AUTH_CONTINUE = "auth-continue"
    LOGOUT = "logout"


ANY = frozenset(State) - {State.LOGOUT}
NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
AUTHED = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})


class CommandFailed(Exception):
    """A tagged NO/BAD with a response code, raised by handlers."""

    def __init__(self, status: str, text: str, code: str | ResponseCode | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.code = code


@dataclass
class Outcome:
    data: bytes
    action: Action | None = None
    payload: Any = None


@dataclass
class Done:
    """A handler's tagged completion."""

    text: str = "completed"
    code: str | ResponseCode | None = None
    status: str = "OK"
    action: Action | None = None
    payload: Any = None


def unusable_name_refusal(cmd: C.Command) -> Done | None:
    """NO for a command that names a mailbox no name can reach (:class:`C.UnusableName`):
    it parsed, so it is no BAD (RFC 9051 §7.1, RFC 3501 §7.1: BAD is for syntax errors).
    ``[CANNOT]`` where the name would be created (CREATE, RENAME's new name: it never can
    be), ``[NONEXISTENT]`` where it should exist (no TRYCREATE for APPEND/COPY/MOVE: CREATE
    would fail too).  LIST and LSUB patterns are left to LIST, where they match nothing; SELECT
    and EXAMINE ask here after closing the selected mailbox (a failed SELECT leaves none
    selected, RFC 9051 §6.3.1)."""
    if isinstance(cmd, (C.List, C.Lsub)):
        return None
    name = getattr(cmd, "mailbox", None)
    code = "CANNOT" if isinstance(cmd, C.Create) else "NONEXISTENT"
    if not isinstance(name, C.UnusableName) and isinstance(cmd, C.Rename):
        name, code = cmd.new_name, "CANNOT"
    if not isinstance(name, C.UnusableName):
        return None
    return Done(f"Invalid mailbox name: {name.reason}", code, "NO")


# A command family's handler: the connection, the parsed command, the list to append untagged
# responses to -> the tagged completion.
Handler = Callable[["ImapConnection", Any, list[bytes]], Awaitable[Done]]

BASE_CAPABILITIES = (
    "IMAP4rev2",
    "IMAP4rev1",
    "LITERAL+",
    "ENABLE",
    "IDLE",
    "NAMESPACE",
    "UNSELECT",
    "UIDPLUS",
    "MOVE",
    "CONDSTORE",
    "QRESYNC",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "CHILDREN",
    "ESEARCH",
    "SEARCHRES",
    "WITHIN",
    "SORT",
    "SORT=DISPLAY",
    "THREAD=REFERENCES",
    "THREAD=ORDEREDSUBJECT",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "BINARY",
    "MULTIAPPEND",
    "STATUS=SIZE",
    "OBJECTID",
    "UTF8=ACCEPT",
    "ID",
    "PREVIEW",
)


class ImapConnection:
    def __init__(
        self, ctx: ImapContext, *, tls_active: bool = False, peer: str = "", compress: bool = True
    ) -> None:
        self.ctx = ctx
        self.tls_active = tls_active
        self.peer = peer
        self.state = State.NOT_AUTHENTICATED
        self.token: AccessToken | None = None  # set at login
        self.username = ""
        self.selected: SelectedMailbox | None = None
        self.enabled: set[str] = set()
        self.condstore = False  # CONDSTORE "enabled" by ENABLE or any CONDSTORE command
        self.searchres: list[int] = []  # UIDs saved by SEARCH RETURN (SAVE) (RFC 5182)
        self.compress_available = compress
        self.compressed = False
        self.bad_commands = 0
        self.auth_state: Any = None  # AUTHENTICATE in progress
        self.user_slot: str | None = None  # the per-user connection slot held after login

    # -- properties ----------------------------------------------------------------------------
    @property
    def account_id(self) -> int:
        """The account the session acts on: its token's personal account (0 before login)."""
        return 0 if self.token is None else self.token.account_id

    def accounts(self) -> frozenset[int]:
        """The accounts whose changes concern the session: those its token may see."""
        return frozenset(() if self.token is None else self.token.account_ids())

    @property
    def auth_token(self) -> AccessToken:
        """The token, in the authenticated states (the state table keeps the commands that
        need it out of the others)."""
        assert self.token is not None
        return self.token

    def begin(self, *, atomic: bool = False) -> MailTransaction:
        """A mail-service transaction of the session's token (the authenticated states)."""
        return self.ctx.mail.begin(self.auth_token, atomic=atomic)

    @property
    def rev2(self) -> bool:
        return "IMAP4REV2" in self.enabled

    @property
    def utf8(self) -> bool:
        """UTF-8 in quoted strings and mailbox names (IMAP4rev2 or UTF8=ACCEPT)."""
        return "UTF8=ACCEPT" in self.enabled or self.rev2

    @property
    def qresync(self) -> bool:
        return "QRESYNC" in self.enabled

    def capabilities(self) -> list[str]:
        caps = list(BASE_CAPABILITIES)
        caps.append(f"APPENDLIMIT={self.ctx.limits.max_literal_size}")
        if self.state is State.NOT_AUTHENTICATED:
            if self.ctx.tls_available and not self.tls_active:
                caps.append("STARTTLS")
            if self.tls_active or self.ctx.allow_plaintext_auth:
                caps += ["AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR"]
            else:
                caps.append("LOGINDISABLED")  # RFC 9051 §6.2.3
        elif self.compress_available and not self.compressed:
            caps.append("COMPRESS=DEFLATE")
        return caps

    def greeting(self) -> bytes:
        caps = " ".join(self.capabilities())
        return untagged_status("OK", "stalwart-py ready", f"CAPABILITY {caps}")

    def line(self, *values: Any) -> bytes:
        return untagged(*values, utf8=self.utf8)

    # -- unsolicited news ----------------------------------------------------------------------
    def news(self, *, allow_expunge: bool) -> bytes:
        sel = self.selected
        if sel is None:
            return b""
        sel.poll()
        return self.render_news(sel.take_news(allow_expunge=allow_expunge, qresync=self.qresync))

    def render_news(self, news: Untagged) -> bytes:
        if not news:
            return b""
        sel = self.selected
        assert sel is not None
        names = self.flag_names()
        # FLAGS first when the news brings keywords the client was not told of (RFC 3501
        # §7.2.6 / RFC 9051 §7.3.5): from new messages or from other sessions' flag changes.
        sets = [email.keywords for _, _, email in news.flag_updates]
        out = [self.announce_flags([*news.arrived, *sets], names)]
        out += [b"* %d EXPUNGE\r\n" % seq for seq in news.expunged_seqs]
        if news.vanished_uids:
            out.append(b"* VANISHED " + format_sequence_set(news.vanished_uids).encode() + b"\r\n")
        if news.exists is not None:
            out.append(b"* %d EXISTS\r\n" % news.exists)
            if not self.rev2:
                out.append(b"* %d RECENT\r\n" % (news.recent or 0))
        recent = sel.recent
        for seq, uid, email in news.flag_updates:
            flags = flags_item(names.flags(email.keywords), uid in recent)
            line = b"* %d FETCH (UID %d %s" % (seq, uid, flags)
            if self.condstore:
                line += b" MODSEQ (%d)" % email.modseq
            out.append(line + b")\r\n")
        return b"".join(out)

    # -- flags -------------------------------------------------------------------------------
    def flag_names(self) -> FlagNames:
        """How this account's keywords are shown, for one command (see :class:`FlagNames`)."""
        return FlagNames(functools.partial(self.ctx.records.spelling, self.account_id))

    def name_keywords(self, tx: MailTransaction, flags: Iterable[str]) -> None:
        """Adds to ``tx`` (after the operations that set these flags) the recording of the
        client's spelling of each keyword that has none yet, so that IMAP shows it back as
        first set (the store keeps keywords lower-cased for JMAP and matching;
        store/keywords.py)."""
        spelling = self.ctx.records.spelling
        new = tuple(k for k in spellings(flags) if spelling(self.account_id, k.lower()) is None)
        tx.name_keywords(self.account_id, new)

    def flags_responses(self, names: FlagNames, *, selecting: bool = False) -> bytes:
        """``FLAGS`` with every keyword the client was told of, then ``PERMANENTFLAGS`` (for a
        read-only mailbox only when selecting: it stays ``()``)."""
        sel = self.selected
        assert sel is not None
        keywords = [names.flag(k) for k in sorted(sel.announced)]
        out = [self.line(Atom("FLAGS"), [Atom(f) for f in (*SYSTEM_FLAGS, *keywords)])]
        if not sel.read_only:
            perm = " ".join([*SYSTEM_FLAGS, *keywords, "\\*"])
            out.append(untagged_status("OK", "Flags permitted", f"PERMANENTFLAGS ({perm})"))
        elif selecting:
            out.append(untagged_status("OK", "No permanent flags permitted", "PERMANENTFLAGS ()"))
        return b"".join(out)

    def announce_flags(self, keyword_sets: Iterable[tuple[str, ...]], names: FlagNames) -> bytes:
        """FLAGS and PERMANENTFLAGS again if these keyword sets (of records about to be shown)
        hold a keyword the client was not told of yet — to be written before the FETCH lines
        that show them (:meth:`SelectedMailbox.announce`).  Empty otherwise."""
        sel = self.selected
        if sel is None or not sel.announce(keyword_sets):
            return b""
        return self.flags_responses(names)

    # -- sequence sets -------------------------------------------------------------------------
    def resolve(self, seqset: C.SequenceSet, *, uid: bool) -> list[int]:
        """The UIDs a sequence set names in the selected mailbox, ascending.

        Sequence numbers beyond the mailbox are a client error (BAD, RFC 9051 §9
        "seq-number"); UIDs that do not exist are simply not there (§6.4.8)."""
        sel = self.selected
        assert sel is not None
        if seqset.saved:
            saved = set(self.searchres)
            return [u for u in sel.uids if u in saved]
        if uid:
            top = sel.uids[-1] if sel.uids else 0
            spans = seqset.normalized(max(top, 1)) if sel.uids else ()
            out: list[int] = []
            for lo, hi in spans:
                i = bisect.bisect_left(sel.uids, lo)
                while i < len(sel.uids) and sel.uids[i] <= hi:
                    out.append(sel.uids[i])
                    i += 1
            # "UID n:*" where n > highest still names the highest UID (RFC 9051 §6.4.8 note).
            if not out and seqset.has_star and sel.uids:
                out = [sel.uids[-1]]
            return out
        exists = sel.exists
        for a, b in seqset.ranges:
            for n in (a, b):
                if n is not None and (n > exists or n == 0):
                    raise CommandFailed("BAD", "Invalid message sequence number")
        if exists == 0:
            if seqset.ranges:
                raise CommandFailed("BAD", "No messages in the mailbox")
            return []
        return [sel.uid_at(s) for s in seqset.iter(exists)]
