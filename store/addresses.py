"""What the store accepts as a domain name and as an email address (principals, aliases)."""

from __future__ import annotations


def valid_domain(name: str) -> bool:
    return bool(name) and len(name) <= 253 and " " not in name and "@" not in name


def valid_address(addr: str) -> bool:
    """``local@domain`` with a non-empty local part, a valid domain and no white space."""
    local, sep, dom = addr.rpartition("@")
    return bool(sep and local and valid_domain(dom)) and not any(c.isspace() for c in addr)
