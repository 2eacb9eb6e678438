"""Directory administration: domains, accounts, aliases, groups and lists.

Used by the CLI (on the data directory directly) and by the server's first-start bootstrap.  Every
change is one store batch; failures surface as :class:`MailError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from store import Batch, MailError, Store
from store.batch import (
    AddAlias,
    CreateDomain,
    CreatePrincipal,
    DeleteDomain,
    DeletePrincipal,
    MailboxSpec,
    Op,
    RemoveAlias,
    SetCatchAll,
    UpdatePrincipal,
)
from store.errors import ErrorKind
from store.models import GROUP, INDIVIDUAL, LIST, Principal

from . import clock
from .passwords import Passwords

# Special-use mailboxes every new account gets (RFC 6154 roles, RFC 8621 §2 role names).
DEFAULT_MAILBOXES: tuple[MailboxSpec, ...] = (
    ("Inbox", "inbox", 1, True),
    ("Drafts", "drafts", 2, True),
    ("Sent", "sent", 3, True),
    ("Archive", "archive", 4, True),
    ("Junk", "junk", 5, True),
    ("Trash", "trash", 6, True),
)


def _one(store: Store, op: Op) -> object:
    result = store.write(Batch((op,), now=clock.now()))[0]
    if result.error is not None:
        raise result.error
    return result.value


@dataclass(frozen=True, slots=True)
class AccountRow:
    principal: Principal
    used_bytes: int
    messages: int


class Directory:
    def __init__(self, store: Store, passwords: Passwords) -> None:
        self.store = store
        self.passwords = passwords

    # -- domains -----------------------------------------------------------------------------
    def create_domain(self, name: str) -> None:
        _one(self.store, CreateDomain(name))

    def ensure_domain(self, name: str) -> bool:
        """Creates the domain when missing; True if it was created."""
        if self.store.domain(name) is not None:
            return False
        self.create_domain(name)
        return True

    def delete_domain(self, name: str) -> None:
        _one(self.store, DeleteDomain(name))

    def set_catch_all(self, domain: str, address: str | None) -> None:
        pid = self._require(address).id if address else 0
        _one(self.store, SetCatchAll(domain, pid))

    # -- principals --------------------------------------------------------------------------
    def create_account(
        self,
        email: str,
        password: str,
        *,
        quota: int = 0,
        description: str = "",
        roles: tuple[str, ...] = (),
    ) -> int:
        email = email.strip().lower()
        if "@" not in email:
            raise MailError(ErrorKind.INVALID, f"{email!r} is not an email address")
        secret = self.passwords.hash(password) if password else ""
        op = CreatePrincipal(
            INDIVIDUAL,
            email,
            (email,),
            secret,
            quota=quota,
            description=description,
            roles=roles,
            mailboxes=DEFAULT_MAILBOXES,
        )
        return int(_one(self.store, op))  # type: ignore[call-overload]

    def create_group(
        self, email: str, members: list[str], *, kind: str = GROUP, description: str = ""
    ) -> int:
        if kind not in (GROUP, LIST):
            raise MailError(ErrorKind.INVALID, f"unknown kind {kind!r}")
        member_ids = tuple(self._require(m).id for m in members)
        op = CreatePrincipal(
            kind, email.lower(), (email.lower(),), "", members=member_ids, description=description
        )
        return int(_one(self.store, op))  # type: ignore[call-overload]

    def set_members(self, email: str, members: list[str]) -> None:
        p = self._require(email)
        member_ids = tuple(self._require(m).id for m in members)
        _one(self.store, UpdatePrincipal(p.id, members=member_ids))

    def set_password(self, email: str, password: str) -> None:
        p = self._require(email)
        _one(self.store, UpdatePrincipal(p.id, secret=self.passwords.hash(password)))

    def set_quota(self, email: str, quota: int) -> None:
        _one(self.store, UpdatePrincipal(self._require(email).id, quota=quota))

    def delete(self, email: str) -> None:
        _one(self.store, DeletePrincipal(self._require(email).id))

    def add_alias(self, alias: str, target: str) -> None:
        _one(self.store, AddAlias(alias.lower(), self._require(target).id))

    def remove_alias(self, alias: str) -> None:
        _one(self.store, RemoveAlias(alias.lower()))

    def _require(self, name_or_address: str) -> Principal:
        p = self.store.principal_by_address(name_or_address) or self.store.principal_by_name(
            name_or_address
        )
        if p is None:
            raise MailError(ErrorKind.NOT_FOUND, f"no such account or address {name_or_address!r}")
        return p

    def list(self) -> list[AccountRow]:
        rows = []
        for p in self.store.principals():
            state = self.store.account(p.id)
            rows.append(
                AccountRow(p, state.used_bytes if state else 0, state.email_count if state else 0)
            )
        return rows
