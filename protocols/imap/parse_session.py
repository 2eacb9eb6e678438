"""The argument grammar of the connection commands: CAPABILITY, NOOP, LOGOUT, STARTTLS,
AUTHENTICATE (with SASL-IR, RFC 4959), LOGIN, ENABLE (RFC 5161), ID (RFC 2971), COMPRESS
(RFC 4978), IDLE, and the AUTHENTICATE continuation and IDLE ``DONE`` lines."""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable

from . import commands as C
from .errors import ImapParseError
from .parse_reader import Handler, Reader

_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")


def decode_sasl_response(line: bytes, tag: str) -> bytes | None:
    """A client's AUTHENTICATE continuation line: None for ``*`` (cancel, RFC 9051 §6.2.2),
    else the decoded octets (an empty line or ``=`` is empty)."""
    if line == b"*":
        return None
    if line in (b"", b"="):
        return b""
    if not _BASE64.match(line):
        raise ImapParseError(tag, "Invalid base64 in SASL response")
    try:
        return binascii.a2b_base64(line, strict_mode=True)
    except binascii.Error:
        raise ImapParseError(tag, "Invalid base64 in SASL response") from None


def is_idle_done(line: bytes) -> bool:
    """IDLE ends with ``DONE`` (RFC 9051 §6.3.13; case-insensitive like every keyword)."""
    return line.upper() == b"DONE"


def _no_args(cls: type[C.Command]) -> Callable[[Reader], C.Command]:
    def handler(r: Reader) -> C.Command:
        return cls(r.tag)

    return handler


def _authenticate(r: Reader) -> C.Authenticate:
    r.sp()
    mechanism = r.keyword()
    initial: bytes | None = None
    if r.maybe_sp():
        start = r.pos
        r.pos = len(r.text)
        initial = decode_sasl_response(r.text[start:], r.tag)
        if initial is None:
            raise r.fail("Invalid initial response")
    return C.Authenticate(r.tag, mechanism, initial)


def _login(r: Reader) -> C.Login:
    r.sp()
    user = r.astring()
    r.sp()
    password = r.astring()
    return C.Login(r.tag, user, password)


def _enable(r: Reader) -> C.Enable:
    caps: list[str] = []
    r.sp()
    caps.append(r.keyword())
    while r.maybe_sp():
        caps.append(r.keyword())
    return C.Enable(r.tag, tuple(caps))


def _id(r: Reader) -> C.Id:
    r.sp()
    if r.peek() != ord("("):
        if r.keyword() != "NIL":
            raise r.fail("Expected a parameter list or NIL")
        return C.Id(r.tag, None)

    def pair() -> tuple[str, str | None]:
        key = r.string()
        r.sp()
        return key, r.nstring()

    params = tuple(r.paren_list(pair))
    if len(params) > 30:  # RFC 2971 §3.3
        raise r.fail("Too many ID parameters")
    return C.Id(r.tag, params)


def _compress(r: Reader) -> C.Compress:
    r.sp()
    return C.Compress(r.tag, r.keyword())


COMMANDS: dict[str, Handler] = {
    "CAPABILITY": _no_args(C.Capability),
    "NOOP": _no_args(C.Noop),
    "LOGOUT": _no_args(C.Logout),
    "STARTTLS": _no_args(C.StartTls),
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "ENABLE": _enable,
    "IDLE": _no_args(C.Idle),
    "CHECK": _no_args(C.Check),
    "CLOSE": _no_args(C.Close),
    "UNSELECT": _no_args(C.Unselect),
    "NAMESPACE": _no_args(C.Namespace),
    "ID": _id,
    "COMPRESS": _compress,
}
