"""Binding every listening socket up front, with one sentence for the operator when one fails.

The server binds all its listeners before anything else happens on a start (before the first-start
accounts are created), then serves on the sockets already bound: a port in use stops the start
with ``cannot listen for IMAP on 127.0.0.1:1143: address already in use (set [imap] port or
STALWART_IMAP_PORT)`` and changes nothing.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass

import trio

from .config import ENV_PREFIX, Config


class StartError(Exception):
    """The server cannot start; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    name: str  # the key in Server.ports: lmtp, imap, imaps, http, https
    section: str  # the configuration section holding ``key`` and ``bind``
    key: str  # port or tls_port
    bind: str
    port: int

    @property
    def address(self) -> str:
        return f"[{self.bind}]:{self.port}" if ":" in self.bind else f"{self.bind}:{self.port}"

    def setting(self, key: str) -> str:
        return f"[{self.section}] {key} or {ENV_PREFIX}{self.section.upper()}_{key.upper()}"


class ListenError(StartError):
    def __init__(self, spec: ListenerSpec, error: OSError) -> None:
        self.spec = spec
        self.error = error
        if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
            change = spec.setting("bind")  # the address itself is wrong
        else:
            change = spec.setting(spec.key)
        reason = os.strerror(error.errno) if error.errno and error.errno > 0 else str(error)
        if isinstance(error, socket.gaierror):
            reason = f"cannot resolve {spec.bind!r} ({error.strerror})"
        super().__init__(
            f"cannot listen for {spec.name.upper()} on {spec.address}: "
            f"{reason[:1].lower()}{reason[1:]} (set {change})"
        )


def listener_specs(cfg: Config) -> list[ListenerSpec]:
    """The enabled listeners, in the order they are bound and reported."""
    specs = []
    if cfg.lmtp.enabled:
        specs.append(ListenerSpec("lmtp", "lmtp", "port", cfg.lmtp.bind, cfg.lmtp.port))
    if cfg.imap.enabled:
        specs.append(ListenerSpec("imap", "imap", "port", cfg.imap.bind, cfg.imap.port))
        specs.append(ListenerSpec("imaps", "imap", "tls_port", cfg.imap.bind, cfg.imap.tls_port))
    if cfg.http.enabled:
        specs.append(ListenerSpec("http", "http", "port", cfg.http.bind, cfg.http.port))
        specs.append(ListenerSpec("https", "http", "tls_port", cfg.http.bind, cfg.http.tls_port))
    return specs


async def bind_listeners(specs: list[ListenerSpec]) -> dict[str, list[trio.SocketListener]]:
    """Binds every spec; on the first failure closes what was bound and raises ListenError."""
    bound: dict[str, list[trio.SocketListener]] = {}
    try:
        for spec in specs:
            try:
                bound[spec.name] = await trio.open_tcp_listeners(spec.port, host=spec.bind)
            except OSError as err:
                raise ListenError(spec, err) from None
    except BaseException:
        await close_listeners(bound)
        raise
    return bound


async def close_listeners(bound: dict[str, list[trio.SocketListener]]) -> None:
    """Closes listeners (closing one already closed by its server is harmless)."""
    with trio.CancelScope(shield=True):
        for listeners in bound.values():
            for listener in listeners:
                await listener.aclose()
