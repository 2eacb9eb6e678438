"""The IMAP side's shared caches: decoded email records kept current from the change log
(``protocols.imap.records``), the mailbox view reading through them, the header values SEARCH
compares (``protocols.imap.headerinfo``) and the direct ENVELOPE encoder — against a real store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocols.imap.headerinfo import header_info_of, header_info_of_wire
from protocols.imap.records import Listing, RecordCache
from protocols.imap.render import envelope_of, envelope_tree_bytes
from protocols.imap.selected import SelectedMailbox
from protocols.mime import parse_message
from store import Batch, Store
from store.batch import (
    CompactChanges,
    DeletePrincipal,
    DestroyEmail,
    ImportEmail,
    PutBlob,
    UpdateEmail,
)
from store.codec import pack, unpack
from tests.support import require_corpus, two_account_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = two_account_store(tmp_path / "db", now=100)
    yield s
    s.close()


def acct_of(store: Store, name: str) -> int:
    principal = store.principal_by_name(name)
    assert principal is not None
    return principal.id


def inbox_of(store: Store, acct: int) -> int:
    mb = store.mailbox_by_role(acct, "inbox")
    assert mb is not None
    return mb.id


def deliver(store: Store, acct: int, n: int, keywords: tuple[str, ...] = ()) -> int:
    data = f"From: Ann Smith <ann@example.org>\r\nSubject: Report {n}\r\n\r\nbody {n}\r\n".encode()
    sha = hashlib.sha256(data).digest()
    parsed = parse_message(data)
    res = store.write(
        Batch(
            (
                PutBlob(sha, len(data), 100),
                ImportEmail(
                    acct,
                    sha,
                    len(data),
                    (inbox_of(store, acct),),
                    keywords,
                    100 + n,
                    pack(parsed.to_wire()),
                    message_id=f"m{n}@t",
                    subject=parsed.normalized_subject,
                ),
            ),
            now=100,
            blobs=(data,),
        )
    )
    result = res.results[1]
    assert result.error is None
    return int(result.value.email_id)


def synced(cache: RecordCache, store: Store, acct: int) -> None:
    cache.sync(acct, store.account(acct))


def test_records_are_decoded_once_and_shared(store: Store) -> None:
    acct = acct_of(store, "a")
    eid = deliver(store, acct, 1)
    cache = RecordCache(store)
    synced(cache, store, acct)
    first = cache.email(acct, eid)
    assert first is not None and first.id == eid
    assert cache.email(acct, eid) is first  # the cached object, not a new decode
    assert len(cache) == 1


def test_a_write_by_anyone_is_seen_after_the_next_sync(store: Store) -> None:
    acct = acct_of(store, "a")
    eid = deliver(store, acct, 1)
    cache = RecordCache(store)
    synced(cache, store, acct)
    assert cache.email(acct, eid).keywords == ()  # type: ignore[union-attr]
    # Another writer (LMTP, JMAP, another IMAP session) changes the flags directly.
    store.write(Batch((UpdateEmail(acct, eid, keywords_add=("$flagged",)),), now=101))
    synced(cache, store, acct)
    again = cache.email(acct, eid)
    assert again is not None and again.keywords == ("$flagged",)
    assert cache.modseq(acct) == store.account(acct).modseq  # type: ignore[union-attr]
    store.write(Batch((DestroyEmail(acct, eid),), now=102))
    synced(cache, store, acct)
    assert cache.email(acct, eid) is None


def test_a_write_landing_between_state_and_log_reads_is_covered(store: Store) -> None:
    """A session reads the account state, then the log (which may already hold a write that
    landed in between), then syncs the records with what it consumed: ``at_least``."""
    acct = acct_of(store, "a")
    eid = deliver(store, acct, 1)
    cache = RecordCache(store)
    synced(cache, store, acct)
    assert cache.email(acct, eid).keywords == ()  # type: ignore[union-attr]
    stale = store.account(acct)  # read before the write lands
    store.write(Batch((UpdateEmail(acct, eid, keywords_add=("$seen",)),), now=101))
    consumed = store.changes_since(acct, stale.modseq)[-1][0]  # type: ignore[union-attr]
    cache.sync(acct, stale)  # the stale state alone says nothing changed ...
    assert cache.email(acct, eid).keywords == ()  # type: ignore[union-attr]
    cache.sync(acct, stale, at_least=consumed)  # ... what the caller consumed does
    assert cache.email(acct, eid).keywords == ("$seen",)  # type: ignore[union-attr]
    assert cache.modseq(acct) == consumed


def test_advance_applies_a_callers_scan_only_from_where_the_records_stand(store: Store) -> None:
    acct = acct_of(store, "a")
    eid = deliver(store, acct, 1)
    cache = RecordCache(store)
    synced(cache, store, acct)
    start = cache.modseq(acct)
    assert start is not None and cache.email(acct, eid) is not None
    store.write(Batch((UpdateEmail(acct, eid, keywords_add=("$seen",)),), now=101))
    changes = store.changes_since(acct, start)
    cache.advance(acct, start - 1, changes)  # not where the records stand: ignored
    assert cache.modseq(acct) == start
    assert cache.email(acct, eid).keywords == ()  # type: ignore[union-attr]
    cache.advance(acct, start, changes)
    assert cache.modseq(acct) == changes[-1][0]
    assert cache.email(acct, eid).keywords == ("$seen",)  # type: ignore[union-attr]


def test_other_accounts_changes_leave_records_alone(store: Store) -> None:
    a, b = acct_of(store, "a"), acct_of(store, "b")
    eid = deliver(store, a, 1)
    cache = RecordCache(store)
    synced(cache, store, a)
    kept = cache.email(a, eid)
    deliver(store, b, 2)
    synced(cache, store, a)
    assert cache.email(a, eid) is kept


def test_compacted_history_and_deleted_accounts_drop_the_records(store: Store) -> None:
    acct = acct_of(store, "a")
    eid = deliver(store, acct, 1)
    cache = RecordCache(store)
    synced(cache, store, acct)
    kept = cache.email(acct, eid)
    store.write(Batch((UpdateEmail(acct, eid, keywords_add=("$seen",)),), now=101))
    store.write(Batch((CompactChanges(acct, 0),), now=102))
    state = store.account(acct)
    assert state is not None and state.changes_floor > 0
    synced(cache, store, acct)  # the log no longer reaches back: start over
    fresh = cache.email(acct, eid)
    assert fresh is not None and fresh is not kept and fresh.keywords == ("$seen",)
    store.write(Batch((DeletePrincipal(acct),), now=103))
    synced(cache, store, acct)
    assert cache.modseq(acct) is None and len(cache) == 0


def test_the_record_budget_is_kept(store: Store) -> None:
    acct = acct_of(store, "a")
    eids = [deliver(store, acct, n) for n in range(5)]
    cache = RecordCache(store, max_records=3)
    synced(cache, store, acct)
    for eid in eids:
        assert cache.email(acct, eid) is not None
        assert len(cache) <= 3
    assert all(cache.email(acct, eid) is not None for eid in eids)  # still served


def test_unsynced_accounts_read_the_store(store: Store) -> None:
    acct = acct_of(store, "a")
    eid = deliver(store, acct, 1)
    cache = RecordCache(store)
    assert cache.email(acct, eid) is not None
    assert len(cache) == 0


def test_the_mailbox_view_reads_through_the_shared_cache(store: Store) -> None:
    acct = acct_of(store, "a")
    eids = [deliver(store, acct, n, ("$seen",) if n == 1 else ()) for n in range(3)]
    mbox = inbox_of(store, acct)
    cache = RecordCache(store)
    one = SelectedMailbox(store, acct, mbox, read_only=False, records=cache)
    two = SelectedMailbox(store, acct, mbox, read_only=False, records=cache)
    assert [e.id for _, _, e in one.rows()] == eids
    assert one.record(one.uids[0]) is two.record(two.uids[0])
    # A change made elsewhere: the next poll of either view sees it and reports it.
    store.write(Batch((UpdateEmail(acct, eids[0], keywords_add=("$flagged",)),), now=101))
    assert two.poll()
    news = two.take_news(allow_expunge=True)
    assert [(seq, email.keywords) for seq, _, email in news.flag_updates] == [(1, ("$flagged",))]
    assert one.record(one.uids[0]).keywords == ("$flagged",)  # type: ignore[union-attr]
    # An expunge: the record is gone at once, the sequence number stays until reported.
    store.write(Batch((DestroyEmail(acct, eids[2]),), now=102))
    one.poll()
    assert one.record(one.uids[2]) is None
    assert dict(one.records_for(one.uids))[one.uids[2]] is None
    assert [seq for seq, _, _ in one.rows()] == [1, 2]


def test_header_info_and_envelope_fast_paths_match_the_general_ones() -> None:
    files = sorted(require_corpus().glob("*/*.eml"))
    assert files
    for path in files:
        parsed = parse_message(path.read_bytes())
        wire = unpack(pack(parsed.to_wire()))  # as stored: tuples, not lists
        assert header_info_of_wire(wire) == header_info_of(parsed), path.name
        assert envelope_of(parsed.envelope).data == envelope_tree_bytes(parsed.envelope), path


def test_listings_are_kept_per_modseq_one_per_mailbox_and_bounded(store: Store) -> None:
    cache = RecordCache(store, max_listed_uids=5)
    first = Listing((1, 2), {1: 10, 2: 11})
    cache.keep_listing(1, 1, 7, first)
    assert cache.listing(1, 1, 7) is first
    assert cache.listing(1, 1, 8) is None, "another account state has no listing"
    newer = Listing((1, 2, 3), {1: 10, 2: 11, 3: 12})
    cache.keep_listing(1, 1, 8, newer)
    assert cache.listing(1, 1, 7) is None, "one listing per mailbox: the older one goes"
    assert cache.listing(1, 1, 8) is newer
    other = Listing((5, 6), {5: 20, 6: 21})
    cache.keep_listing(1, 2, 8, other)  # 3 + 2 UIDs: at the bound
    assert cache.listing(1, 1, 8) is newer and cache.listing(1, 2, 8) is other
    cache.keep_listing(2, 1, 3, Listing((1,), {1: 30}))  # over it: the least recent goes
    assert cache.listing(1, 1, 8) is None and cache.listing(2, 1, 3) is not None
    cache.keep_listing(2, 2, 3, Listing(tuple(range(1, 7)), {u: u for u in range(1, 7)}))
    assert cache.listing(2, 2, 3) is None, "a listing larger than the bound is not kept"


def test_compaction_landing_between_state_read_and_scan_drops_the_records(store: Store) -> None:
    """The caller read the state (floor still below the records' modseq), then the janitor
    compacted the log past it before the scan: the scan misses the change, so the records
    must be dropped rather than kept stale."""
    acct = acct_of(store, "a")
    eid = deliver(store, acct, 1)
    cache = RecordCache(store)
    synced(cache, store, acct)
    assert cache.email(acct, eid).keywords == ()  # type: ignore[union-attr]
    store.write(Batch((UpdateEmail(acct, eid, keywords_add=("$deleted",)),), now=101))
    before = store.account(acct)  # floor still low: the records look recoverable
    assert before is not None and before.changes_floor <= (cache.modseq(acct) or 0)
    store.write(Batch((CompactChanges(acct, 0),), now=102))
    cache.sync(acct, before)
    again = cache.email(acct, eid)
    assert again is not None and again.keywords == ("$deleted",)
