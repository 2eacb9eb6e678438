"""The store's operations, one behaviour per test, against a real LevelDB in a temp dir."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from store import Batch, ErrorKind, Store
from store.batch import (
    AddAlias,
    CompactChanges,
    CreateDomain,
    CreateMailbox,
    CreatePrincipal,
    DeletePrincipal,
    DestroyEmail,
    DestroyMailbox,
    ExpireBlobs,
    ImportEmail,
    NameKeywords,
    PutBlob,
    RemoveAlias,
    UpdateEmail,
    UpdateMailbox,
)
from store.feed import ChangeEvent

from .workload import INBOX, TRASH


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "db")
    s.write(
        Batch(
            (
                CreateDomain("example.org"),
                CreatePrincipal(
                    "individual", "a", ("a@example.org",), "", 0, mailboxes=(INBOX, TRASH)
                ),
                CreatePrincipal(
                    "individual", "b", ("b@example.org",), "", 1000, mailboxes=(INBOX,)
                ),
            ),
            now=100,
        )
    )
    yield s
    s.close()


def deliver(
    store: Store,
    acct: int,
    msgid: str,
    *,
    refs: tuple[str, ...] = (),
    subject: str = "s",
    mailboxes: tuple[int, ...] = (1,),
    body: bytes = b"x",
    window: int = 0,
    now: int = 200,
    keywords: tuple[str, ...] = (),
):
    data = f"Message-ID: <{msgid}>\r\n\r\n".encode() + body
    sha = hashlib.sha256(data).digest()
    res = store.write(
        Batch(
            (
                PutBlob(sha, len(data), now),
                ImportEmail(
                    acct,
                    sha,
                    len(data),
                    mailboxes,
                    keywords,
                    now,
                    b"meta",
                    message_id=msgid,
                    references=refs,
                    subject=subject,
                    dedupe_window=window,
                ),
            ),
            now=now,
            blobs=(data,),
        )
    )
    return res[1]


def test_errors_are_values_and_other_ops_still_apply(store: Store) -> None:
    res = store.write(
        Batch(
            (
                CreateMailbox(1, "Work"),
                CreateMailbox(1, "work"),  # same name, case-insensitively
                CreateMailbox(1, "Sub", parent_id=99),
                CreateMailbox(1, "Spam", role="inbox"),  # role taken
                CreateMailbox(1, "Sub", parent_id=3),
            ),
            now=1,
        )
    )
    assert res[0].ok and res[0].value == 3
    assert res[1].error.kind is ErrorKind.ALREADY_EXISTS
    assert res[2].error.kind is ErrorKind.NOT_FOUND
    assert res[3].error.kind is ErrorKind.ALREADY_EXISTS
    assert res[4].ok and res[4].value == 4
    assert [m.name for m in store.mailboxes(1)] == ["Inbox", "Trash", "Work", "Sub"]


def test_uids_modseqs_and_counters(store: Store) -> None:
    first = deliver(store, 1, "1@x").value
    second = deliver(store, 1, "2@x", mailboxes=(1, 2), keywords=("$Seen",)).value
    assert first.uids == ((1, 1),) and second.uids == ((1, 2), (2, 1))
    assert second.modseq == first.modseq + 1
    inbox = store.mailbox(1, 1)
    assert (inbox.total, inbox.unseen, inbox.uidnext) == (2, 1, 3)
    assert store.email(1, second.email_id).keywords == ("$seen",)
    assert inbox.highest_modseq == second.modseq == store.account(1).modseq


def test_threads_by_references_and_subject(store: Store) -> None:
    parent = deliver(store, 1, "p@x", subject="plans").value
    reply = deliver(store, 1, "r@x", refs=("p@x",), subject="plans").value
    unrelated = deliver(store, 1, "u@x", refs=("p@x",), subject="something else").value
    assert reply.thread_id == parent.thread_id
    assert unrelated.thread_id != parent.thread_id


def test_out_of_order_arrival_merges_threads(store: Store) -> None:
    # Two replies to a parent not yet seen, each citing only its own ancestor.
    a = deliver(store, 1, "a@x", refs=("root@x",)).value
    b = deliver(store, 1, "b@x", refs=("other@x",)).value
    assert a.thread_id != b.thread_id
    # The message linking both arrives last: the threads merge into the older one.
    link = deliver(store, 1, "link@x", refs=("root@x", "other@x")).value
    assert link.thread_id == a.thread_id
    assert store.email(1, b.email_id).thread_id == a.thread_id
    assert sorted(store.thread_emails(1, a.thread_id)) == [a.email_id, b.email_id, link.email_id]
    assert store.thread_emails(1, b.thread_id) == []
    # The merge is in the change log: Thread b destroyed, email b updated.
    last = store.changes_since(1, link.modseq - 1)[-1][1]
    assert ("Thread", b.thread_id, "d") in [(e.type, e.id, e.op) for e in last]
    assert ("Email", b.email_id, "u") in [(e.type, e.id, e.op) for e in last]
    # Parent arriving after its reply joins the reply's thread.
    late_parent = deliver(store, 1, "root@x").value
    assert late_parent.thread_id == a.thread_id


def test_duplicate_suppression_window(store: Store) -> None:
    first = deliver(store, 1, "d@x", window=3600, now=1000).value
    again = deliver(store, 1, "d@x", window=3600, now=2000).value
    assert again.duplicate and again.email_id == first.email_id
    assert store.mailbox(1, 1).total == 1
    late = deliver(store, 1, "d@x", window=3600, now=1000 + 3601).value
    assert not late.duplicate
    other_box = deliver(store, 1, "d@x", window=3600, now=5000, mailboxes=(2,)).value
    assert not other_box.duplicate  # per mailbox
    assert store.mailbox(1, 1).total == 2


def test_quota(store: Store) -> None:
    assert deliver(store, 2, "q1@x", body=b"y" * 900).ok
    over = deliver(store, 2, "q2@x", body=b"y" * 200)
    assert over.error.kind is ErrorKind.OVER_QUOTA
    assert store.account(2).email_count == 1


def test_update_email_keywords_mailboxes_and_condition(store: Store) -> None:
    e = deliver(store, 1, "k@x").value
    res = store.write(Batch((UpdateEmail(1, e.email_id, keywords_add=("$seen", "$flagged")),), 1))
    m1 = res[0].value.modseq
    assert store.mailbox(1, 1).unseen == 0
    stale = store.write(
        Batch((UpdateEmail(1, e.email_id, keywords_remove=("$seen",), if_modseq=m1 - 1),), 1)
    )
    assert stale[0].error.kind is ErrorKind.STATE_MISMATCH
    noop = store.write(Batch((UpdateEmail(1, e.email_id, keywords_add=("$seen",)),), 1))
    assert noop[0].value.modseq == m1  # nothing changed: no new modseq
    moved = store.write(Batch((UpdateEmail(1, e.email_id, mailboxes_set=(2,)),), 1))
    assert moved[0].value.uids == ((2, 1),)
    assert store.mailbox_uids(1, 1) == [] and store.mailbox(1, 1).total == 0
    empty = store.write(Batch((UpdateEmail(1, e.email_id, mailboxes_set=()),), 1))
    assert empty[0].error.kind is ErrorKind.INVALID
    bad = store.write(Batch((UpdateEmail(1, e.email_id, keywords_add=("a b",)),), 1))
    assert bad[0].error.kind is ErrorKind.INVALID


def test_keyword_spellings_first_spelling_wins_and_go_with_the_account(store: Store) -> None:
    """IMAP keywords are case-insensitive (RFC 3501 §2.3.2) and stored lower-cased (RFC 8621
    §4.1.1); NameKeywords keeps the first IMAP spelling of each, deterministically, without
    touching emails, the modseq or the change log."""
    before = store.account(1)
    res = store.write(
        Batch((NameKeywords(1, ("MyKeyWord", "$Seen", "work")), NameKeywords(1, ("MYKEYWORD",))), 1)
    )
    assert res[0].value == 2 and res[1].value == 0  # $Seen is a system flag: not named
    assert store.keyword_spelling(1, "mykeyword") == "MyKeyWord"
    assert store.keyword_spelling(1, "work") == "work"
    assert store.keyword_spelling(1, "$seen") is None
    assert store.keyword_spelling(2, "mykeyword") is None  # per account
    assert store.account(1) == before  # no modseq, no change-log entry
    bad = store.write(Batch((NameKeywords(1, ("a b",)), NameKeywords(99, ("x",))), 1))
    assert bad[0].error.kind is ErrorKind.INVALID
    assert bad[1].error.kind is ErrorKind.NOT_FOUND
    store.write(Batch((DeletePrincipal(1),), now=10_000))
    assert store.keyword_spelling(1, "mykeyword") is None


def test_update_email_renews_its_uid_in_a_mailbox_it_stays_in(store: Store) -> None:
    """``mailboxes_renew`` (IMAP MOVE to the selected mailbox, RFC 6851): the email keeps its
    id, flags and other mailboxes; in the renewed mailbox its old UID is expunged and a new
    one appended (logged "x" then "a"); the mailbox's counts are unchanged."""
    e = deliver(store, 1, "r@x", mailboxes=(1, 2), keywords=("$flagged",)).value
    assert e.uids == ((1, 1), (2, 1))
    before = store.mailbox(1, 1)
    res = store.write(Batch((UpdateEmail(1, e.email_id, mailboxes_renew=(1,)),), 1))
    assert res[0].ok and res[0].value.email_id == e.email_id
    assert res[0].value.uids == ((1, 2), (2, 1))
    email = store.email(1, e.email_id)
    assert email is not None and email.keywords == ("$flagged",)
    assert store.mailbox_uids(1, 1) == [(2, e.email_id)]
    after = store.mailbox(1, 1)
    assert (after.total, after.unseen, after.size, after.uidnext) == (
        before.total,
        before.unseen,
        before.size,
        3,
    )
    [(_, entries)] = store.changes_since(1, res[0].value.modseq - 1)
    uid_events = [(e.id, e.op, e.uid) for e in entries if e.type == "imap"]
    assert uid_events == [(1, "x", 1), (1, "a", 2)]
    # A renewed mailbox that the update also leaves, or that the email is not in: ignored.
    gone = store.write(
        Batch((UpdateEmail(1, e.email_id, mailboxes_remove=(2,), mailboxes_renew=(2,)),), 1)
    )
    assert gone[0].value.uids == ((1, 2),)
    none = store.write(Batch((UpdateEmail(1, e.email_id, mailboxes_renew=(2,)),), 1))
    assert none[0].value.uids == ((1, 2),) and none[0].value.modseq == gone[0].value.modseq


