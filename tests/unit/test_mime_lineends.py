"""Canonical CRLF line ends for stored messages (RFC 5322 §2.3), property-tested."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.mime import canonical_line_ends, has_bare_line_ends

texts = st.lists(st.sampled_from([b"a", b"Subject: x", b" ", b"\r", b"\n", b"\r\n", b"\xe9"]))


@settings(max_examples=400, deadline=None)
@given(texts)
def test_every_line_end_becomes_crlf_and_nothing_else_changes(pieces: list[bytes]) -> None:
    """RFC 5322 §2.3 "CR and LF MUST only occur together as CRLF": afterwards none is alone,
    the text between line ends is unchanged, a CR run before an LF is one line end, and the
    result is its own canonical form."""
    raw = b"".join(pieces)
    out = canonical_line_ends(raw)
    assert not has_bare_line_ends(out)
    assert re.split(rb"\r\n", out) == re.split(rb"\r*\n|\r", raw)
    assert canonical_line_ends(out) == out
    if not has_bare_line_ends(raw):
        assert out is raw


def test_binary_bodies_are_kept() -> None:
    """RFC 2045 §6.2: a binary body is not line-oriented; its CRs and LFs are data."""
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: binary\n\n"
        b"\x00\n\r\r\n--b\nContent-Type: text/plain\n\nx\ry\n--b--\n"
    )
    assert canonical_line_ends(raw) == (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n\x00\n\r\r\n--b\r\nContent-Type: text/plain"
        b"\r\n\r\nx\r\ny\r\n--b--\r\n"
    )
