"""Full-text search: a derived, per-node index of email text behind one small interface.

The index is fed from the store's change feed by :mod:`store.fts.indexer`, lags by design, is
never replicated and can be rebuilt from the store at any time (``clear()`` then re-add).  Two
backends pass the same test suite: ``tantivy`` (default, Rust, 18 stemmers) and ``whoosh`` (pure
Python).  Query semantics: :mod:`store.fts.model`; index layout and stemming strategy:
:mod:`store.fts.base`; language detection: :mod:`store.fts.lang`.
"""

from __future__ import annotations

from pathlib import Path

from store.fts.lang import detect_language
from store.fts.model import (
    ALL_FIELDS,
    FIELDS,
    And,
    FtsDocument,
    FtsIndex,
    Not,
    Or,
    Phrase,
    Prefix,
    Query,
    Text,
)

__all__ = [
    "ALL_FIELDS",
    "BACKENDS",
    "FIELDS",
    "And",
    "FtsDocument",
    "FtsIndex",
    "Not",
    "Or",
    "Phrase",
    "Prefix",
    "Query",
    "Text",
    "detect_language",
    "open_index",
]

BACKENDS: tuple[str, ...] = ("tantivy", "whoosh")


def open_index(
    backend: str,
    path: Path,
    *,
    default_language: str = "en",
    detect_language: bool = True,
) -> FtsIndex:
    """Open (creating if needed) the index of ``backend`` at ``path``.

    ``default_language`` stems documents whose language is neither given nor detected;
    ``detect_language=False`` uses it for every document without an explicit language.
    An index written by another backend or schema version, or one whose files cannot be read
    (damaged), is wiped (it is derived data; a damaged one with a warning) and its cursors
    restart from 0, so the indexer rebuilds it.
    """
    if backend == "tantivy":
        from store.fts.tantivy_backend import TantivyIndex

        return TantivyIndex(
            path, default_language=default_language, detect_language=detect_language
        )
    if backend == "whoosh":
        from store.fts.whoosh_backend import WhooshIndex

        return WhooshIndex(path, default_language=default_language, detect_language=detect_language)
    raise ValueError(f"unknown full-text backend {backend!r} (known: {', '.join(BACKENDS)})")
