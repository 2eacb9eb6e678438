"""IMAP SEARCH TEXT / BODY substring semantics (RFC 3501 §6.4.4 / RFC 9051 §6.4.4: messages
that "contain the specified string"), property-tested against a brute-force reference.

Messages are built and decoded by the standard library's ``email`` package, independently of
our parser and decoders: the reference is "the needle, case-folded, is a substring of one of
the message's decoded texts (the header lines, or one text part)".  Ours goes the real way:
``protocols.mime`` parses and decodes, :mod:`protocols.mime.searchtext` cuts the pieces, and
:class:`store.fts.substring.SubstringIndex` (SQLite) answers.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.mime import parse_message
from protocols.mime.searchtext import search_text
from store.fts.substring import SubstringIndex

# Letters that fold interestingly (ß -> ss, K/k, Σ/σ/ς), accents, Cyrillic, CJK, spaces and
# punctuation, so that needles hold all of these.
ALPHABET = "abcxyzABCXYZ0123 ,.;:-_!?'\"()ßéÉçÇøΣσςКкд中文€\t"
words = st.text(alphabet=ALPHABET, min_size=0, max_size=40)
CTES = ["7bit", "8bit", "quoted-printable", "base64"]


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "alice@example.org"
    msg["Subject"] = draw(words).replace("\t", " ").strip() or "s"
    parts = draw(
        st.lists(st.tuples(words, st.sampled_from(CTES), st.booleans()), min_size=1, max_size=3)
    )

    def fill(target: EmailMessage, text: str, cte: str, latin1: bool) -> None:
        charset = "iso-8859-1" if latin1 and _latin1(text) else "utf-8"
        if cte == "7bit" and not text.isascii():
            cte = "quoted-printable"
        target.set_content(text, charset=charset, cte=cte)

    if len(parts) == 1:
        fill(msg, *parts[0])
    else:
        msg.set_content("first")
        msg.make_mixed()
        msg.get_payload().clear()  # type: ignore[union-attr]
        for text, cte, latin1 in parts:
            sub = EmailMessage(policy=email.policy.SMTP)
            fill(sub, text, cte, latin1)
            msg.attach(sub)
        msg.set_boundary("=-=-boundary-=-=")  # not random: hypothesis replays examples
    return msg.as_bytes()


def _latin1(text: str) -> bool:
    try:
        text.encode("iso-8859-1")
    except UnicodeEncodeError:
        return False
    return True


def reference_pieces(raw: bytes) -> tuple[str, list[str]]:
    """(header text, body texts), case-folded, decoded by the standard library."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    header = "\n".join(f"{k}: {v}" for k, v in msg.items())
    bodies = [
        part.get_content()  # type: ignore[attr-defined]
        for part in msg.walk()
        if not part.is_multipart() and part.get_content_maintype() == "text"
    ]
    return header.casefold(), [b.casefold() for b in bodies]


def reference(raws: list[bytes], needle: str, *, body_only: bool) -> set[int]:
    folded = needle.casefold()
    out = set()
    for n, raw in enumerate(raws):
        header, bodies = reference_pieces(raw)
        pieces = bodies if body_only else [header, *bodies]
        if any(folded in p for p in pieces):
            out.add(n)
    return out


@pytest.fixture
def index(tmp_path: Path) -> SubstringIndex:
    return SubstringIndex(tmp_path / "substring.sqlite")


@settings(
    max_examples=35, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(messages(), min_size=1, max_size=4), st.data())
def test_substring_search_equals_the_brute_force_reference(
    index: SubstringIndex, raws: list[bytes], data: st.DataObject
) -> None:
    """For random messages and needles — substrings of their decoded texts (some spanning two
    parts, which must not match unless the reference finds them elsewhere), and random
    strings with spaces, punctuation and non-ASCII — TEXT and BODY answer exactly what the
    reference answers."""
    index.clear()
    for n, raw in enumerate(raws):
        text = search_text(raw, parse_message(raw))
        index.add(7, n, text.header, text.body)
    index.add(8, 0, "needle everywhere", ["needle everywhere"])  # another account: never seen
    index.commit()  # searches read the last commit
    joined = "\x00".join(
        p for raw in raws for p in [*reference_pieces(raw)[1], reference_pieces(raw)[0]]
    )
    for _ in range(6):
        start = data.draw(st.integers(0, max(0, len(joined) - 1)))
        length = data.draw(st.integers(1, 12))
        needle = joined[start : start + length].replace(
            "\x00", data.draw(st.sampled_from(["", " "]))
        )
        if data.draw(st.booleans()):
            needle = needle.upper()
        if not needle:
            needle = data.draw(words) or "x"
        for body_only in (False, True):
            got = index.search(7, needle, body_only=body_only)
            want = reference(raws, needle, body_only=body_only)
            assert got == want, (needle, body_only, raws)
    assert index.search(7, "needle everywhere", body_only=False) <= reference(
        raws, "needle everywhere", body_only=False
    )
