"""The whole schema: :class:`Config` with one attribute per section (their order is the order
of docs/configuration.md and of the example file), the flattened table of keys and the rules
between keys."""

from __future__ import annotations

import typing
from dataclasses import dataclass, fields

from .auth import ARGON2_MEMORY, AuthConfig
from .http import HttpConfig
from .imap import ImapConfig
from .listeners import PORT_CLASH, TLS_PAIR, TlsConfig
from .lmtp import DeliveryConfig, LmtpConfig
from .schema import Key, Rule, keys_of
from .server import ServerConfig
from .storage import SearchConfig, StoreConfig


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration: one attribute per section."""

    server: ServerConfig
    lmtp: LmtpConfig
    imap: ImapConfig
    http: HttpConfig
    tls: TlsConfig
    search: SearchConfig
    delivery: DeliveryConfig
    auth: AuthConfig
    store: StoreConfig


def _sections() -> dict[str, type]:
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in fields(Config)}


SECTIONS: dict[str, type] = _sections()
SCHEMA: tuple[Key, ...] = tuple(
    key for section, cls in SECTIONS.items() for key in keys_of(section, cls)
)
BY_NAME: dict[tuple[str, str], Key] = {(k.section, k.name): k for k in SCHEMA}
BY_ENV: dict[str, Key] = {k.env_var: k for k in SCHEMA}

# In this order their problems are reported.
RULES: tuple[Rule, ...] = (TLS_PAIR, ARGON2_MEMORY, PORT_CLASH)
