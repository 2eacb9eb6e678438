"""What the store accepts as a domain name and as an email address (principals, aliases).

Domains: dot-separated labels of 1–63 letters, digits or hyphens, not starting or ending with a
hyphen (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1), 253 octets at most; letters may be
non-ASCII (an IDN in its Unicode form).  Addresses: ``local@domain`` with exactly one ``@``
and a dot-atom local part (RFC 5322 §3.4.1, §3.2.3: atext and single inner dots; UTF-8
allowed, RFC 6531 §3.3), at most 64 octets.  Quoted local parts are not accepted.
"""

from __future__ import annotations

_ATEXT_SPECIALS = frozenset("!#$%&'*+-/=?^_`{|}~")


def _label_ok(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(c == "-" or c.isalnum() for c in label)
    )


def valid_domain(name: str) -> bool:
    return 0 < len(name.encode()) <= 253 and all(_label_ok(label) for label in name.split("."))


def _atext(c: str) -> bool:
    return (
        (c.isascii() and c.isalnum())
        or c in _ATEXT_SPECIALS
        or (not c.isascii() and c.isprintable() and not c.isspace())
    )


def valid_local_part(local: str) -> bool:
    return 0 < len(local.encode()) <= 64 and all(
        part and all(_atext(c) for c in part) for part in local.split(".")
    )


def valid_address(addr: str) -> bool:
    """``local@domain`` with exactly one ``@``, a dot-atom local part and a valid domain."""
    local, sep, dom = addr.partition("@")
    return bool(sep) and valid_local_part(local) and valid_domain(dom)
