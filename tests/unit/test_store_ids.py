"""Public id strings: parse_object_id accepts exactly what object_id writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocols.jmap.mail.query_cache import EmailIds
from store.ids import object_id, parse_object_id


@given(st.sampled_from(["email", "thread", "mailbox", "account", "object"]), st.integers(0, 10**9))
def test_round_trip(kind: str, number: int) -> None:
    assert parse_object_id(kind, object_id(kind, number)) == number


def test_only_the_written_form_is_an_id() -> None:
    for text in ("e0123", "e00", "e١٢٣", "e", "e-1", "e+1", "e 1", "m12", "e1x", "e" + "9" * 12):
        assert parse_object_id("email", text) is None, text
    assert parse_object_id("email", "e0") == 0


def test_query_result_ids_find_only_canonical_anchors() -> None:
    ids = EmailIds((7, 123, 5))
    assert list(ids) == ["e7", "e123", "e5"] and ids[1] == "e123" and ids[1:] == ["e123", "e5"]
    assert ids.index("e123") == 1
    for missing in ("e0123", "e9", "m123", "x"):
        try:
            ids.index(missing)
        except ValueError:
            continue
        raise AssertionError(f"{missing!r} was found")
