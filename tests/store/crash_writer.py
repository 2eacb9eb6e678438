"""Subprocess for the crash test: writes two-account deliveries in a loop, printing ``ACK n``
after each write returns (i.e. once it is durable), until it is killed."""

from __future__ import annotations

import hashlib
import sys

from store import Batch, Store
from store.batch import CreateDomain, CreatePrincipal, ImportEmail, PutBlob

INBOX = ("Inbox", "inbox", 1, True)


def message(n: int, account: int) -> bytes:
    body = f"line {n}\r\n" * (n % 50 + 1)
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
    while True:
        ops = []
        for account in (1, 2):
            data = message(n, account)
            sha = hashlib.sha256(data).digest()
            ops.append(PutBlob(sha, data, hold_until=0))
            ops.append(
                ImportEmail(account, sha, len(data), (1,), (), n, b"", message_id=f"c{n}@crash")
            )
        result = store.write(Batch(tuple(ops), now=n))
        assert all(r.ok for r in result.results), result
        sys.stdout.write(f"ACK {n}\n")
        sys.stdout.flush()
        n += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
