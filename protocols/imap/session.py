"""The dispatch of parsed IMAP commands to their handlers.

The session is transport-free: ``execute(command)`` returns the bytes to write and, for the few
commands that change the transport (STARTTLS, COMPRESS, IDLE, AUTHENTICATE continuations,
LOGOUT), an :class:`Action` for the server.  Handlers live in one module per command family
(``handlers/``, their table in ``handlers/__init__.py``); they act on the connection state
(:mod:`.connection`) and raise :class:`CommandFailed` or :class:`store.MailError` to refuse,
which is answered here through the one mapping of :mod:`.errors`.
"""

from __future__ import annotations

import logging
import uuid

from store import MailError

from . import commands as C
from .connection import (
    ANY,
    AUTHED,
    NOT_AUTH,
    SELECTED,
    Action,
    CommandFailed,
    Done,
    ImapConnection,
    Outcome,
    State,
    unusable_name_refusal,
)
from .errors import response_for_error
from .handlers import HANDLERS
from .handlers.auth import auth_continue
from .serializer import tagged

__all__ = ["Action", "CommandFailed", "Done", "ImapSession", "Outcome", "State"]

log = logging.getLogger(__name__)

# RFC 9051 §3: the state table. Commands absent from a state's set get BAD.
STATES: dict[type[C.Command], frozenset[State]] = {
    C.Capability: ANY,
    C.Noop: ANY,
    C.Logout: ANY,
    C.Id: ANY,
    C.StartTls: NOT_AUTH,
    C.Authenticate: NOT_AUTH,
    C.Login: NOT_AUTH,
    C.Enable: frozenset({State.AUTHENTICATED}),  # RFC 5161 §3.1: authenticated state only
    C.Select: AUTHED,
    C.Create: AUTHED,
    C.Delete: AUTHED,
    C.Rename: AUTHED,
    C.Subscribe: AUTHED,
    C.Unsubscribe: AUTHED,
    C.List: AUTHED,
    C.Lsub: AUTHED,
    C.Namespace: AUTHED,
    C.Status: AUTHED,
    C.Append: AUTHED,
    C.Idle: AUTHED,
    C.GetQuota: AUTHED,
    C.GetQuotaRoot: AUTHED,
    C.SetQuota: AUTHED,
    C.Compress: AUTHED,
    C.Check: SELECTED,
    C.Close: SELECTED,
    C.Unselect: SELECTED,
    C.Expunge: SELECTED,
    C.Search: SELECTED,
    C.Fetch: SELECTED,
    C.Store: SELECTED,
    C.Copy: SELECTED,
    C.Move: SELECTED,
    C.Sort: SELECTED,
    C.Thread: SELECTED,
}

# RFC 9051 §7.5.1 / RFC 2180 §4.1: no EXPUNGE while the client may hold sequence numbers from
# this command (FETCH, STORE, SEARCH and their UID forms); COPY/MOVE too (they name sequence
# numbers).  Everything else may renumber.
NO_EXPUNGE_NEWS = (C.Fetch, C.Store, C.Search, C.Sort, C.Thread, C.Copy, C.Move)


class ImapSession(ImapConnection):
    """A connection that executes commands: the state table, then the handler, then the news
    and the tagged reply."""

    # -- dispatch ------------------------------------------------------------------------------
    async def execute(self, cmd: C.Command) -> Outcome:
        allowed = STATES.get(type(cmd))
        if allowed is None or self.state not in allowed:
            self.bad_commands += 1
            return Outcome(
                tagged(cmd.tag, "BAD", f"Command not valid in the {self.state.value} state")
            )
        out: list[bytes] = []
        try:
            refusal = None if isinstance(cmd, C.Select) else unusable_name_refusal(cmd)
            done = refusal or await HANDLERS[type(cmd)](self, cmd, out)
        except CommandFailed as failure:
            if failure.status == "BAD":
                self.bad_commands += 1
            done = Done(failure.text, failure.code, failure.status)
        except MailError as err:
            resp = response_for_error(err)
            done = Done(resp.text, resp.code, resp.status)
        except Exception:
            ref = uuid.uuid4().hex[:12]
            log.exception("IMAP %s failed for %s (ref %s)", type(cmd).__name__, self.username, ref)
            done = Done(f"Internal error, reference {ref}", "SERVERBUG", "NO")
        return self._complete(cmd.tag, done, out, not isinstance(cmd, NO_EXPUNGE_NEWS))

    def _complete(self, tag: str, done: Done, out: list[bytes], allow_expunge: bool) -> Outcome:
        if done.action in (Action.AUTH_CONTINUE, Action.IDLE):
            # No tagged reply yet: a continuation request, or IDLE until DONE.
            return Outcome(b"".join(out) + (done.payload or b""), done.action)
        if done.status != "BAD" and done.action is None:
            out.append(self.news(allow_expunge=allow_expunge))
        out.append(tagged(tag, done.status, done.text, done.code))  # type: ignore[arg-type]
        return Outcome(b"".join(out), done.action, done.payload)

    async def auth_line(self, tag: str, line: bytes) -> Outcome:
        """The client's reply to an AUTHENTICATE continuation request."""
        try:
            done = await auth_continue(self, line)
        except CommandFailed as failure:
            done = Done(failure.text, failure.code, failure.status)
        return self._complete(tag, done, [], True)
