"""Directory administration: domains, accounts, aliases, groups and lists.

Used by the CLI (on the data directory directly) and by the server's first-start bootstrap.  Every
change is one store batch; failures surface as :class:`MailError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from store import ApplyResult, Batch, MailError, Store
from store.addresses import valid_address, valid_domain
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


def _one(
    write: Callable[[Batch], ApplyResult],
    op: Op,
    messages: Mapping[ErrorKind, str] | None = None,
) -> object:
    """Applies one operation; a failure becomes a MailError whose detail is a sentence (from
    ``messages`` when the caller knows what the kind means for this operation)."""
    result = write(Batch((op,), now=clock.now()))[0]
    if result.error is not None:
        err = result.error
        known = (messages or {}).get(err.kind)
        phrase = err.kind.value.replace("_", " ")
        raise MailError(err.kind, known or (f"{phrase} ({err.detail})" if err.detail else phrase))
    return result.value


def _address(text: str) -> str:
    address = text.strip().lower()
    if not valid_address(address):
        raise MailError(
            ErrorKind.INVALID, f"{text!r} is not an email address (expected name@domain)"
        )
    return address


@dataclass(frozen=True, slots=True)
class AccountRow:
    principal: Principal
    used_bytes: int
    messages: int


class Directory:
    """Every method checks its arguments before it writes, so a refused call changes nothing,
    and raises :class:`MailError` with a sentence naming what is wrong as its detail."""

    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        write: Callable[[Batch], ApplyResult] | None = None,
    ) -> None:
        self.store = store
        self.passwords = passwords
        # Blocking; the running server passes its write log's (store/writelog.py), the CLI on a
        # stopped server the store's own writer.
        self.write = store.write if write is None else write

    # -- domains -----------------------------------------------------------------------------
    def create_domain(self, name: str) -> None:
        if not valid_domain(name.strip()):
            raise MailError(ErrorKind.INVALID, f"{name!r} is not a valid domain name")
        name = name.strip().lower()
        _one(
            self.write,
            CreateDomain(name),
            {ErrorKind.ALREADY_EXISTS: f"the domain {name} already exists"},
        )

    def ensure_domain(self, name: str) -> bool:
        """Creates the domain when missing; True if it was created."""
        if self.store.domain(name) is not None:
            return False
        self.create_domain(name)
        return True

    def delete_domain(self, name: str) -> None:
        _one(
            self.write,
            DeleteDomain(name),
            {
                ErrorKind.NOT_FOUND: f"there is no domain {name}",
                ErrorKind.IN_USE: f"the domain {name} still has addresses: delete its "
                "accounts, groups and aliases first",
            },
        )

    def set_catch_all(self, domain: str, address: str | None) -> None:
        self._require_domain(domain)
        pid = self.require(address).id if address else 0
        _one(self.write, SetCatchAll(domain.lower(), pid))

    # -- principals --------------------------------------------------------------------------
    def create_account(
        self,
        email: str,
        password: str,
        *,
        quota: int = 0,
        description: str = "",
        roles: tuple[str, ...] = (),
        create_domain: bool = False,
    ) -> int:
        """``create_domain``: create the address's domain if it is missing (only once
        everything else has been checked)."""
        email = self._new_address(email, create_domain=create_domain)
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
        return int(_one(self.write, op))  # type: ignore[call-overload]

    def create_group(
        self,
        email: str,
        members: list[str],
        *,
        kind: str = GROUP,
        description: str = "",
        create_domain: bool = False,
    ) -> int:
        if kind not in (GROUP, LIST):
            raise MailError(ErrorKind.INVALID, f"unknown kind {kind!r} (expected group or list)")
        _address(email)
        member_ids = tuple(self.require(m).id for m in members)
        email = self._new_address(email, create_domain=create_domain)
        op = CreatePrincipal(kind, email, (email,), "", members=member_ids, description=description)
        return int(_one(self.write, op))  # type: ignore[call-overload]

    def set_members(self, email: str, members: list[str]) -> None:
        p = self.require(email)
        if p.kind not in (GROUP, LIST):
            raise MailError(ErrorKind.INVALID, f"{email} is an account, not a group or list")
        member_ids = tuple(self.require(m).id for m in members)
        _one(self.write, UpdatePrincipal(p.id, members=member_ids))

    def set_password(self, email: str, password: str) -> None:
        p = self.require(email)
        _one(self.write, UpdatePrincipal(p.id, secret=self.passwords.hash(password)))

    def set_quota(self, email: str, quota: int) -> None:
        _one(self.write, UpdatePrincipal(self.require(email).id, quota=quota))

    def delete(self, email: str) -> None:
        _one(self.write, DeletePrincipal(self.require(email).id))

    def add_alias(self, alias: str, target: str) -> None:
        address = _address(alias)
        owner = self.require(target)
        self._require_free(address)
        self._require_domain(address.rpartition("@")[2])
        _one(self.write, AddAlias(address, owner.id))

    def remove_alias(self, alias: str) -> None:
        address = alias.strip().lower()
        owner = self.store.principal_by_address(address)
        if owner is None:
            raise MailError(ErrorKind.NOT_FOUND, f"there is no alias {alias}")
        if owner.emails and owner.emails[0] == address:
            raise MailError(
                ErrorKind.IN_USE, f"{alias} is the primary address of {owner.name}, not an alias"
            )
        _one(self.write, RemoveAlias(address))

    def require(self, name_or_address: str) -> Principal:
        """The principal with this address or name; NOT_FOUND naming it otherwise."""
        p = self.store.principal_by_address(name_or_address) or self.store.principal_by_name(
            name_or_address
        )
        if p is None:
            raise MailError(
                ErrorKind.NOT_FOUND, f"there is no account, group or address {name_or_address}"
            )
        return p

    def _require_domain(self, name: str) -> None:
        if self.store.domain(name.lower()) is None:
            raise MailError(
                ErrorKind.NOT_FOUND,
                f"there is no domain {name} (create it with `stalwart-py domain create {name}`)",
            )

    def _require_free(self, address: str) -> None:
        owner = self.store.principal_by_address(address) or self.store.principal_by_name(address)
        if owner is not None:
            taken = "exists" if owner.name == address else f"is an address of {owner.name}"
            raise MailError(ErrorKind.ALREADY_EXISTS, f"{address} already {taken}")

    def _new_address(self, email: str, *, create_domain: bool) -> str:
        """A free, valid address for a new principal; its domain exists once this returns."""
        address = _address(email)
        self._require_free(address)
        domain = address.rpartition("@")[2]
        if create_domain:
            self.ensure_domain(domain)
        else:
            self._require_domain(domain)
        return address

    def list(self) -> list[AccountRow]:
        rows = []
        for p in self.store.principals():
            state = self.store.account(p.id)
            rows.append(
                AccountRow(p, state.used_bytes if state else 0, state.email_count if state else 0)
            )
        return rows
