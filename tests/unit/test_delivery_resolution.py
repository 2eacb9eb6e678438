"""Delivery caches address resolution and inbox ids; every directory or mailbox change must
still be seen by the very next RCPT or delivery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stalwart_py.delivery import Delivery, DeliveryOptions, Envelope
from stalwart_py.storage import LocalWriteLog
from store import Batch, ErrorKind, MailError, Store
from store.batch import (
    AddAlias,
    CreateMailbox,
    DeletePrincipal,
    RemoveAlias,
    SetCatchAll,
    UpdateMailbox,
    UpdatePrincipal,
)
from tests.support import two_account_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = two_account_store(tmp_path / "db", now=1)
    yield s
    s.close()


def _kind(delivery: Delivery, address: str) -> ErrorKind | None:
    err = delivery.check_recipient(address)
    return None if err is None else err.kind


def test_resolution_follows_alias_catch_all_and_deletion(store: Store) -> None:
    d = Delivery(store, LocalWriteLog(store).propose, DeliveryOptions())
    assert d.resolve("a@example.org") == [1]
    assert _kind(d, "x@example.org") is ErrorKind.NOT_FOUND
    store.write(Batch((AddAlias("x@example.org", 2),), now=2))
    assert d.resolve("x@example.org") == [2]
    store.write(Batch((RemoveAlias("x@example.org"),), now=3))
    with pytest.raises(MailError) as err:
        d.resolve("x@example.org")
    assert err.value.kind is ErrorKind.NOT_FOUND
    store.write(Batch((SetCatchAll("example.org", 1),), now=4))
    assert d.resolve("x@example.org") == [1]
    assert d.resolve("b@example.org") == [2]
    store.write(Batch((DeletePrincipal(2),), now=5))
    assert d.resolve("b@example.org") == [1]  # now caught by the catch-all


async def test_quota_change_is_seen_by_the_next_rcpt(store: Store) -> None:
    d = Delivery(store, LocalWriteLog(store).propose, DeliveryOptions())
    assert _kind(d, "a@example.org") is None
    env = Envelope("s@remote.test", ("a@example.org",))
    assert await d.deliver(env, b"Subject: hi\r\n\r\nbody\r\n") == [None]
    assert _kind(d, "a@example.org") is None  # no quota
    store.write(Batch((UpdatePrincipal(1, quota=10),), now=2))
    assert _kind(d, "a@example.org") is ErrorKind.OVER_QUOTA
    store.write(Batch((UpdatePrincipal(1, quota=0),), now=3))
    assert _kind(d, "a@example.org") is None


async def test_inbox_role_moves_are_followed(store: Store) -> None:
    d = Delivery(store, LocalWriteLog(store).propose, DeliveryOptions())
    assert d.inbox(1) == 1
    store.write(
        Batch((UpdateMailbox(1, 1, role=""), CreateMailbox(1, "New", 0, "inbox", 2, True)), now=2)
    )
    assert d.inbox(1) == 2
    [result] = await d.deliver(Envelope("s@remote.test", ("a@example.org",)), b"\r\nbody\r\n")
    assert result is None
    assert [uid for uid, _ in store.mailbox_uids(1, 2)] == [1]
    assert store.mailbox_uids(1, 1) == []
