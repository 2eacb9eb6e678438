"""A reproducible workload of batches covering every operation (for replay and crash tests)."""

from __future__ import annotations

import hashlib
import random

from store.batch import (
    AddAlias,
    Batch,
    CompactChanges,
    CreateDomain,
    CreateMailbox,
    CreatePrincipal,
    DestroyEmail,
    DestroyMailbox,
    DestroyObject,
    ExpireBlobs,
    ImportEmail,
    NameKeywords,
    Op,
    PutBlob,
    RemoveAlias,
    SetCatchAll,
    SetObject,
    UpdateEmail,
    UpdateMailbox,
    UpdatePrincipal,
    UploadBlob,
)

INBOX = ("Inbox", "inbox", 1, True)
TRASH = ("Trash", "trash", 2, True)


def message(n: int, refs: tuple[str, ...] = (), subject: str = "topic") -> bytes:
    ref = f"References: {' '.join(f'<{r}>' for r in refs)}\r\n" if refs else ""
    return (
        f"From: sender{n}@remote.test\r\nSubject: {subject}\r\nMessage-ID: <m{n}@remote.test>\r\n"
        f"{ref}\r\nBody of message {n}.\r\n"
    ).encode()


def import_batch(
    account: int, n: int, mailboxes: tuple[int, ...], now: int, refs: tuple[str, ...] = ()
) -> Batch:
    """A batch storing message ``n`` (its bytes beside the batch, in ``blobs``)."""
    data = message(n, refs)
    return Batch(_import_ops(account, n, mailboxes, now, data, refs), now, blobs=(data,))


def _import_ops(
    account: int,
    n: int,
    mailboxes: tuple[int, ...],
    now: int,
    data: bytes,
    refs: tuple[str, ...],
) -> tuple[Op, ...]:
    sha = hashlib.sha256(data).digest()
    return (
        PutBlob(sha, len(data), now),
        ImportEmail(
            account,
            sha,
            len(data),
            mailboxes,
            (),
            now,
            b"",
            message_id=f"m{n}@remote.test",
            references=refs,
            subject="topic",
        ),
    )


def workload(seed: int, length: int = 120) -> list[Batch]:
    rnd = random.Random(seed)
    now = 1_700_000_000
    batches = [
        Batch(
            (
                CreateDomain("example.org"),
                CreatePrincipal(
                    "individual", "a", ("a@example.org",), "x", 0, mailboxes=(INBOX, TRASH)
                ),
                CreatePrincipal(
                    "individual", "b", ("b@example.org",), "x", 5000, mailboxes=(INBOX,)
                ),
                CreatePrincipal("group", "g", ("g@example.org",), "", members=(1, 2)),
                AddAlias("alias@example.org", 1),
                SetCatchAll("example.org", 2),
            ),
            now,
        )
    ]
    n = 0
    created: dict[int, list[int]] = {1: [], 2: []}
    for _ in range(length):
        now += rnd.randint(0, 5)
        kind = rnd.random()
        acct = rnd.choice((1, 2))
        if kind < 0.5:
            n += 1
            refs = tuple(f"m{rnd.randint(1, n)}@remote.test" for _ in range(rnd.randint(0, 2)))
            created[acct].append(len(created[acct]) + 1)
            batches.append(import_batch(acct, n, (1,), now, refs))
        elif kind < 0.7 and created[acct]:
            eid = rnd.choice(created[acct])
            batches.append(
                Batch(
                    (
                        UpdateEmail(acct, eid, keywords_add=(rnd.choice(("$seen", "$flagged")),)),
                        UpdateEmail(acct, eid, keywords_remove=("$flagged",)),
                        NameKeywords(acct, (rnd.choice(("Work", "WORK", "work")), "$Seen")),
                    ),
                    now,
                )
            )
        elif kind < 0.78 and created[1]:
            eid = rnd.choice(created[1])
            batches.append(Batch((UpdateEmail(1, eid, mailboxes_set=(2,)),), now))
        elif kind < 0.86 and created[acct]:
            eid = rnd.choice(created[acct])
            batches.append(Batch((DestroyEmail(acct, eid),), now))
        elif kind < 0.9:
            batches.append(Batch((CreateMailbox(acct, f"f{n}", 0), CreateMailbox(acct, "")), now))
        elif kind < 0.93:
            batches.append(Batch((UpdateMailbox(1, 2, name=f"Bin{n}"), DestroyMailbox(2, 99)), now))
        elif kind < 0.96:
            batches.append(Batch((ExpireBlobs(), CompactChanges(acct, 20)), now + 10))
        elif kind < 0.98:
            up = f"upload {n}".encode()
            batches.append(
                Batch(
                    (
                        UploadBlob(acct, hashlib.sha256(up).digest(), len(up), now + 5),
                        SetObject(acct, "Identity", 0, up),
                        SetObject(acct, "Identity", 1, b"renamed"),
                        DestroyObject(acct, "Identity", rnd.randint(1, 3)),
                    ),
                    now,
                    blobs=(up,),
                )
            )
        else:
            batches.append(
                Batch(
                    (
                        UpdatePrincipal(2, quota=rnd.choice((0, 5000))),
                        AddAlias(f"x{n}@example.org", 2),
                        RemoveAlias(f"x{n}@example.org"),
                    ),
                    now,
                )
            )
    return batches