def test_destroy_email_releases_blob_and_quota(store: Store) -> None:
    e = deliver(store, 1, "z@x", now=10).value
    sha = store.email(1, e.email_id).blob
    store.write(Batch((DestroyEmail(1, e.email_id),), now=20))
    assert store.email(1, e.email_id) is None
    assert store.blob(sha) is None and store.blob_info(sha) is None
    assert store.account(1).used_bytes == 0 and store.mailbox(1, 1).total == 0
    assert (
        store.write(Batch((DestroyEmail(1, e.email_id),), 20))[0].error.kind is ErrorKind.NOT_FOUND
    )


def test_uploaded_blob_expires_only_when_unreferenced(store: Store) -> None:
    data = b"upload"
    sha = hashlib.sha256(data).digest()
    store.write(Batch((PutBlob(sha, len(data), hold_until=500),), now=100, blobs=(data,)))
    store.write(Batch((ExpireBlobs(),), now=499))
    assert store.blob(sha) == data
    store.write(Batch((ExpireBlobs(),), now=500))
    assert store.blob(sha) is None
    bad = store.write(Batch((PutBlob(b"\0" * 31, len(data), 1),), now=1))
    assert bad[0].error.kind is ErrorKind.INVALID


def test_mailbox_hierarchy_rules(store: Store) -> None:
    parent = store.write(Batch((CreateMailbox(1, "P"),), 1))[0].value
    child = store.write(Batch((CreateMailbox(1, "C", parent_id=parent),), 1))[0].value
    cycle = store.write(Batch((UpdateMailbox(1, parent, parent_id=child),), 1))
    assert cycle[0].error.kind is ErrorKind.INVALID
    busy = store.write(Batch((DestroyMailbox(1, parent),), 1))
    assert busy[0].error.kind is ErrorKind.HAS_CHILDREN
    e = deliver(store, 1, "m@x", mailboxes=(child,)).value
    assert store.write(Batch((DestroyMailbox(1, child),), 1))[0].error.kind is ErrorKind.IN_USE
    gone = store.write(Batch((DestroyMailbox(1, child, remove_emails=True),), 1))
    assert gone[0].ok and store.email(1, e.email_id) is None and store.mailbox(1, child) is None
    renamed = store.write(Batch((UpdateMailbox(1, parent, name="Trash"),), 1))
    assert renamed[0].error.kind is ErrorKind.ALREADY_EXISTS


