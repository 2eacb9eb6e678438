"""Server configuration: one declarative schema, from which everything else is derived.

The schema is the set of section dataclasses below (``ServerConfig``, ``LmtpConfig``, ...): every
attribute is declared with :func:`setting` (value kind, default as written in TOML, operator-facing
documentation, optional checks).  From that single table come

* loading and validation of a TOML file (:func:`load_config`, :func:`check_config`),
* environment overrides ``STALWART_<SECTION>_<KEY>`` (they beat the file),
* the reference document ``docs/configuration.md`` (``python -m stalwart_py.config --markdown``)
  and a complete example file (``--example``).

Every problem is collected and reported at once as a :class:`Problem` with its location:
``FILE:LINE section.key`` for the file (tomllib has no positions, so a small scan of the text finds
the line: :mod:`.config_toml`), ``env STALWART_X_Y`` for the environment.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import math
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from .config_toml import locate_keys
from .units import parse_size

ENV_PREFIX = "STALWART_"
_META = "stalwart_setting"

# ---------------------------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration problem: where it is and what is wrong."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ConfigError(Exception):
    """Raised by :func:`load_config`; carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__(format_problems(self.problems))


def format_problems(problems: Sequence[Problem]) -> str:
    """Render problems one per line, as ``config check`` prints them."""
    return "\n".join(str(p) for p in problems)


# ---------------------------------------------------------------------------------------------
# Value kinds: how a value is written in TOML and in the environment, and what Python value it
# becomes.  Converters raise ValueError with an operator-readable message.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    file_syntax: str
    env_syntax: str
    from_toml: Callable[[object], Any]
    from_env: Callable[[str], Any]


