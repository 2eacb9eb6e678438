"""Values of the full-text index: the document, the query AST and the backend interface.

The query AST is backend-neutral; JMAP ``Email/query`` filters (RFC 8621 §4.4.1) and IMAP
``SEARCH`` keys (RFC 3501 §6.4.4) are translated to it by their protocol layers.

Semantics shared by every backend:

* ``Text(field, text)``: ``text`` is analysed into words; *every* word must match (AND).  A word
  matches its exact (case- and accent-folded) form or, in ``subject``/``body``/``attachment``,
  any word with the same stem in the document's language.  With ``field="text"`` each word may
  match in a different field.
* ``Phrase(field, text)``: the folded words appear adjacent and in order (no stemming).
* ``Prefix(field, text)``: like ``Phrase`` but the last word is a prefix (search-as-you-type);
  a single word means "any word starting with it".
* ``And()`` matches everything, ``Or()`` nothing; ``Not(q)`` is every document of the account
  that does not match ``q``.
* A ``Text``/``Phrase``/``Prefix`` whose text holds no word (empty, punctuation only) matches
  nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias

__all__ = [
    "ALL_FIELDS",
    "FIELDS",
    "STEMMED_FIELDS",
    "And",
    "FtsDocument",
    "FtsIndex",
    "Not",
    "Or",
    "Phrase",
    "Prefix",
    "Query",
    "Text",
]

# Logical query fields -> FtsDocument attribute holding the text.
FIELDS: Mapping[str, str] = {
    "from": "from_",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
    "subject": "subject",
    "body": "body",
    "attachment": "attachments",
    "headers": "headers",
}
# Fields that also get a stemmed variant (addresses and raw headers are matched literally).
STEMMED_FIELDS: tuple[str, ...] = ("subject", "body", "attachment")
# Every accepted field name of a query leaf; "text" means all of FIELDS.
ALL_FIELDS: frozenset[str] = frozenset(FIELDS) | {"text"}


@dataclass(frozen=True, slots=True)
class FtsDocument:
    """The searchable text of one email, extracted by the indexer from the stored message."""

    account_id: int
    email_id: int
    from_: str = ""
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    attachments: str = ""  # file names and extracted text
    headers: str = ""  # all header text (IMAP SEARCH TEXT / HEADER)
    language: str | None = None  # ISO 639-1; None = detect (or the index default)

    def field_text(self, field: str) -> str:
        """The text of logical field ``field`` (a key of :data:`FIELDS`)."""
        text: str = getattr(self, FIELDS[field])
        return text


def _check_field(field: str) -> None:
    if field not in ALL_FIELDS:
        raise ValueError(f"unknown full-text field {field!r}")


@dataclass(frozen=True, slots=True)
class Text:
    """All analysed words of ``text`` occur in ``field`` (stemmed where the field is)."""

    field: str
    text: str

    def __post_init__(self) -> None:
        _check_field(self.field)


@dataclass(frozen=True, slots=True)
class Phrase:
    """The words of ``text`` occur adjacent and in order in ``field``."""

    field: str
    text: str

    def __post_init__(self) -> None:
        _check_field(self.field)


@dataclass(frozen=True, slots=True)
class Prefix:
    """Like :class:`Phrase`, with the last word matched as a word prefix."""

    field: str
    text: str

    def __post_init__(self) -> None:
        _check_field(self.field)


@dataclass(frozen=True, slots=True, init=False)
class And:
    """Every sub-query matches (``And()`` matches every document)."""

    queries: tuple[Query, ...]

    def __init__(self, *queries: Query) -> None:
        object.__setattr__(self, "queries", tuple(queries))


@dataclass(frozen=True, slots=True, init=False)
class Or:
    """At least one sub-query matches (``Or()`` matches nothing)."""

    queries: tuple[Query, ...]

    def __init__(self, *queries: Query) -> None:
        object.__setattr__(self, "queries", tuple(queries))


@dataclass(frozen=True, slots=True)
class Not:
    """Documents of the account that do not match ``query``."""

    query: Query


Query: TypeAlias = Text | Phrase | Prefix | And | Or | Not


class FtsIndex(Protocol):
    """A full-text index backend.

    Threads: the writing calls (``add``, ``remove``, ``remove_account``, ``set_cursors``,
    ``commit``, ``clear``, ``close``) must come from one thread at a time (the indexer); the reading
    calls (``search``, ``snippet``, ``count``, ``get_cursor``, ``all_cursors``) may run
    concurrently from other threads, e.g. under ``trio.to_thread.run_sync``.

    Changes (``add``, ``remove``, ``remove_account``, ``set_cursors``) become visible to
    ``search``/``snippet``/``count``/``all_cursors`` and durable only at ``commit()``, together.
    ``get_cursor`` also reflects cursors set since the last commit, so an indexer can batch several
    rounds into one commit.  ``clear()`` takes effect immediately.
    """

    path: Path

    def add(self, docs: Sequence[FtsDocument]) -> None: ...

    def remove(self, account_id: int, email_ids: Iterable[int]) -> None: ...

    def remove_account(self, account_id: int) -> None: ...

    def commit(self) -> None: ...

    def search(self, account_id: int, query: Query, limit: int | None = None) -> set[int]: ...

    def snippet(
        self, account_id: int, email_id: int, query: Query
    ) -> tuple[str | None, str | None]: ...

    def count(self) -> int: ...

    def get_cursor(self, account_id: int) -> int: ...

    def set_cursors(self, cursors: Mapping[int, int]) -> None: ...

    def all_cursors(self) -> dict[int, int]: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...
