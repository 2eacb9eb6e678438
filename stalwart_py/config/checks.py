"""Checks: constraints on a parsed value.  ``test`` returns a problem message, or None when
fine; ``description`` is what docs/configuration.md lists as allowed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


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