def _describe(value: object) -> str:
    """Name a TOML value for an error message."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        return f"string {json.dumps(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__  # dates and times


def _want(what: str, value: object) -> ValueError:
    return ValueError(f"expected {what}, got {_describe(value)}")


def _str_toml(value: object) -> str:
    if not isinstance(value, str):
        raise _want("a string", value)
    return value


def _str_env(text: str) -> str:
    return text


def _int_toml(value: object) -> int:
    # bool is a subclass of int in Python; TOML keeps them apart and so do we.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _want("an integer", value)
    return value


def _int_env(text: str) -> int:
    try:
        return int(text.strip(), 10)
    except ValueError:
        raise ValueError(f"expected an integer, got {json.dumps(text)}") from None


def _float_toml(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _want("a number", value)
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return float(value)


def _float_env(text: str) -> float:
    try:
        number = float(text.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {json.dumps(text)}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {json.dumps(text)}")
    return number


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _bool_toml(value: object) -> bool:
    if not isinstance(value, bool):
        hint = " (write true or false without quotes)" if isinstance(value, str) else ""
        raise ValueError(f"expected a boolean, got {_describe(value)}{hint}")
    return value


def _bool_env(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"expected true/false/1/0/yes/no/on/off, got {json.dumps(text)}")


def _path_from_text(text: str, *, optional: bool) -> Path | None:
    if text == "":
        if optional:
            return None
        raise ValueError("must not be empty")
    if "\x00" in text:
        raise ValueError("a path cannot contain a NUL character")
    # Relative paths resolve against the working directory of the process (documented).
    return Path(os.path.abspath(os.path.expanduser(text)))


def _path_toml(value: object) -> Path:
    path = _path_from_text(_str_toml(value), optional=False)
    assert path is not None
    return path


def _path_env(text: str) -> Path:
    path = _path_from_text(text, optional=False)
    assert path is not None
    return path


def _opt_path_toml(value: object) -> Path | None:
    return _path_from_text(_str_toml(value), optional=True)


def _opt_path_env(text: str) -> Path | None:
    return _path_from_text(text, optional=True)


def _list_toml(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise _want("an array of strings", value)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ValueError(f"item {i + 1}: expected a string, got {_describe(item)}")
    return tuple(value)


def _list_env(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _size_toml(value: object) -> int:
    if isinstance(value, str):
        return parse_size(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _want('a size in bytes (an integer, or a string such as "50M")', value)
    if value < 0:
        raise ValueError(f"a size cannot be negative, got {value}")
    return value


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_UNITS = {
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
    "w": Decimal(604800),
}


def _duration_text(text: str) -> float:
    compact = "".join(text.split()).lower()
    bad = ValueError(
        f'expected a duration such as 30, "30s", "5m", "2h", "1d" or "1h30m", '
        f"got {json.dumps(text)}"
    )
    if not compact:
        raise bad
    try:
        return float(Decimal(compact))  # a bare number means seconds
    except InvalidOperation:
        pass
    total = Decimal(0)
    pos = 0
    while pos < len(compact):
        match = _DURATION_PART.match(compact, pos)
        if match is None:
            raise bad
        total += Decimal(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return float(total)


def _duration_value(seconds: float, shown: object) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f"expected a finite duration, got {_describe(shown)}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {_describe(shown)}")
    return seconds


def _duration_toml(value: object) -> float:
    if isinstance(value, str):
        return _duration_value(_duration_text(value), value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _want('a duration (seconds, or a string such as "5m")', value)
    return _duration_value(float(value), value)


def _duration_env(text: str) -> float:
    return _duration_value(_duration_text(text), text)


_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _check_hostname(text: str) -> str:
    """RFC 1123 §2.1 host name: dot-separated labels of letters, digits and inner hyphens."""
    name = text.strip().lower().rstrip(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(p) for p in name.split(".")):
        raise ValueError(f"{json.dumps(text)} is not a valid host name")
    return name


def _hostname_toml(value: object) -> str:
    return _check_hostname(_str_toml(value))


def _check_address(text: str) -> str:
    candidate = text.strip()
    try:
        return str(ipaddress.ip_address(candidate.strip("[]")))
    except ValueError:
        pass
    try:
        return _check_hostname(candidate)
    except ValueError:
        raise ValueError(f"{json.dumps(text)} is neither an IP address nor a host name") from None


def _address_toml(value: object) -> str:
    return _check_address(_str_toml(value))


STR = Kind("string", "a string", "the text as is", _str_toml, _str_env)
INT = Kind("integer", "an integer", "a decimal integer", _int_toml, _int_env)
FLOAT = Kind("number", "an integer or a float", "a decimal number", _float_toml, _float_env)
BOOL = Kind(
    "boolean", "`true` or `false`", "true/false, 1/0, yes/no, on/off", _bool_toml, _bool_env
)
PATH = Kind(
    "path",
    "a string; `~` expands to the home directory, relative paths resolve against the "
    "current working directory",
    "as in the file, without quotes",
    _path_toml,
    _path_env,
)
OPTIONAL_PATH = Kind(
    "path or empty",
    'a path string, or `""` for the documented fallback',
    "the path, or an empty value",
    _opt_path_toml,
    _opt_path_env,
)
STR_LIST = Kind(
    "list of strings",
    "an array of strings",
    "comma-separated items (empty: an empty list)",
    _list_toml,
    _list_env,
)
SIZE = Kind(
    "size",
    'bytes as an integer, or a string with a binary unit: `"512"`, `"4K"`, `"50M"`, '
    '`"1G"`, `"1T"` (K = 1024; a trailing `B` or `iB` is allowed)',
    "as in the file, without quotes",
    _size_toml,
    parse_size,
)
DURATION = Kind(
    "duration",
    'seconds as a number, or a string with units `ms`, `s`, `m`, `h`, `d`, `w`: `"30s"`, '
    '`"5m"`, `"2h"`, `"1d"`, `"1h30m"`',
    "as in the file, without quotes",
    _duration_toml,
    _duration_env,
)
HOSTNAME = Kind(
    "host name",
    "a DNS name (RFC 1123), compared case-insensitively",
    "the name",
    _hostname_toml,
    _check_hostname,
)
ADDRESS = Kind(
    "address",
    "an IPv4 or IPv6 address, or a host name; `0.0.0.0` / `::` listen on all interfaces",
    "the address",
    _address_toml,
    _check_address,
)


_DOCUMENTED_KINDS = (
    STR,
    INT,
    FLOAT,
    BOOL,
    SIZE,
    DURATION,
    PATH,
    OPTIONAL_PATH,
    STR_LIST,
    HOSTNAME,
    ADDRESS,
)


def enum_of(choices: object) -> Kind:
    """A kind accepting one of the values of a ``Literal[...]`` type (case-insensitively)."""
    allowed: tuple[str, ...] = get_args(choices)
    shown = ", ".join(f"`{c}`" for c in allowed)

    def from_text(text: str) -> str:
        word = text.strip().lower()
        if word not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {json.dumps(text)}")
        return word

    def from_toml(value: object) -> str:
        return from_text(_str_toml(value))

    return Kind("one of", f"one of {shown}", f"one of {shown}", from_toml, from_text)


# ---------------------------------------------------------------------------------------------
# Checks: constraints on a parsed value.  ``test`` returns a problem message, or None when fine.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    description: str
    test: Callable[[Any], str | None]


PORT = Check(
    "0–65535; 0 picks a free port (for tests)",
    lambda v: None if 0 <= v <= 65535 else f"must be a port number 0–65535, got {v}",
)
POSITIVE = Check(
    "greater than zero", lambda v: None if v > 0 else f"must be greater than 0, got {v}"
)


def at_least(minimum: int, why: str = "") -> Check:
    suffix = f" ({why})" if why else ""
    return Check(
        f"at least {minimum}{suffix}",
        lambda v: None if v >= minimum else f"must be at least {minimum}{suffix}, got {v}",
    )


def at_most(maximum: int, why: str = "") -> Check:
    suffix = f" ({why})" if why else ""
    return Check(
        f"at most {maximum}{suffix}",
        lambda v: None if v <= maximum else f"must be at most {maximum}{suffix}, got {v}",
    )


def _language_problem(value: str) -> str | None:
    if re.fullmatch(r"[a-z]{2}", value):
        return None
    return f'must be a two-letter ISO 639-1 code such as "en", got {json.dumps(value)}'


LANGUAGE = Check("a two-letter ISO 639-1 code", _language_problem)


def _separator_problem(value: str) -> str | None:
    if value == "":
        return None
    if len(value) != 1:
        return f"must be a single character or empty, got {json.dumps(value)}"
    if value.isalnum() or value.isspace() or value in '@"\\.':
        return f'{json.dumps(value)} cannot separate a sub-address; use e.g. "+" or "-"'
    return None


SEPARATOR = Check(
    'one character that is not a letter, digit, space, `@`, `.`, `"` or `\\`; or empty',
    _separator_problem,
)


def _origin_problem(origin: str) -> str | None:
    """An origin serialised as in RFC 6454 §6.2: scheme://host[:port], nothing more."""
    if origin == "*":
        return None
    parts = urlsplit(origin)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        return f'{json.dumps(origin)} is not an origin like "https://mail.example.com" or "*"'
    return None