def test_change_log_and_compaction(store: Store) -> None:
    start = store.account(1).modseq
    for i in range(5):
        deliver(store, 1, f"c{i}@x")
    changes = store.changes_since(1, start)
    assert [m for m, _ in changes] == list(range(start + 1, start + 6))
    assert all(any(e.type == "Email" and e.op == "c" for e in entries) for _, entries in changes)
    store.write(Batch((CompactChanges(1, 2),), 1))
    state = store.account(1)
    assert state.changes_floor == start + 3
    assert [m for m, _ in store.changes_since(1, 0)] == [start + 4, start + 5]
    assert state.type_state("Email") == start + 5


def test_change_feed_fires_after_commit(store: Store) -> None:
    seen: list[ChangeEvent] = []
    unsubscribe = store.feed.subscribe(seen.append)
    e = deliver(store, 1, "f@x").value
    unsubscribe()
    deliver(store, 1, "g@x")
    assert len(seen) == 1
    assert seen[0].account_id == 1 and seen[0].modseq == e.modseq
    assert {"Email", "Mailbox", "Thread", "imap"} <= seen[0].types


def test_directory_operations(store: Store) -> None:
    res = store.write(
        Batch(
            (
                AddAlias("Alias@example.org", 1),
                AddAlias("b@example.org", 1),  # taken
                AddAlias("x@nodomain.test", 1),  # unknown domain
                CreatePrincipal("individual", "c", ("bad address",), ""),
            ),
            1,
        )
    )
    assert res[0].ok
    assert res[1].error.kind is ErrorKind.ALREADY_EXISTS
    assert res[2].error.kind is ErrorKind.INVALID
    assert res[3].error.kind is ErrorKind.INVALID
    assert store.principal_by_address("alias@EXAMPLE.org").id == 1
    primary = store.write(Batch((RemoveAlias("a@example.org"),), 1))
    assert primary[0].error.kind is ErrorKind.IN_USE
    deliver(store, 2, "del@x")
    sha = next(store.emails(2)).blob
    store.write(Batch((DeletePrincipal(2),), now=10_000))
    assert store.principal(2) is None and store.account(2) is None
    assert store.principal_by_address("b@example.org") is None
    assert list(store.emails(2)) == [] and store.mailboxes(2) == []
    assert store.blob(sha) is None


