"""Large text parts cost the indexer bounded memory: quoted-printable is decoded (RFC 2045 §6.7)
and the substring index's text case-folded a block at a time, with exactly the result of doing
the whole part at once."""

from __future__ import annotations

import quopri
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.mime import codec, parse_message, searchtext
from protocols.mime.searchtext import fold, search_text

# Octets that make quoted-printable interesting: escapes (valid, lower-case, broken), soft
# breaks with and without trailing whitespace, every kind of line end.
QP_PIECES = ["=41", "=c3=a9", "=C3=", "=", "=\r\n", "= \t\n", "=\r", " ", "\t", "\r\n", "\n", "\r"]
qp_text = st.lists(
    st.one_of(st.sampled_from(QP_PIECES), st.text("ab= \t", max_size=3)), max_size=60
).map(lambda parts: "".join(parts).encode())


@settings(max_examples=150, deadline=None)
@given(qp_text, st.integers(1, 12))
def test_quoted_printable_decodes_the_same_block_by_block(data: bytes, block: int) -> None:
    """RFC 2045 §6.7 decoding in blocks that end after an LF equals decoding at once: no
    escape, soft line break or trailing whitespace is cut between two blocks."""
    whole = codec._QP_TOKEN.sub(codec._qp_token, data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codec, "_QP_BLOCK", block)
        assert codec.decode_qp(data) == whole


@settings(max_examples=150, deadline=None)
@given(st.text("aAßẞΣσςİıﬁŉǰΐẞ\u0345Kk中 é", max_size=40), st.integers(1, 7))
def test_case_folding_by_slices_equals_casefold(text: str, size: int) -> None:
    """Folding per slice equals ``str.casefold`` of the whole (full case folding maps each
    character on its own: ß -> ss, ﬁ -> fi, final ς -> σ)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(searchtext, "_FOLD_SLICE", size)
        assert fold(text) == text.casefold()


def test_a_large_part_is_indexed_in_bounded_memory() -> None:
    """The substring pieces of an 8 MB quoted-printable, non-ASCII text part take a few times
    the part in memory while they are made (24 MB; whole-part decoding and folding took 30
    times: 242 MB), and hold its text exactly."""
    line = "Grüße aus Köln, schöne Straße — " * 3 + "\n"
    body = quopri.encodestring(line.encode() * 40_000).replace(b"\n", b"\r\n")
    raw = (
        b"Subject: big\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + body
    )
    parsed = parse_message(raw)
    tracemalloc.start()
    try:
        text = search_text(raw, parsed)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert text.body == ((line * 40_000).replace("\n", "\r\n").casefold(),)
    assert peak < 5 * len(raw), (peak, len(raw))