def _origins_problem(value: tuple[str, ...]) -> str | None:
    for origin in value:
        problem = _origin_problem(origin)
        if problem:
            return problem
    return None


ORIGINS = Check('`"*"` or origins `scheme://host[:port]`', _origins_problem)


def _public_url_problem(value: str) -> str | None:
    if value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{json.dumps(value)} is not an absolute http:// or https:// URL"
    if parts.query or parts.fragment:
        return "must not contain a query or fragment"
    if value.endswith("/"):
        return 'must not end with "/"'
    return None


PUBLIC_URL = Check("an absolute http(s) URL without a trailing `/`, or empty", _public_url_problem)


def _file_problem(value: Path | None) -> str | None:
    if value is None or value.is_file():
        return None
    return f"file {value} does not exist or is not a regular file"


EXISTING_FILE = Check("an existing file", _file_problem)


# ---------------------------------------------------------------------------------------------
# The schema
# ---------------------------------------------------------------------------------------------

Values = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the schema (the section and name come from where it is declared)."""

    kind: Kind
    default: object  # as written in TOML
    doc: str
    checks: tuple[Check, ...] = ()
    # Fills in a value left empty (None or ""), from the other settings.
    derive: Callable[[Values], Any] | None = None


def setting(
    kind: Kind,
    default: object,
    doc: str,
    *checks: Check,
    derive: Callable[[Values], Any] | None = None,
) -> Any:
    """Declare one configuration key as a dataclass field (no Python default: use
    :func:`default_config`)."""
    return field(metadata={_META: Setting(kind, default, doc, checks, derive)})


def _derive_index_dir(values: Values) -> Path:
    data_dir: Path = values["server"]["data_dir"]
    return data_dir / "fts"


LogLevel = Literal["debug", "info", "warning", "error"]
SearchBackend = Literal["tantivy", "whoosh"]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Identity of this server and where it keeps its data."""

    data_dir: Path = setting(
        PATH,
        "./data",
        "Directory holding the mail store (LevelDB), message blobs, the full-text index and "
        "generated TLS material. It is created on first start. A relative path resolves against "
        "the current working directory of the `stalwart-py` process, not against the "
        "configuration file.",
    )
    hostname: str = setting(
        HOSTNAME,
        "localhost",
        "Fully qualified name of this server, used in protocol greetings (LMTP, IMAP) and in the "
        "`by` clause of the `Received:` header added at delivery (RFC 5321 §4.4). Set it to the "
        "name your MTA and clients know the server by.",
    )
    log_level: LogLevel = setting(
        enum_of(LogLevel),
        "info",
        "Least severe log messages written. `debug` also logs protocol exchanges and is "
        "verbose; `warning` and `error` keep the log quiet.",
    )
    default_domain: str = setting(
        HOSTNAME,
        "localhost",
        "Mail domain created on first start (an empty data directory), together with an "
        "administrator account and a demo user.",
    )


