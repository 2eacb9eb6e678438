"""Kept subscriptions (RFC 3501 §6.3.6: a deleted mailbox's name stays subscribed) stored by the
version before the mail service — the name's UTF-8 bytes under ``imap:subscription`` — are still
listed and can still be removed, so an upgrade loses no subscription and breaks no LIST."""

from __future__ import annotations

from pathlib import Path

from protocols.imap.session import ImapSession
from protocols.imap.subscriptions import LEGACY_TYPE_NAME
from store import Batch, Store
from store.batch import SetObject

from .imap_sessions import context, new_account, run

USER = "u@example.org"


async def test_names_kept_before_the_mail_service_are_still_subscribed(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    try:
        acct = new_account(store, USER)
        for name in ("Old", "Ä", "X"):  # one-letter names are what a msgpack reading breaks
            store.write(Batch((SetObject(acct, LEGACY_TYPE_NAME, 0, name.encode()),), now=1))
        s = ImapSession(context(store))
        assert b"a OK" in await run(s, b"a LOGIN " + USER.encode() + b" x")
        assert b"b OK" in await run(s, b"b ENABLE UTF8=ACCEPT")
        listed = await run(s, b'c LSUB "" "*"')
        assert b'"Old"' in listed and b'"X"' in listed and "Ä".encode() in listed, listed
        assert b"c OK" in listed
        assert b"d OK" in await run(s, b"d UNSUBSCRIBE Old")
        after = await run(s, b'e LSUB "" "*"')
        assert b'"Old"' not in after and b'"X"' in after, after
        assert b"f OK" in await run(s, b'f LIST "" "*"')
    finally:
        store.close()
