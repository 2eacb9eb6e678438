"""Sans-IO helpers for a request head: the request-target split into path and query
(RFC 9112 §3.2), request ids, and the head's size for the header limit."""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Final
from urllib.parse import parse_qsl, urlsplit

import h11

from .headers import Headers

_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")


def split_target(target: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Path and decoded query of an origin-form or absolute-form target (RFC 9112 §3.2)."""
    if target.startswith("/"):
        path, _, query = target.partition("?")
        path, _, _ = path.partition("#")
    elif target == "*":
        return "*", ()
    else:
        parts = urlsplit(target)
        path, query = parts.path or "/", parts.query
    pairs = tuple(parse_qsl(query, keep_blank_values=True)) if query else ()
    return path, pairs


# New request ids: a random per-process prefix and a counter (unique, cheap; not secrets).
_RID_PREFIX = secrets.token_hex(4)
_rid_counter = itertools.count(1)


def request_id(headers: Headers) -> str:
    """The client's ``X-Request-Id`` when it is a sane token, else a new one."""
    given = headers.get("x-request-id")
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given
    return f"{_RID_PREFIX}{next(_rid_counter):08x}"


def head_size(event: h11.Request) -> int:
    """The size of a request head as sent (request line, fields, CRLFs), near enough."""
    size = len(event.method) + len(event.target) + 12
    for name, value in event.headers.raw_items():
        size += len(name) + len(value) + 4
    return size + 2
