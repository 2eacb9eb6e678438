"""Issue 9: the mail service refuses every operation of a token on another account's objects.

The calls are generated from the public methods of :class:`MailTransaction` and
:class:`MailService` (a method added later without an entry here fails
``test_every_public_method_is_covered``), so that the sharing issue only has to add grants.
Every refusal is NOT_FOUND, never NO_PERMISSION: a token without a grant learns nothing about
whether the object exists.  Each call is also made with the token's own ids and must then
succeed (the control that shows the refusal comes from the rights check, not from bad
arguments), and a token with only the lookup and read rights in its own account is refused
every write with NO_PERMISSION.

Real LevelDB in a temp dir; the service is called directly (it is the API under test).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import trio

from protocols.mail import (
    AccessToken,
    MailService,
    MailTransaction,
    NewMessage,
    Right,
)
from protocols.mime import parse_message
from store import ApplyResult, Batch, Email, ErrorKind, MailError, Store
from tests.support import two_account_store

A, B = 1, 2
INBOX = 1
NOW = 1_000
RAW = b"From: x@example.org\r\nTo: y@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


@dataclass(frozen=True)
class Ids:
    """One account's objects: an email, a second mailbox, a generic object, an upload."""

    acct: int
    email_id: int
    mailbox_id: int
    object_id: int
    upload_sha: bytes
    email_blob: bytes


def _service(store: Store) -> MailService:
    async def write(batch: Batch) -> ApplyResult:
        return await trio.to_thread.run_sync(store.write, batch)

    return MailService(store, write, lambda: NOW)


def _new(acct_mailbox: int, raw: bytes = RAW) -> NewMessage:
    return NewMessage(raw, parse_message(raw), (acct_mailbox,), ("$seen",), received_at=NOW)


async def _populate(service: MailService, store: Store, acct: int, label: str = "") -> Ids:
    owner = AccessToken.for_owner(store.principal(acct))  # type: ignore[arg-type]
    txn = service.begin(owner)
    email = txn.import_message(acct, _new(INBOX, RAW + f"account {acct}{label}\r\n".encode()))
    mailbox = txn.create_mailbox(acct, f"Work{label}")
    obj = txn.set_object(acct, "Identity", 0, {"name": f"account {acct}"})
    upload = f"upload of {acct}{label}".encode()
    sha = hashlib.sha256(upload).digest()
    txn.upload_blob(acct, sha, upload, NOW + 3600)
    done = await txn.commit()
    assert done.error() is None
    created = done[email].value
    stored = store.email(acct, created.email_id)
    assert stored is not None
    return Ids(acct, created.email_id, done[mailbox].value, done[obj].value, sha, stored.blob)


def _stored(store: Store, ids: Ids) -> Email:
    email = store.email(ids.acct, ids.email_id)
    assert email is not None
    return email


def _thread_of(store: Store, ids: Ids) -> int:
    return _stored(store, ids).thread_id


# Each public method of MailTransaction: how to call it on the objects of ``target`` (as a
# token whose own objects are ``own``).  Kept as a table so that the walk cannot skip a method.
TxnCall = Callable[[MailTransaction, Ids, Ids, Store], Any]
TRANSACTION_CALLS: dict[str, list[TxnCall]] = {
    "import_message": [lambda t, target, own, s: t.import_message(target.acct, _new(INBOX))],
    "copy_email": [
        # out of the other account into the token's own
        lambda t, target, own, s: t.copy_email(target.acct, target.email_id, own.acct, (INBOX,)),
        # from the token's own account into the other
        lambda t, target, own, s: t.copy_email(own.acct, own.email_id, target.acct, (INBOX,)),
    ],
    "update_email": [
        lambda t, target, own, s: t.update_email(
            target.acct, target.email_id, keywords_add=("$flagged",)
        ),
        lambda t, target, own, s: t.update_email(
            target.acct, target.email_id, mailboxes_add=(target.mailbox_id,)
        ),
    ],
    "move_email": [
        lambda t, target, own, s: t.move_email(
            target.acct, target.email_id, INBOX, target.mailbox_id
        )
    ],
    "expunge_email": [
        lambda t, target, own, s: t.expunge_email(target.acct, _stored(s, target), INBOX)
    ],
    "destroy_email": [lambda t, target, own, s: t.destroy_email(target.acct, target.email_id)],
    "name_keywords": [lambda t, target, own, s: t.name_keywords(target.acct, ("Important",))],
    "create_mailbox": [
        lambda t, target, own, s: t.create_mailbox(target.acct, "New"),
        lambda t, target, own, s: t.create_mailbox(
            target.acct, "Child", parent_id=target.mailbox_id
        ),
    ],
    "update_mailbox": [
        lambda t, target, own, s: t.update_mailbox(target.acct, target.mailbox_id, name="Renamed"),
        lambda t, target, own, s: t.update_mailbox(
            target.acct, target.mailbox_id, subscribed=False
        ),
    ],
    "destroy_mailbox": [
        lambda t, target, own, s: t.destroy_mailbox(target.acct, target.mailbox_id)
    ],
    "upload_blob": [
        lambda t, target, own, s: t.upload_blob(
            target.acct, hashlib.sha256(b"x").digest(), b"x", NOW + 60
        )
    ],
    "set_object": [
        lambda t, target, own, s: t.set_object(target.acct, "Identity", 0, {"name": "new"}),
        lambda t, target, own, s: t.set_object(
            target.acct, "Identity", target.object_id, {"name": "changed"}
        ),
    ],
    "destroy_object": [
        lambda t, target, own, s: t.destroy_object(target.acct, "Identity", target.object_id)
    ],
}

