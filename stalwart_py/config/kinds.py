"""Value kinds: how a value is written in TOML and in the environment, and what Python value it
becomes.  Converters raise ValueError with an operator-readable message."""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, get_args

from ..units import parse_size


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    file_syntax: str
    env_syntax: str
    from_toml: Callable[[object], Any]
    from_env: Callable[[str], Any]


def describe(value: object) -> str:
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
    return ValueError(f"expected {what}, got {describe(value)}")


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
        raise ValueError(f"expected a boolean, got {describe(value)}{hint}")
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
            raise ValueError(f"item {i + 1}: expected a string, got {describe(item)}")
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
        raise ValueError(f"expected a finite duration, got {describe(shown)}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {describe(shown)}")
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


DOCUMENTED_KINDS = (
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
