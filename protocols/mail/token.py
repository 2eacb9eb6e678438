"""Who is acting: the :class:`AccessToken` every mail-service call takes.

A token is built once per login (IMAP LOGIN/AUTHENTICATE, a JMAP request's credentials) or once
per process for the server's own work (delivery, the janitor, administration): the principal,
how it authenticated, its scopes, and the accounts it may act on with its rights in each.  The
owner of an account has every right in it; the sharing issue adds accounts reached through ACL
grants, with fewer rights, without changing any caller.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from store.models import Principal

from .rightset import OWNER, Rights


class AuthMethod(enum.Enum):
    PASSWORD = "password"
    APP_PASSWORD = "app-password"
    OAUTH = "oauth"
    SYSTEM = "system"  # the server itself: delivery, janitor, administration


class Scope(enum.Enum):
    """What a token may be used for (OAuth scopes map onto these)."""

    JMAP_MAIL = "jmap-mail"
    IMAP = "imap"
    SUBMISSION = "submission"
    SIEVE = "sieve"
    ADMIN = "admin"


# A password login may use every protocol; administration needs the principal's admin role.
PASSWORD_SCOPES: Final = frozenset(s for s in Scope if s is not Scope.ADMIN)


@dataclass(frozen=True, slots=True)
class AccessToken:
    principal_id: int
    name: str
    method: AuthMethod
    scopes: frozenset[Scope]
    # (account id, rights) in the order a client should list them: the personal account first.
    accounts: tuple[tuple[int, Rights], ...]
    system: bool = False

    @classmethod
    def for_owner(
        cls,
        principal: Principal,
        method: AuthMethod = AuthMethod.PASSWORD,
        scopes: frozenset[Scope] = PASSWORD_SCOPES,
    ) -> AccessToken:
        """The token of a principal acting on its own account (owner rights)."""
        if "admin" in principal.roles:
            scopes = scopes | {Scope.ADMIN}
        return cls(principal.id, principal.name, method, scopes, ((principal.id, OWNER),))

    @classmethod
    def for_system(cls, purpose: str) -> AccessToken:
        """The server's own token (``purpose`` names it in logs): every right everywhere."""
        return cls(0, f"system:{purpose}", AuthMethod.SYSTEM, frozenset(Scope), (), system=True)

    @property
    def account_id(self) -> int:
        """The principal's own account (0 for the system token)."""
        return self.accounts[0][0] if self.accounts else 0

    def account_ids(self) -> Iterator[int]:
        return (acct for acct, _ in self.accounts)

    def rights_in(self, acct: int) -> Rights | None:
        """The token's rights in ``acct``, None if it may not see the account at all."""
        if self.system:
            return OWNER
        for number, rights in self.accounts:
            if number == acct:
                return rights
        return None

    def may_see(self, acct: int) -> bool:
        return self.rights_in(acct) is not None

    def has_scope(self, scope: Scope) -> bool:
        return self.system or scope in self.scopes
