"""The account index keeps mailbox members and counts up to date row by row: after any sequence
of changes they equal a recomputation from scratch."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.jmap.mail.account_index import AccountIndex, EmailRow

KEYWORDS = ("$seen", "$draft", "$flagged", "work")

rows = st.builds(
    lambda eid, tid, kws, boxes: EmailRow(eid, tid, 100, eid, frozenset(kws), boxes, b"x" * 32),
    st.integers(1, 12),
    st.integers(1, 4),
    st.sets(st.sampled_from(KEYWORDS), max_size=3),
    st.frozensets(st.integers(1, 4), max_size=3),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("put"), rows),
        st.tuples(st.just("remove"), st.integers(1, 12)),
        st.tuples(st.just("read"), st.none()),
    ),
    max_size=40,
)


def _scratch(index: AccountIndex) -> AccountIndex:
    fresh = AccountIndex(index.modseq)
    fresh.rows.update(index.rows)
    return fresh


def _expected_counts(index: AccountIndex) -> dict[int, tuple[int, int, int, int]]:
    out: dict[int, tuple[int, int, int, int]] = {}
    boxes = {m for row in index.rows.values() for m in row.mailboxes}
    for m in boxes:
        members = [r for r in index.rows.values() if m in r.mailboxes]
        unread = [r for r in members if not r.keywords & {"$seen", "$draft"}]
        out[m] = (
            len(members),
            len(unread),
            len({r.thread_id for r in members}),
            len({r.thread_id for r in unread}),
        )
    return out


@settings(max_examples=300, deadline=None)
@given(steps)
def test_incremental_counts_equal_a_recount(ops: list[tuple[str, object]]) -> None:
    index = AccountIndex(0)
    snapshots = []
    for op, arg in ops:
        if op == "put":
            assert isinstance(arg, EmailRow)
            index.put(arg)
        elif op == "remove":
            assert isinstance(arg, int)
            index.remove(arg)
        else:  # build (or read) the maintained statistics at this point
            members = index.mailbox_members()
            snapshots.append((members, {m: frozenset(v) for m, v in members.items()}))
            assert index.mailbox_counts() == _expected_counts(index)
    assert index.mailbox_counts() == _expected_counts(index)
    assert index.mailbox_counts() == _scratch(index).mailbox_counts()
    assert index.mailbox_members() == _scratch(index).mailbox_members()
    for handed_out, copy in snapshots:
        assert handed_out == copy, "a member set handed to a caller changed afterwards"
