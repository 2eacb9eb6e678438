"""CAPABILITY, NOOP, CHECK, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ENABLE, ID, COMPRESS."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from protocols.mail import AuthMethod

from .. import commands as C
from ..connection import Action, CommandFailed, Done, ImapConnection, State
from ..serializer import continuation_data
from ..values import Atom

VERSION = "0.1.0"


async def capability(s: ImapConnection, cmd: C.Capability, out: list[bytes]) -> Done:
    out.append(s.line(Atom("CAPABILITY"), *[Atom(c) for c in s.capabilities()]))
    return Done("CAPABILITY completed")


async def noop(s: ImapConnection, cmd: C.Command, out: list[bytes]) -> Done:
    return Done(f"{type(cmd).__name__.upper()} completed")


async def logout(s: ImapConnection, cmd: C.Logout, out: list[bytes]) -> Done:
    out.append(b"* BYE Logging out\r\n")
    s.state = State.LOGOUT
    done = Done("LOGOUT completed", action=Action.LOGOUT)
    return done


async def starttls(s: ImapConnection, cmd: C.StartTls, out: list[bytes]) -> Done:
    if s.tls_active or not s.ctx.tls_available:
        raise CommandFailed("BAD", "TLS is already active" if s.tls_active else "TLS unavailable")
    return Done("Begin TLS negotiation now", action=Action.STARTTLS)


def _plaintext_refused(s: ImapConnection) -> None:
    if not s.tls_active and not s.ctx.allow_plaintext_auth:
        # RFC 9051 §6.2.3 / RFC 5530 PRIVACYREQUIRED.
        raise CommandFailed("NO", "Authentication requires TLS (STARTTLS)", "PRIVACYREQUIRED")


async def _finish_login(s: ImapConnection, username: str, password: str) -> Done:
    principal = await s.ctx.authenticate(username, password)
    if principal is None:
        raise CommandFailed("NO", "Authentication failed", "AUTHENTICATIONFAILED")
    key = f"user:{principal.id}"
    if not s.ctx.connections.acquire(key, s.ctx.limits.max_connections_per_user):
        raise CommandFailed("NO", "Too many connections for this user", "LIMIT")
    s.user_slot = key
    s.state = State.AUTHENTICATED
    s.token = s.ctx.mail.token_for(principal, AuthMethod.PASSWORD)
    s.username = principal.name
    caps = " ".join(s.capabilities())
    return Done("Logged in", f"CAPABILITY {caps}")


async def login(s: ImapConnection, cmd: C.Login, out: list[bytes]) -> Done:
    _plaintext_refused(s)
    return await _finish_login(s, cmd.username, cmd.password)


def _decode(data: bytes) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CommandFailed("BAD", "Invalid base64 data") from exc


async def _plain(s: ImapConnection, response: bytes) -> Done:
    parts = response.split(b"\0")
    if len(parts) != 3:
        raise CommandFailed("BAD", "Malformed PLAIN response")
    authzid, authcid, password = (p.decode("utf-8", "replace") for p in parts)
    if authzid and authzid != authcid:
        raise CommandFailed("NO", "Not authorized to act as that user", "AUTHORIZATIONFAILED")
    return await _finish_login(s, authcid, password)


async def authenticate(s: ImapConnection, cmd: C.Authenticate, out: list[bytes]) -> Done:
    _plaintext_refused(s)
    mech = cmd.mechanism.upper()
    if mech == "PLAIN":
        if cmd.initial_response is not None:  # SASL-IR, RFC 4959
            return await _plain(s, cmd.initial_response)
        s.auth_state = ("PLAIN", cmd.tag)
        return _continue(b"")
    if mech == "LOGIN":
        s.auth_state = ("LOGIN", cmd.tag, None)
        if cmd.initial_response:
            s.auth_state = ("LOGIN", cmd.tag, cmd.initial_response.decode("utf-8", "replace"))
            return _continue(b"Password:")
        return _continue(b"Username:")
    raise CommandFailed("NO", f"Unsupported authentication mechanism {mech}", "CANNOT")


def _continue(challenge: bytes) -> Done:
    return Done(action=Action.AUTH_CONTINUE, payload=continuation_data(challenge))


async def auth_continue(s: ImapConnection, line: bytes) -> Done:
    """The client's answer to a continuation during AUTHENTICATE."""
    state: Any = s.auth_state
    if line.strip() == b"*":  # RFC 9051 §6.2.2: the client cancels
        s.auth_state = None
        raise CommandFailed("BAD", "Authentication cancelled")
    data = _decode(line.strip())
    if state[0] == "PLAIN":
        s.auth_state = None
        return await _plain(s, data)
    if state[2] is None:
        s.auth_state = ("LOGIN", state[1], data.decode("utf-8", "replace"))
        return _continue(b"Password:")
    s.auth_state = None
    return await _finish_login(s, state[2], data.decode("utf-8", "replace"))


async def enable(s: ImapConnection, cmd: C.Enable, out: list[bytes]) -> Done:
    newly = []
    for cap in cmd.capabilities:
        cap = cap.upper()
        if cap not in ("IMAP4REV2", "CONDSTORE", "QRESYNC", "UTF8=ACCEPT") or cap in s.enabled:
            continue
        s.enabled.add(cap)
        newly.append(cap)
        if cap in ("CONDSTORE", "QRESYNC"):
            s.condstore = True
            if cap == "QRESYNC":  # RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
                s.enabled.add("CONDSTORE")
    names = {"IMAP4REV2": "IMAP4rev2"}
    out.append(s.line(Atom("ENABLED"), *[Atom(names.get(c, c)) for c in newly]))
    return Done("ENABLE completed")


async def idle(s: ImapConnection, cmd: C.Idle, out: list[bytes]) -> Done:
    return Done(action=Action.IDLE)


async def id_(s: ImapConnection, cmd: C.Id, out: list[bytes]) -> Done:
    out.append(s.line(Atom("ID"), ["name", "stalwart-py", "version", VERSION]))
    return Done("ID completed")


async def compress(s: ImapConnection, cmd: C.Compress, out: list[bytes]) -> Done:
    if s.compressed:
        raise CommandFailed("NO", "Compression is already active", "COMPRESSIONACTIVE")
    if cmd.mechanism.upper() != "DEFLATE" or not s.compress_available:
        raise CommandFailed("NO", "Unsupported compression mechanism", "CANNOT")
    return Done("DEFLATE active", action=Action.COMPRESS)


HANDLERS: dict[type[C.Command], Any] = {
    C.Capability: capability,
    C.Noop: noop,
    C.Check: noop,
    C.Logout: logout,
    C.StartTls: starttls,
    C.Login: login,
    C.Authenticate: authenticate,
    C.Enable: enable,
    C.Id: id_,
    C.Idle: idle,
    C.Compress: compress,
}

__all__ = ["HANDLERS", "auth_continue"]