@dataclass(frozen=True, slots=True)
class LmtpConfig:
    """Local delivery (LMTP, RFC 2033): your MTA (Postfix, Exim, ...) hands incoming mail to this
    listener. LMTP has no authentication, so keep it on loopback or a private network that only
    the MTA can reach."""

    enabled: bool = setting(BOOL, True, "Run the LMTP listener.")
    bind: str = setting(
        ADDRESS,
        "127.0.0.1",
        "Address the LMTP listener binds to.",
    )
    port: int = setting(INT, 2424, "TCP port of the LMTP listener.", PORT)
    max_line_length: int = setting(
        INT,
        4096,
        "Longest command or message line accepted, in octets including CRLF. "
        "RFC 5321 §4.5.3.1.6 requires accepting lines of 1000 octets.",
        at_least(1000, "RFC 5321 §4.5.3.1.6"),
    )
    max_message_size: int = setting(
        SIZE, "50M", "Largest message accepted in one DATA transfer.", POSITIVE
    )
    max_recipients: int = setting(
        INT,
        100,
        "Most recipients (RCPT TO) accepted in one transaction. RFC 5321 §4.5.3.1.8 requires "
        "room for at least 100.",
        at_least(100, "RFC 5321 §4.5.3.1.8"),
    )
    idle_timeout: float = setting(
        DURATION,
        "5m",
        "Close a connection on which the client has sent nothing for this long.",
        POSITIVE,
    )
    starttls: bool = setting(
        BOOL,
        True,
        "Offer STARTTLS (RFC 3207) to the MTA, using the certificate from `[tls]`.",
    )


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


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """HTTP: JMAP (RFC 8620, RFC 8621) with its push channels, EventSource and WebSocket
    (RFC 8887)."""

    enabled: bool = setting(BOOL, True, "Run the HTTP listeners.")
    bind: str = setting(ADDRESS, "127.0.0.1", "Address both HTTP listeners bind to.")
    port: int = setting(
        INT,
        8080,
        "Port for plain HTTP. Put a TLS-terminating reverse proxy in front of it, or let "
        "clients use `tls_port`.",
        PORT,
    )
    tls_port: int = setting(INT, 8443, "Port for HTTPS, using the certificate from `[tls]`.", PORT)
    public_url: str = setting(
        STR,
        "",
        "Base URL clients use to reach this server, such as `https://mail.example.com`; the "
        "URLs in the JMAP session object (apiUrl, downloadUrl, uploadUrl, eventSourceUrl and the "
        "WebSocket `url`) are built from it. Set it when the server runs behind a reverse proxy. "
        "Empty: each session names the scheme the request came in on (`https`/`wss` on "
        "`tls_port`, `http`/`ws` on `port`) and the request's `Host` header.",
        PUBLIC_URL,
    )
    max_request_size: int = setting(
        SIZE,
        "10M",
        "Largest JMAP API request body (`maxSizeRequest` in the session, RFC 8620 §2), also "
        "the largest JMAP message over WebSocket. A larger one is refused with the "
        "`urn:ietf:params:jmap:error:limit` problem (`limit: maxSizeRequest`, HTTP 413).",
        POSITIVE,
    )
    max_upload_size: int = setting(
        SIZE,
        "50M",
        "Largest blob upload (`maxSizeUpload` in the session, RFC 8620 §2, §6.1); a larger one "
        "gets HTTP 413 with the `limit` problem (`limit: maxSizeUpload`).",
        POSITIVE,
    )
    max_concurrent_requests: int = setting(
        INT,
        4,
        "Most API requests one user may have in progress at once (`maxConcurrentRequests`, "
        "RFC 8620 §2); one more is refused with the `limit` problem.",
        at_least(1),
    )
    max_concurrent_uploads: int = setting(
        INT,
        4,
        "Most uploads one user may have in progress at once (`maxConcurrentUpload`, RFC 8620 §2).",
        at_least(1),
    )
    max_calls_in_request: int = setting(
        INT,
        16,
        "Most method calls in one API request (`maxCallsInRequest`, RFC 8620 §2).",
        at_least(1),
    )
    max_objects_in_get: int = setting(
        INT,
        500,
        "Most objects one /get may fetch (`maxObjectsInGet`, RFC 8620 §2, §5.1: "
        "`requestTooLarge` beyond it).",
        at_least(1),
    )
    max_objects_in_set: int = setting(
        INT,
        500,
        "Most objects one /set may create, update and destroy together (`maxObjectsInSet`, "
        "RFC 8620 §2, §5.3: `requestTooLarge` beyond it).",
        at_least(1),
    )
    cors_origins: tuple[str, ...] = setting(
        STR_LIST,
        (),
        "Origins whose web pages may call the API from a browser (CORS), for example "
        '`["https://webmail.example.com"]`; `["*"]` allows every origin. Empty: no '
        "cross-origin access.",
        ORIGINS,
    )
    access_log: bool = setting(
        BOOL,
        False,
        "Log one line per HTTP request (peer, method, target, status, duration, request id) at "
        "`info` level, under the logger `protocols.http.access`. Off by default: under API load "
        "it costs about 5 % of the server's CPU. Failures are logged either way.",
    )


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