# Each public read of MailService: called on the other account's objects it must answer
# None / [] or raise NOT_FOUND; on the token's own it must answer something.
ReadCall = Callable[[MailService, AccessToken, Ids], Any]
READ_CALLS: dict[str, ReadCall] = {
    "account": lambda m, tok, ids: m.account(tok, ids.acct),
    "rights": lambda m, tok, ids: m.rights(tok, ids.acct, INBOX),
    "mailboxes": lambda m, tok, ids: m.mailboxes(tok, ids.acct),
    "mailbox": lambda m, tok, ids: m.mailbox(tok, ids.acct, ids.mailbox_id),
    "email": lambda m, tok, ids: m.email(tok, ids.acct, ids.email_id),
    "metadata": lambda m, tok, ids: m.metadata(tok, ids.acct, ids.email_id),
    "thread": lambda m, tok, ids: m.thread(tok, ids.acct, _thread_of(m.store, ids)),
    "quota": lambda m, tok, ids: m.quota(tok, ids.acct),
    "blob": lambda m, tok, ids: m.blob(tok, ids.acct, ids.email_blob),
    "may_read_blob": lambda m, tok, ids: m.may_read_blob(tok, ids.acct, ids.upload_sha),
    "account_rights": lambda m, tok, ids: m.account_rights(tok, ids.acct),
    "objects": lambda m, tok, ids: m.objects(tok, ids.acct, "Identity"),
    "object": lambda m, tok, ids: m.object(tok, ids.acct, "Identity", ids.object_id),
}
NOT_READS = {"begin", "token_for"}  # they take no object id


def _public(cls: type) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_every_public_method_is_covered() -> None:
    assert _public(MailTransaction) - {"commit"} == set(TRANSACTION_CALLS)
    assert _public(MailService) - NOT_READS == set(READ_CALLS)


# Changing one's subscription needs no right beyond seeing the mailbox (RFC 4314 §4: SUBSCRIBE
# is not listed with a right).  The sharing issue must keep subscriptions per user.
NEEDS_ONLY_LOOKUP = {("update_mailbox", 1)}

CASES = [(name, n) for name, calls in sorted(TRANSACTION_CALLS.items()) for n in range(len(calls))]


def _run(test: Callable[[], Awaitable[None]]) -> None:
    trio.run(test)


@pytest.mark.parametrize(("method", "n"), CASES)
def test_writes_on_another_account_are_not_found(tmp_path: Path, method: str, n: int) -> None:
    async def main() -> None:
        store = two_account_store(tmp_path / "db")
        try:
            service = _service(store)
            own, other = await _populate(service, store, A), await _populate(service, store, B)
            before = store.account(B)
            token = AccessToken.for_owner(store.principal(A))  # type: ignore[arg-type]
            txn = service.begin(token)
            with pytest.raises(MailError) as refused:
                TRANSACTION_CALLS[method][n](txn, other, own, store)
            assert refused.value.kind is ErrorKind.NOT_FOUND
            assert len(txn) == 0
            assert (await txn.commit()).applied is None
            assert store.account(B) == before
        finally:
            store.close()

    _run(main)


@pytest.mark.parametrize(("method", "n"), CASES)
def test_the_same_calls_on_own_objects_succeed(tmp_path: Path, method: str, n: int) -> None:
    """The control: with the token's own ids every call commits without an error."""

    async def main() -> None:
        store = two_account_store(tmp_path / "db")
        try:
            service = _service(store)
            own = await _populate(service, store, A)
            second = await _populate(service, store, A, " 2")
            token = AccessToken.for_owner(store.principal(A))  # type: ignore[arg-type]
            txn = service.begin(token)
            TRANSACTION_CALLS[method][n](txn, own, second, store)
            done = await txn.commit()
            assert done.applied is not None and done.error() is None
        finally:
            store.close()

    _run(main)


@pytest.mark.parametrize(("method", "n"), CASES)
def test_a_read_only_token_is_refused_every_write(tmp_path: Path, method: str, n: int) -> None:
    """A token that sees its account with only the l and r rights (RFC 4314 §2.1) gets
    NO_PERMISSION for every write, and nothing is written."""

    async def main() -> None:
        store = two_account_store(tmp_path / "db")
        try:
            service = _service(store)
            own = await _populate(service, store, A)
            second = await _populate(service, store, A, " 2")
            before = store.account(A)
            owner = AccessToken.for_owner(store.principal(A))  # type: ignore[arg-type]
            reader = replace(owner, accounts=((A, frozenset({Right.LOOKUP, Right.READ})),))
            txn = service.begin(reader)
            if (method, n) in NEEDS_ONLY_LOOKUP:
                TRANSACTION_CALLS[method][n](txn, own, second, store)
                assert (await txn.commit()).error() is None
                return
            with pytest.raises(MailError) as refused:
                TRANSACTION_CALLS[method][n](txn, own, second, store)
            assert refused.value.kind is ErrorKind.NO_PERMISSION
            assert len(txn) == 0
            assert store.account(A) == before
        finally:
            store.close()

    _run(main)


@pytest.mark.parametrize("method", sorted(READ_CALLS))
def test_reads_of_another_account_show_nothing(tmp_path: Path, method: str) -> None:
    async def main() -> None:
        store = two_account_store(tmp_path / "db")
        try:
            service = _service(store)
            own, other = await _populate(service, store, A), await _populate(service, store, B)
            token = AccessToken.for_owner(store.principal(A))  # type: ignore[arg-type]
            mine = READ_CALLS[method](service, token, own)
            assert mine  # the control: the token's own objects are there
            try:
                theirs = READ_CALLS[method](service, token, other)
            except MailError as err:
                assert err.kind is ErrorKind.NOT_FOUND
            else:
                assert not theirs, f"{method} showed account B's data: {theirs!r}"
        finally:
            store.close()

    _run(main)
