"""Reverse-path / forward-path parsing (RFC 5321 §4.1.2, extended by RFC 6531 §3.3).

Grammar implemented::

    Path         = "<" [ A-d-l ":" ] Mailbox ">"      ; the source route (A-d-l) is ignored
    Mailbox      = Local-part "@" ( Domain / address-literal )
    Local-part   = Dot-string / Quoted-string
    Reverse-path = Path / "<>"

RFC 6531 §3.3 lets atext, qtextSMTP and sub-domains contain UTF-8; the caller decides whether
non-ASCII is permitted (only when the transaction carries the SMTPUTF8 parameter).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

_ATEXT_ASCII = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
)
_LET_DIG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# RFC 5321 §4.5.3.1.3: the path, including the angle brackets, is at most 256 octets.
MAX_PATH_OCTETS = 256
# RFC 5321 §4.5.3.1.2: a domain is at most 255 octets.
MAX_DOMAIN_OCTETS = 255


class PathSyntaxError(ValueError):
    """The text is not a valid path; the message says why (safe to put in a reply)."""


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A parsed mailbox. ``local_part`` is unquoted (escapes removed)."""

    local_part: str
    domain: str

    @property
    def address(self) -> str:
        """Canonical text form: the local part quoted only when it must be (RFC 5321 §4.1.2)."""
        if self.domain:
            return f"{quote_local_part(self.local_part)}@{self.domain}"
        return quote_local_part(self.local_part)

    @property
    def is_ascii(self) -> bool:
        return self.local_part.isascii() and self.domain.isascii()


def _is_atext(ch: str) -> bool:
    return ch in _ATEXT_ASCII or ord(ch) >= 0x80


def _is_dot_string(text: str) -> bool:
    if not text:
        return False
    return all(atom and all(_is_atext(c) for c in atom) for atom in text.split("."))


def quote_local_part(local: str) -> str:
    """Return ``local`` as a Dot-string when it is one, else as a minimal Quoted-string."""
    if _is_dot_string(local):
        return local
    escaped = local.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _is_sub_domain(label: str) -> bool:
    # sub-domain = Let-dig [Ldh-str]; RFC 6531 §3.3 also allows a U-label (UTF-8).
    if not label:
        return False
    if not label.isascii():
        return all(c.isalnum() or c == "-" or ord(c) >= 0x80 for c in label) and (
            label[0] != "-" and label[-1] != "-"
        )
    if label[0] not in _LET_DIG or label[-1] not in _LET_DIG:
        return False
    return all(c in _LET_DIG or c == "-" for c in label)


def _check_domain(domain: str) -> None:
    if len(domain.encode("utf-8")) > MAX_DOMAIN_OCTETS:
        raise PathSyntaxError("domain too long")
    if domain.startswith("["):
        _check_address_literal(domain)
        return
    if not all(_is_sub_domain(label) for label in domain.split(".")):
        raise PathSyntaxError("invalid domain")


def _check_address_literal(literal: str) -> None:
    # RFC 5321 §4.1.3: IPv4, "IPv6:" and General-address-literal (tag ":" dcontent).
    if not literal.endswith("]"):
        raise PathSyntaxError("invalid address literal")
    inner = literal[1:-1]
    if inner.lower().startswith("ipv6:"):
        try:
            ipaddress.IPv6Address(inner[5:])
        except ValueError:
            raise PathSyntaxError("invalid IPv6 address literal") from None
        return
    if ":" in inner:
        tag, _, content = inner.partition(":")
        if not tag or not _is_sub_domain(tag) or not content:
            raise PathSyntaxError("invalid address literal")
        if not all(33 <= ord(c) <= 126 and c not in "[\\]" for c in content):
            raise PathSyntaxError("invalid address literal")
        return
    try:
        ipaddress.IPv4Address(inner)
    except ValueError:
        raise PathSyntaxError("invalid IPv4 address literal") from None


def _parse_quoted(text: str, pos: int) -> tuple[str, int]:
    """Parse a Quoted-string starting at ``text[pos] == '"'``; return (unquoted, end)."""
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\":
            # quoted-pairSMTP = %d92 %d32-126
            if i + 1 >= len(text) or not 32 <= ord(text[i + 1]) <= 126:
                raise PathSyntaxError("invalid quoted pair")
            out.append(text[i + 1])
            i += 2
            continue
        # qtextSMTP = %d32-33 / %d35-91 / %d93-126 (+ UTF-8 per RFC 6531)
        if not (32 <= ord(ch) <= 126 or ord(ch) >= 0x80):
            raise PathSyntaxError("invalid character in quoted local part")
        out.append(ch)
        i += 1
    raise PathSyntaxError("unterminated quoted local part")


def parse_mailbox(text: str) -> Mailbox:
    """Parse ``Local-part "@" (Domain / address-literal)``."""
    if text.startswith('"'):
        local, end = _parse_quoted(text, 0)
        if end >= len(text) or text[end] != "@":
            raise PathSyntaxError("expected @ after quoted local part")
        domain = text[end + 1 :]
    else:
        local, at, domain = text.rpartition("@")
        if not at:
            raise PathSyntaxError("missing domain")
        if not _is_dot_string(local):
            raise PathSyntaxError("invalid local part")
    if not domain:
        raise PathSyntaxError("missing domain")
    _check_domain(domain)
    return Mailbox(local, domain)


def _strip_source_route(inner: str) -> str:
    # A-d-l = At-domain *( "," At-domain ) ":"; RFC 5321 §4.1.2 / appendix C: MUST accept,
    # SHOULD ignore.  A quoted local part may itself contain ":" so only look before any quote.
    if not inner.startswith("@"):
        return inner
    colon = inner.find(":")
    if colon < 0:
        raise PathSyntaxError("invalid source route")
    for hop in inner[:colon].split(","):
        if not hop.startswith("@"):
            raise PathSyntaxError("invalid source route")
        _check_domain(hop[1:])
    return inner[colon + 1 :]


def split_path(text: str) -> tuple[str, str]:
    """Split ``<path> params`` into (path including brackets, rest after whitespace)."""
    if not text.startswith("<"):
        raise PathSyntaxError("path must be enclosed in angle brackets")
    i = 1
    in_quote = False
    while i < len(text):
        ch = text[i]
        if in_quote:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                in_quote = False
        elif ch == '"':
            in_quote = True
        elif ch == ">":
            path, rest = text[: i + 1], text[i + 1 :]
            if rest and not rest.startswith(" "):
                raise PathSyntaxError("expected space after path")
            return path, rest.strip(" ")
        i += 1
    raise PathSyntaxError("unterminated path")


def parse_path(path: str, *, allow_null: bool) -> Mailbox | None:
    """Parse ``<...>`` (brackets included).  Returns None for the null path ``<>``."""
    if len(path.encode("utf-8")) > MAX_PATH_OCTETS:
        raise PathSyntaxError("path too long")
    if not (path.startswith("<") and path.endswith(">")) or len(path) < 2:
        raise PathSyntaxError("path must be enclosed in angle brackets")
    inner = path[1:-1]
    if not inner:
        if allow_null:
            return None
        raise PathSyntaxError("null path not allowed here")
    inner = _strip_source_route(inner)
    # RFC 5321 §4.1.1.3: "<Postmaster>" (case-insensitive, no domain) must be accepted.
    if inner.lower() == "postmaster" and not allow_null:
        return Mailbox("postmaster", "")
    return parse_mailbox(inner)
