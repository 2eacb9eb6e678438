"""Sans-IO: a reply's head as h11 takes it (the fields a handler set, and the ones the server adds:
``Date``, ``Server``, ``X-Request-Id``, CORS, ``Content-Length``, ``Connection: close``).

Most responses share a few constant field sets (a JSON API answer, a problem document), so the
handler's fields are encoded and checked by h11 once per distinct set (:func:`encoded_fields`);
each response then only adds the server's own fields, which are valid by construction (an
IMF-fixdate, the configured server name checked once, a request id matching ``_REQUEST_ID``,
digits), and h11 builds the event without checking them again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Final

import h11

from .headers import Headers

NO_LENGTH_STATUS: Final = frozenset({204, 304})
# Framing is h11's job: these fields from a handler are dropped.
HOP_BY_HOP: Final = frozenset({"content-length", "transfer-encoding", "keep-alive", "te"})
_REASONS: Final[dict[int, bytes]] = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}
_MEMO_SIZE: Final = 512

_date_cache: tuple[int, bytes] = (0, b"")


def http_date() -> bytes:
    """The IMF-fixdate for ``Date`` (RFC 9110 §5.6.7, §6.6.1), recomputed once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode("ascii"))
    return _date_cache[1]


def encode_headers(pairs: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Names are ASCII tokens; values may carry ISO-8859-1 octets (RFC 9110 §5.5).  Raises
    ``UnicodeEncodeError`` for a value that is not ISO-8859-1."""
    return [(n.encode("ascii"), v.encode("latin-1")) for n, v in pairs]


def response_event(status: int, pairs: list[tuple[bytes, bytes]]) -> h11.Response:
    """An h11 response of fields that h11 checks (raises ``h11.LocalProtocolError``)."""
    return h11.Response(status_code=status, headers=pairs, reason=_REASONS.get(status, b""))


@dataclass(frozen=True, slots=True)
class EncodedFields:
    pairs: tuple[tuple[bytes, bytes], ...]  # without the hop-by-hop fields h11 frames itself
    has_date: bool
    has_server: bool


_FIELDS_MEMO: dict[Headers, EncodedFields] = {}


def encoded_fields(headers: Headers) -> EncodedFields:
    """A handler's fields, encoded and checked by h11 once (memoised).  Raises
    ``UnicodeEncodeError`` or ``h11.LocalProtocolError`` for a field h11 would refuse."""
    found = _FIELDS_MEMO.get(headers)
    if found is None:
        pairs = tuple(encode_headers([p for p in headers.pairs if p[0] not in HOP_BY_HOP]))
        response_event(200, list(pairs))  # h11's own check of every name and value
        found = EncodedFields(pairs, "date" in headers, "server" in headers)
        if len(_FIELDS_MEMO) >= _MEMO_SIZE:
            _FIELDS_MEMO.clear()
        _FIELDS_MEMO[headers] = found
    return found


_VARY_MEMO: dict[Headers, Headers] = {}


def vary_on_encoding(headers: Headers) -> Headers:
    """``headers`` with ``Vary: Accept-Encoding`` (RFC 9110 §12.5.5) for a response gzip may
    change; memoised like :func:`encoded_fields`."""
    found = _VARY_MEMO.get(headers)
    if found is None:
        found = headers.with_("vary", "Accept-Encoding")
        if len(_VARY_MEMO) >= _MEMO_SIZE:
            _VARY_MEMO.clear()
        _VARY_MEMO[headers] = found
    return found


class HeadWriter:
    """Builds response heads for one server (its ``Server`` name, checked once)."""

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name.encode("latin-1")
        response_event(200, [(b"server", self.server_name)])

    def fields(
        self,
        headers: Headers,
        request_id: str,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> list[tuple[bytes, bytes]]:
        """The handler's fields with ``Date``, ``Server`` and ``X-Request-Id`` added, then
        ``extra`` (CORS fields).  A client's request id is only echoed when it is a token
        (``target._REQUEST_ID``)."""
        fields = encoded_fields(headers)
        out = list(fields.pairs)
        if not fields.has_date:
            out.append((b"date", http_date()))
        if not fields.has_server:
            out.append((b"server", self.server_name))
        out.append((b"x-request-id", request_id.encode("latin-1")))
        if extra:
            out += extra
        return out

    def head(
        self,
        status: int,
        headers: Headers,
        request_id: str,
        body_length: int,
        *,
        close: bool = False,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> h11.Response:
        """A complete response's head: the :meth:`fields`, ``Content-Length`` (none for 204
        and 304, RFC 9110 §8.6) and ``Connection: close`` when asked.  Without CORS fields
        every field is valid at this point, so h11 is told so (``_parsed``) and does not
        check them again; h11 still frames the message and keeps its state machine."""
        pairs = self.fields(headers, request_id, extra)
        if status not in NO_LENGTH_STATUS:
            pairs.append((b"content-length", b"%d" % body_length))
        if close and not headers.has_token("connection", "close"):
            pairs.append((b"connection", b"close"))
        if extra:
            return response_event(status, pairs)  # CORS fields: h11 checks them
        return h11.Response(
            status_code=status, headers=pairs, reason=_REASONS.get(status, b""), _parsed=True
        )
