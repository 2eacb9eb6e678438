"""The LMTP session state table: every transition lives here and nowhere else.

States follow RFC 5321 §4.1.4 (command ordering) as adapted by RFC 2033 (LHLO instead of
HELO/EHLO) and RFC 3030 (BDAT chunks).  A (state, trigger) pair that is absent from
:data:`TRANSITIONS` is a bad sequence of commands (503 5.5.1).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final


class State(enum.Enum):
    CONNECTED = "connected"  # greeting sent, before LHLO (and again after STARTTLS)
    READY = "ready"  # after LHLO, no transaction
    MAIL = "mail"  # MAIL FROM accepted, no recipient accepted yet
    RCPT = "rcpt"  # at least one recipient accepted
    DATA = "data"  # reading DATA lines (or waiting for the app's delivery results)
    BDAT = "bdat"  # at least one non-LAST BDAT chunk received
    CLOSED = "closed"


class Trigger(enum.Enum):
    LHLO = "lhlo"
    MAIL = "mail"
    RCPT = "rcpt"  # a RCPT command may be issued (the app decides)
    RCPT_ACCEPTED = "rcpt_accepted"  # the app accepted a recipient
    DATA = "data"  # DATA accepted: 354 sent
    DATA_DONE = "data_done"  # delivery results sent for DATA or BDAT LAST
    BDAT = "bdat"  # a non-LAST chunk was received
    BDAT_LAST = "bdat_last"  # the LAST chunk was received
    TXN_FAILED = "txn_failed"  # a chunk was refused: the transaction is over
    RSET = "rset"
    NOOP = "noop"
    VRFY = "vrfy"
    STARTTLS = "starttls"  # 220 sent; the session restarts from CONNECTED (RFC 3207 §4.2)
    QUIT = "quit"
    CLOSE = "close"  # EOF from the peer, too many errors, or the app aborts


S, T = State, Trigger

_TABLE: dict[tuple[State, Trigger], State] = {
    # before LHLO: only session-neutral commands.
    (S.CONNECTED, T.LHLO): S.READY,
    (S.CONNECTED, T.RSET): S.CONNECTED,
    (S.CONNECTED, T.NOOP): S.CONNECTED,
    (S.CONNECTED, T.VRFY): S.CONNECTED,
    # after LHLO, no transaction.  RFC 3207 §4: STARTTLS outside of a mail transaction only.
    (S.READY, T.LHLO): S.READY,
    (S.READY, T.MAIL): S.MAIL,
    (S.READY, T.RSET): S.READY,
    (S.READY, T.NOOP): S.READY,
    (S.READY, T.VRFY): S.READY,
    (S.READY, T.STARTTLS): S.CONNECTED,
    # MAIL accepted.  RFC 5321 §4.1.4: a new LHLO (like EHLO) or RSET aborts the transaction.
    (S.MAIL, T.LHLO): S.READY,
    (S.MAIL, T.RCPT): S.MAIL,
    (S.MAIL, T.RCPT_ACCEPTED): S.RCPT,
    (S.MAIL, T.RSET): S.READY,
    (S.MAIL, T.NOOP): S.MAIL,
    (S.MAIL, T.VRFY): S.MAIL,
    # at least one recipient.
    (S.RCPT, T.LHLO): S.READY,
    (S.RCPT, T.RCPT): S.RCPT,
    (S.RCPT, T.RCPT_ACCEPTED): S.RCPT,
    (S.RCPT, T.DATA): S.DATA,
    (S.RCPT, T.BDAT): S.BDAT,
    (S.RCPT, T.BDAT_LAST): S.DATA,
    (S.RCPT, T.TXN_FAILED): S.READY,
    (S.RCPT, T.RSET): S.READY,
    (S.RCPT, T.NOOP): S.RCPT,
    (S.RCPT, T.VRFY): S.RCPT,
    # DATA: the message ends with <CRLF>.<CRLF>, then one reply per recipient (RFC 2033 §4.2).
    (S.DATA, T.DATA_DONE): S.READY,
    # between BDAT chunks (RFC 3030 §2): more chunks, RSET, NOOP or QUIT.
    (S.BDAT, T.BDAT): S.BDAT,
    (S.BDAT, T.BDAT_LAST): S.DATA,
    (S.BDAT, T.TXN_FAILED): S.READY,
    (S.BDAT, T.RSET): S.READY,
    (S.BDAT, T.NOOP): S.BDAT,
}
# QUIT is valid in every state that reads commands; CLOSE (EOF, abort) in every state.
for _state in (S.CONNECTED, S.READY, S.MAIL, S.RCPT, S.BDAT):
    _TABLE[(_state, T.QUIT)] = S.CLOSED
for _state in State:
    _TABLE[(_state, T.CLOSE)] = S.CLOSED

TRANSITIONS: Final[Mapping[tuple[State, Trigger], State]] = MappingProxyType(_TABLE)


def next_state(state: State, trigger: Trigger) -> State | None:
    """The state after ``trigger`` in ``state``, or None when the trigger is not allowed."""
    return TRANSITIONS.get((state, trigger))
