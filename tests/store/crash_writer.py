"""Subprocess for the crash test: writes two-account deliveries in a loop, printing ``ACK n``
after each write returns (i.e. once it is durable), until it is killed.

Every ``DESTROY_EVERY``-th batch also destroys the emails of message ``n - DESTROY_LAG`` (so blob
files are deleted while the process may be killed), and every ``LARGE_EVERY``-th message is
large (so a kill often falls between the blob's file and its batch)."""

from __future__ import annotations

import hashlib
import sys

from store import Batch, Store
from store.batch import CreateDomain, CreatePrincipal, DestroyEmail, ImportEmail, Op, PutBlob

INBOX = ("Inbox", "inbox", 1, True)


DESTROY_EVERY = 5
DESTROY_LAG = 3
LARGE_EVERY = 7


def destroyed_by(n: int) -> int | None:
    """The message whose emails batch ``n`` destroys, if any."""
    return n - DESTROY_LAG if n % DESTROY_EVERY == 0 else None


def message(n: int, account: int) -> bytes:
    lines = 20_000 if n % LARGE_EVERY == 0 else n % 50 + 1
    body = f"line {n}\r\n" * lines
    return f"Delivered-To: a{account}\r\nMessage-ID: <c{n}@crash>\r\n\r\n{body}".encode()


def main(path: str, start: int) -> None:
    store = Store(path)
    if store.principal(1) is None:
        store.write(
            Batch(
                (
                    CreateDomain("crash.test"),
                    CreatePrincipal("individual", "a1", ("a1@crash.test",), "", mailboxes=(INBOX,)),
                    CreatePrincipal("individual", "a2", ("a2@crash.test",), "", mailboxes=(INBOX,)),
                ),
                now=1,
            )
        )
    n = start
    ids: dict[tuple[int, int], int] = {}  # (message, account) -> email id
    while True:
        ops: list[Op] = []
        blobs = []
        for account in (1, 2):
            data = message(n, account)
            sha = hashlib.sha256(data).digest()
            ops.append(PutBlob(sha, len(data), hold_until=0))
            blobs.append(data)
            ops.append(
                ImportEmail(account, sha, len(data), (1,), (), n, b"", message_id=f"c{n}@crash")
            )
        old = destroyed_by(n)
        for account in (1, 2):
            if (old, account) in ids:
                ops.append(DestroyEmail(account, ids.pop((old, account))))
        result = store.write(Batch(tuple(ops), now=n, blobs=tuple(blobs)))
        assert all(r.ok for r in result.results), result
        for k, account in enumerate((1, 2)):
            ids[(n, account)] = result.results[2 * k + 1].value.email_id
        sys.stdout.write(f"ACK {n}\n")
        sys.stdout.flush()
        n += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
