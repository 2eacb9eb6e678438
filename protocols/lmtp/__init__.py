"""LMTP (RFC 2033): a sans-IO core, a thin trio server and the backend interface."""

from .backend import Envelope, LmtpBackend
from .core import LmtpConnection, LmtpLimits
from .errors import LmtpError, LocalProtocolError, reply_for_error, reply_for_kind
from .events import (
    NEED_DATA,
    ConnectionClosed,
    Event,
    Lhlo,
    MailFrom,
    MailParams,
    MessageComplete,
    Quit,
    RcptTo,
    Reset,
    StartTls,
    Vrfy,
)
from .replies import Reply
from .state import State

__all__ = [
    "NEED_DATA",
    "ConnectionClosed",
    "Envelope",
    "Event",
    "Lhlo",
    "LmtpBackend",
    "LmtpConnection",
    "LmtpError",
    "LmtpLimits",
    "LocalProtocolError",
    "MailFrom",
    "MailParams",
    "MessageComplete",
    "Quit",
    "RcptTo",
    "Reply",
    "Reset",
    "StartTls",
    "State",
    "Vrfy",
    "reply_for_error",
    "reply_for_kind",
]
