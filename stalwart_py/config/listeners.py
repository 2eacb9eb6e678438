"""What the listener sections share: the ``[tls]`` certificate they all use, and the rules that
span them (a certificate needs its key; two listeners cannot share a port)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .checks import EXISTING_FILE
from .kinds import OPTIONAL_PATH
from .schema import Finding, Rule, Values, setting


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """The certificate used by LMTP STARTTLS, IMAP (STARTTLS and implicit TLS) and HTTPS."""

    cert: Path | None = setting(
        OPTIONAL_PATH,
        "",
        "PEM file with the certificate chain, leaf certificate first. Empty: a self-signed "
        "certificate for `server.hostname` is generated under `DATA_DIR/tls` on first start "
        "and reused afterwards; clients that verify certificates will reject it.",
        EXISTING_FILE,
    )
    key: Path | None = setting(
        OPTIONAL_PATH,
        "",
        "PEM file with the private key of `cert`. Set both `cert` and `key`, or neither.",
        EXISTING_FILE,
    )


def _tls_pair(values: Values) -> list[Finding]:
    cert, key = values["tls"]["cert"], values["tls"]["key"]
    if (cert is None) != (key is None):
        return [((("tls", "cert"), ("tls", "key")), "set both tls.cert and tls.key, or neither")]
    return []


TLS_PAIR = Rule((("tls", "cert"), ("tls", "key")), _tls_pair)


_LISTENERS = (
    ("lmtp", "port"),
    ("imap", "port"),
    ("imap", "tls_port"),
    ("http", "port"),
    ("http", "tls_port"),
)


def _binds_overlap(a: str, b: str) -> bool:
    def wildcard(addr: str) -> bool:
        return addr in ("0.0.0.0", "::")

    return a == b or wildcard(a) or wildcard(b)


def _port_clash(values: Values) -> list[Finding]:
    found: list[Finding] = []
    seen: list[tuple[tuple[str, str], str, int]] = []  # (key, bind, port)
    for section, name in _LISTENERS:
        if not values[section]["enabled"]:
            continue
        port: int = values[section][name]
        bind: str = values[section]["bind"]
        if port == 0:
            continue  # ephemeral ports never clash
        for other, other_bind, other_port in seen:
            if other_port == port and _binds_overlap(bind, other_bind):
                found.append(
                    (
                        ((section, name), other),
                        f"port {port} is used by both {other[0]}.{other[1]} and {section}.{name}",
                    )
                )
                break
        seen.append(((section, name), bind, port))
    return found


PORT_CLASH = Rule(
    tuple(_LISTENERS)
    + tuple((s, k) for s in ("lmtp", "imap", "http") for k in ("enabled", "bind")),
    _port_clash,
)