@dataclass(frozen=True, slots=True)
class SearchConfig:
    """Full-text search (IMAP SEARCH TEXT/BODY, JMAP Email/query text filters). The index is
    derived data, kept up to date in the background and rebuildable from the store."""

    backend: SearchBackend = setting(
        enum_of(SearchBackend),
        "tantivy",
        "Index engine. `tantivy` is fast and stems 18 languages; `whoosh` is pure Python and "
        "much slower on large mailboxes.",
    )
    index_dir: Path = setting(
        OPTIONAL_PATH,
        "",
        "Directory of the full-text index. Empty: `DATA_DIR/fts`.",
        derive=_derive_index_dir,
    )
    default_language: str = setting(
        STR,
        "en",
        "Language (ISO 639-1 code) whose stemming rules apply when detection is off or "
        "inconclusive.",
        LANGUAGE,
    )
    detect_language: bool = setting(
        BOOL, True, "Detect each message's language to pick its stemming rules."
    )
    commit_interval: float = setting(
        DURATION,
        "1s",
        "How often the indexer commits; new mail becomes searchable within about this time.",
        POSITIVE,
    )
    batch_size: int = setting(
        INT, 500, "Most documents the indexer adds in one commit.", at_least(1)
    )
    max_concurrent_scans: int = setting(
        INT,
        2,
        "Most IMAP `SEARCH TEXT`/`BODY` substring scans run at once, each in a thread reading "
        "the account's stored text; more searches wait for a free slot.",
        at_least(1),
    )
    scan_timeout: float = setting(
        DURATION,
        "2m",
        "Give up an IMAP `SEARCH TEXT`/`BODY` that takes longer than this, the wait for a "
        "free scan slot included: the command fails with `NO [LIMIT]`.",
        POSITIVE,
    )


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """How incoming messages are filed into mailboxes."""

    duplicate_window: float = setting(
        DURATION,
        "1d",
        "Discard a message delivered to a mailbox when a message with the same Message-ID was "
        "delivered to that mailbox within this time (an MTA retrying after a lost reply). "
        "`0` disables duplicate suppression.",
    )
    add_delivered_to: bool = setting(
        BOOL,
        True,
        "Add a `Delivered-To:` header naming the recipient to each delivered copy.",
    )
    plus_separator: str = setting(
        STR,
        "+",
        "Character between a user name and a sub-address (`user+tag@example.com`, RFC 5233): "
        "mail for `user+tag` goes to `user`, and Sieve scripts can test the tag. Empty "
        "disables sub-addressing.",
        SEPARATOR,
    )
    max_parse_size: int = setting(
        SIZE,
        "50M",
        "Largest message whose MIME structure is analysed in full at delivery. Larger "
        "messages are still stored, and if their line ends are bare LF or lone CR only "
        "their top-level header section gets CRLF (RFC 5322 §2.3): without the structure, "
        "no octet of the body can be told to be a line end rather than data.",
        POSITIVE,
    )


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Password hashing (Argon2id, RFC 9106) and login caching. Cost settings apply to hashes
    created from now on; existing hashes keep their parameters and still verify."""

    argon2_time_cost: int = setting(
        INT,
        3,
        "Argon2id passes over memory (t). Higher is slower for attackers and for logins alike.",
        at_least(1, "RFC 9106 §3.1"),
    )
    argon2_memory_cost: int = setting(
        INT,
        65536,
        "Argon2id memory in KiB (m); 65536 is 64 MiB per hash computed. At least 8 × "
        "`argon2_parallelism` (RFC 9106 §3.1).",
        at_least(8, "RFC 9106 §3.1"),
    )
    argon2_parallelism: int = setting(
        INT,
        4,
        "Argon2id lanes (p).",
        at_least(1, "RFC 9106 §3.1"),
        at_most(2**24 - 1, "RFC 9106 §3.1"),
    )
    login_cache_ttl: float = setting(
        DURATION,
        "5m",
        "Remember a successful password check for this long, so that clients reconnecting "
        "with the same credentials skip the slow hash. `0` disables the cache.",
    )


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """The storage engine (LevelDB) and its change log."""

    group_commit_max: int = setting(
        INT,
        256,
        "Most write batches combined into one synchronous LevelDB write (group commit). Larger "
        "groups raise throughput under concurrent load.",
        at_least(1),
    )
    blob_upload_ttl: float = setting(
        DURATION,
        "1d",
        "Uploaded blobs (JMAP upload) that no message or other object references after this "
        "time are deleted.",
        POSITIVE,
    )
    change_history: int = setting(
        INT,
        10000,
        "Change-log entries kept per account; older ones are compacted. A client whose last "
        "state is older than the kept history must resynchronise in full (JMAP "
        "`cannotCalculateChanges`, RFC 8620 §5.2).",
        at_least(1),
    )


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


@dataclass(frozen=True, slots=True)
class Key:
    """A flattened schema row: ``section.name`` with its setting."""

    section: str
    name: str
    setting: Setting

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def env_var(self) -> str:
        return f"{ENV_PREFIX}{self.section.upper()}_{self.name.upper()}"


def _sections() -> dict[str, type]:
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config)}


SECTIONS: dict[str, type] = _sections()
SCHEMA: tuple[Key, ...] = tuple(
    Key(section, f.name, f.metadata[_META])
    for section, cls in SECTIONS.items()
    for f in dataclasses.fields(cls)
)
_BY_NAME: dict[tuple[str, str], Key] = {(k.section, k.name): k for k in SCHEMA}
_BY_ENV: dict[str, Key] = {k.env_var: k for k in SCHEMA}


# ---------------------------------------------------------------------------------------------
# Cross-key rules
# ---------------------------------------------------------------------------------------------


Finding = tuple[tuple[tuple[str, str], ...], str]


@dataclass(frozen=True, slots=True)
class Rule:
    """A constraint between keys.  ``test`` returns findings: the keys involved (the problem is
    reported where the first of them that the operator set was set) and a message."""

    keys: tuple[tuple[str, str], ...]
    test: Callable[[Values], list[Finding]]


def _tls_pair(values: Values) -> list[Finding]:
    cert, key = values["tls"]["cert"], values["tls"]["key"]
    if (cert is None) != (key is None):
        return [((("tls", "cert"), ("tls", "key")), "set both tls.cert and tls.key, or neither")]
    return []


def _argon2_memory(values: Values) -> list[Finding]:
    memory, lanes = values["auth"]["argon2_memory_cost"], values["auth"]["argon2_parallelism"]
    if memory < 8 * lanes:
        return [
            (
                (("auth", "argon2_memory_cost"), ("auth", "argon2_parallelism")),
                f"argon2_memory_cost must be at least 8 × argon2_parallelism = {8 * lanes} KiB "
                f"(RFC 9106 §3.1), got {memory}",
            )
        ]
    return []


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


RULES: tuple[Rule, ...] = (
    Rule((("tls", "cert"), ("tls", "key")), _tls_pair),
    Rule((("auth", "argon2_memory_cost"), ("auth", "argon2_parallelism")), _argon2_memory),
    Rule(
        tuple(_LISTENERS)
        + tuple((s, k) for s in ("lmtp", "imap", "http") for k in ("enabled", "bind")),
        _port_clash,
    ),
)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


class _Collector:
    def __init__(self, path: Path | None, text: str) -> None:
        self.path = path
        self.lines = locate_keys(text)
        self.problems: list[Problem] = []

    def file_location(self, *key: str) -> str:
        line = None
        for depth in range(len(key), 0, -1):
            line = self.lines.get(key[:depth])
            if line is not None:
                break
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        return f"{where} {'.'.join(key)}" if key else where

    def add(self, location: str, message: str) -> None:
        self.problems.append(Problem(location, message))


def _suggest(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _run_checks(key: Key, value: Any) -> str | None:
    for check in key.setting.checks:
        message = check.test(value)
        if message is not None:
            return message
    return None


_DEFAULT_ORIGIN = "default "


def _evaluate(path: Path | None, env: Mapping[str, str]) -> tuple[Config | None, list[Problem]]:
    text = ""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return None, [Problem(str(path), f"cannot read the configuration file: {exc}")]
    out = _Collector(path, text)
    if path is not None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            match = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
            where = f"{path}:{match.group(1)}" if match else str(path)
            message = message[: match.start()] if match else message
            out.add(where, f"invalid TOML: {message}")

    values: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    origin: dict[tuple[str, str], str] = {}
    bad: set[tuple[str, str]] = set()
    for key in SCHEMA:
        values[key.section][key.name] = key.setting.kind.from_toml(key.setting.default)
        origin[(key.section, key.name)] = f"{_DEFAULT_ORIGIN}{key.dotted}"

    def accept(key: Key, location: str, convert: Callable[[Any], Any], raw: object) -> None:
        try:
            value = convert(raw)
        except ValueError as exc:
            message: str | None = str(exc)
        else:
            message = _run_checks(key, value)
        if message is not None:
            out.add(location, message)
            bad.add((key.section, key.name))
            return
        values[key.section][key.name] = value
        origin[(key.section, key.name)] = location

    # 1. the file
    for section, table in data.items():
        if section not in SECTIONS:
            if isinstance(table, dict):
                out.add(
                    out.file_location(section),
                    f"unknown section [{section}]{_suggest(section, list(SECTIONS))}",
                )
            else:
                out.add(
                    out.file_location(section),
                    f"unknown top-level key {section!r}: settings belong in a [section]",
                )
            continue
        if not isinstance(table, dict):
            out.add(
                out.file_location(section), f"[{section}] must be a table, got {_describe(table)}"
            )
            continue
        names = [k.name for k in SCHEMA if k.section == section]
        for name, raw in table.items():
            found = _BY_NAME.get((section, name))
            location = out.file_location(section, name)
            if found is None:
                out.add(location, f"unknown key{_suggest(name, names)}")
                continue
            accept(found, location, found.setting.kind.from_toml, raw)

    # 2. the environment (beats the file)
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX):
            continue
        found = _BY_ENV.get(var)
        location = f"env {var}"
        if found is None:
            rest = var[len(ENV_PREFIX) :]
            for section in SECTIONS:
                if rest.startswith(section.upper() + "_"):
                    names = [k.env_var for k in SCHEMA if k.section == section]
                    out.add(location, f"unknown setting{_suggest(var, names)}")
                    break
            continue
        accept(found, location, found.setting.kind.from_env, env[var])

    # 3. derived values
    for key in SCHEMA:
        if key.setting.derive is not None and values[key.section][key.name] in (None, ""):
            values[key.section][key.name] = key.setting.derive(values)

    # 4. rules between keys (skipped when one of their keys is already wrong)
    for rule in RULES:
        if any(k in bad for k in rule.keys):
            continue
        for involved, message in rule.test(values):
            places = [origin[k] for k in involved]
            chosen = [p for p in places if not p.startswith(_DEFAULT_ORIGIN)] or places
            out.add(chosen[0], message)

    if out.problems:
        return None, out.problems
    config = Config(**{s: cls(**values[s]) for s, cls in SECTIONS.items()})
    return config, []


def load_config(path: Path | None, env: Mapping[str, str] = os.environ) -> Config:
    """Load ``path`` (None: defaults only), apply ``STALWART_*`` overrides from ``env``.

    Raises :class:`ConfigError` listing every problem found.
    """
    config, problems = _evaluate(path, env)
    if config is None:
        raise ConfigError(problems)
    return config


def check_config(path: Path | None, env: Mapping[str, str] = os.environ) -> list[Problem]:
    """Every problem in ``path`` and ``env``; empty when the configuration is valid."""
    return _evaluate(path, env)[1]


def default_config() -> Config:
    """The configuration with every key at its default (no file, no environment)."""
    return load_config(None, {})


if __name__ == "__main__":  # python -m stalwart_py.config --markdown | --example | --check F
    from .config_docs import main

    raise SystemExit(main())