def test_generic_objects_have_ids_changes_and_states(store: Store) -> None:
    from store.batch import DestroyObject, SetObject

    res = store.write(
        Batch((SetObject(1, "Identity", 0, b"one"), SetObject(1, "Identity", 0, b"two")), 5)
    )
    first, second = res[0].value, res[1].value
    assert (first, second) == (1, 2)
    assert store.objects(1, "Identity") == [(1, b"one"), (2, b"two")]
    m = store.account(1).type_state("Identity")
    store.write(Batch((SetObject(1, "Identity", 2, b"2b"), DestroyObject(1, "Identity", 1)), 6))
    assert store.objects(1, "Identity") == [(2, b"2b")]
    entries = store.changes_since(1, m)[-1][1]
    assert {(e.type, e.id, e.op) for e in entries} == {("Identity", 2, "u"), ("Identity", 1, "d")}
    missing = store.write(
        Batch((SetObject(1, "Identity", 9, b"x"), DestroyObject(2, "Identity", 2)), 7)
    )
    assert [r.error.kind for r in missing.results] == [ErrorKind.NOT_FOUND, ErrorKind.NOT_FOUND]
    assert store.objects(2, "Identity") == []  # accounts are separate


def test_blob_access_follows_uploads_and_emails(store: Store) -> None:
    from store.batch import UploadBlob

    data = b"uploaded"
    sha = hashlib.sha256(data).digest()
    store.write(Batch((UploadBlob(1, sha, len(data), hold_until=500),), now=100, blobs=(data,)))
    assert store.blob_accessible(1, sha, now=200)
    assert not store.blob_accessible(2, sha, now=200)  # another account did not upload it
    assert not store.blob_accessible(1, sha, now=500)  # the upload expired
    e = deliver(store, 2, "linked@x", now=300)
    linked = store.email(2, e.value.email_id).blob
    assert store.blob_accessible(2, linked, now=10**9)  # an email references it
    store.write(Batch((DestroyEmail(2, e.value.email_id),), now=400))
    assert not store.blob_accessible(2, linked, now=400)
    store.write(Batch((ExpireBlobs(),), now=600))
    assert store.blob(sha) is None
