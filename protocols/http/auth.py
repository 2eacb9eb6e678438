"""The ``Authorization`` header: Basic (RFC 7617) and Bearer (RFC 6750) credentials.

This module only parses and challenges; whether credentials are valid is the application's call.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass

from .headers import Headers
from .messages import Request, Response
from .problem import problem

REALM = "stalwart-py"

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 7617 §2 forbids control characters in user-id and password.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never log a password
        return f"BasicCredentials(username={self.username!r}, password=<hidden>)"


@dataclass(frozen=True, slots=True)
class BearerToken:
    token: str

    def __repr__(self) -> str:
        return "BearerToken(<hidden>)"


Credentials = BasicCredentials | BearerToken


class MalformedAuthorization(ValueError):
    """The ``Authorization`` field is present but cannot be parsed (answer 400 or 401)."""


def parse_authorization(value: str | Request | None) -> Credentials | None:
    """Parse an ``Authorization`` value (or a request's).  None when absent or another scheme.

    Raises :class:`MalformedAuthorization` for a Basic or Bearer value that is not well formed.
    """
    if isinstance(value, Request):
        value = value.headers.get("authorization")
    if value is None:
        return None
    scheme, _, rest = value.strip().partition(" ")
    scheme = scheme.lower()  # auth-scheme is case-insensitive (RFC 9110 §11.1)
    rest = rest.strip()
    if scheme == "basic":
        return _parse_basic(rest)
    if scheme == "bearer":
        if not _B64TOKEN.fullmatch(rest):
            raise MalformedAuthorization("bearer token is not a b64token")
        return BearerToken(rest)
    return None


def _parse_basic(token68: str) -> BasicCredentials:
    try:
        raw = base64.b64decode(token68.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise MalformedAuthorization("basic credentials are not base64") from exc
    try:
        # We advertise charset="UTF-8" (RFC 7617 §2.1), so decode as UTF-8.
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedAuthorization("basic credentials are not UTF-8") from exc
    user, sep, password = text.partition(":")  # the user-id cannot contain ":" (§2)
    if not sep:
        raise MalformedAuthorization("basic credentials lack the ':' separator")
    if _CONTROL.search(user) or _CONTROL.search(password):
        raise MalformedAuthorization("basic credentials contain control characters")
    # RFC 7617 §2.1: with charset UTF-8, user-id and password are normalised (RFC 7613
    # UsernameCasePreserved / OpaqueString profiles), both of which apply Unicode NFC.
    return BasicCredentials(
        unicodedata.normalize("NFC", user), unicodedata.normalize("NFC", password)
    )


def basic_challenge(realm: str = REALM) -> str:
    return f'Basic realm="{realm}", charset="UTF-8"'


def unauthorized(
    detail: str = "authentication required",
    *,
    realm: str = REALM,
    bearer: bool = False,
    bearer_error: str | None = None,
) -> Response:
    """401 with ``WWW-Authenticate: Basic realm=..., charset="UTF-8"`` (RFC 7617 §2.1), and a
    Bearer challenge too when ``bearer`` (RFC 6750 §3, ``error=`` when given)."""
    headers = Headers((("www-authenticate", basic_challenge(realm)),))
    if bearer:
        challenge = f'Bearer realm="{realm}"'
        if bearer_error:
            challenge += f', error="{bearer_error}"'
        headers = headers.with_("www-authenticate", challenge)
    return problem(401, detail=detail, headers=headers)
