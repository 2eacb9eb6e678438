"""``[imap]``: the IMAP listeners (protocols/imap)."""

from __future__ import annotations

from dataclasses import dataclass

from .checks import PORT, POSITIVE, at_least
from .kinds import ADDRESS, BOOL, DURATION, INT, SIZE
from .schema import setting


@dataclass(frozen=True, slots=True)
class ImapConfig:
    """IMAP access for mail clients (IMAP4rev2, RFC 9051, and IMAP4rev1, RFC 3501)."""

    enabled: bool = setting(BOOL, True, "Run the IMAP listeners.")
    bind: str = setting(ADDRESS, "127.0.0.1", "Address both IMAP listeners bind to.")
    port: int = setting(
        INT,
        1143,
        "Port for IMAP with STARTTLS (the standard port is 143, which needs privileges).",
        PORT,
    )
    tls_port: int = setting(
        INT,
        1993,
        "Port for IMAP over implicit TLS (RFC 8314; the standard port is 993), using the "
        "certificate from `[tls]`.",
        PORT,
    )
    allow_plaintext_auth: bool = setting(
        BOOL,
        False,
        "Accept LOGIN and AUTHENTICATE PLAIN on a connection that is not encrypted. While "
        "`false`, such connections advertise LOGINDISABLED (RFC 9051 §6.2.3) until STARTTLS. "
        "Enable only for local testing: passwords would cross the network in clear.",
    )
    max_line_length: int = setting(
        INT,
        65536,
        "Longest command line accepted, in octets, literals not included. RFC 7162 §4 asks "
        "servers to accept at least 8192.",
        at_least(8192, "RFC 7162 §4"),
    )
    max_literal_size: int = setting(
        SIZE,
        "50M",
        "Largest literal accepted in a command, which bounds the size of messages uploaded with "
        "APPEND.",
        POSITIVE,
    )
    idle_keepalive: float = setting(
        DURATION,
        "2m",
        "While a client waits in IDLE (RFC 2177), send it an untagged `OK` this often so that "
        "NAT gateways and firewalls keep the connection open.",
        POSITIVE,
    )
    idle_timeout: float = setting(
        DURATION,
        "30m",
        "Log out a client that has sent no command for this long. RFC 9051 §5.4 requires an "
        "autologout timer of at least 30 minutes; use lower values only for testing.",
        POSITIVE,
    )
    command_timeout: float = setting(
        DURATION,
        "5m",
        "Drop a connection when a single command, literals included, takes longer than this to "
        "arrive.",
        POSITIVE,
    )
    max_connections_per_user: int = setting(
        INT,
        50,
        "Most simultaneous IMAP connections one account may hold (clients open one per "
        "watched folder).",
        at_least(1),
    )
    max_connections_per_ip: int = setting(
        INT,
        200,
        "Most simultaneous IMAP connections from one client IP address.",
        at_least(1),
    )
