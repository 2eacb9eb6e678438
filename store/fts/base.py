"""What both backends share: language choice, query compilation, cursors and snippets.

A backend provides an :class:`Analyzer` (its own tokenizer chain, so that queries and snippets
see exactly the terms it indexed), a :class:`Builder` that turns primitive queries into its
native query objects, and a handful of storage hooks.  Everything else lives here once.

Index layout, identical in both backends (field names are index fields, not query fields):

* ``key`` (exact): ``e:<account>:<email>`` for an email, ``c:<account>`` for a cursor record;
  replacing or deleting one email is a delete-by-term on it.
* ``kind`` (exact): ``e`` (email) or ``c`` (cursor).  Cursors are ordinary documents of the
  index, which is what makes them commit atomically with the emails they describe.
* ``account`` (exact/integer): every search is restricted to one account by a MUST clause on it,
  so no query shape can reach another account's documents.
* ``email``, ``cursor`` (integers); ``lang`` (exact, stored): the language the email was
  stemmed in.
* one **plain** field per logical field (``from`` ... ``headers``): words lower-cased and
  accent-folded, with positions — exact words, phrases and prefixes are answered here.
* one **stemmed** field per (stemmed logical field, language): ``body_de``, ``subject_fr``, ...
  An email fills only the variants of its own language.  A ``Text`` word is looked up as
  ``plain:word OR body_en:stem_en(word) OR body_de:stem_de(word) ...`` over the languages
  present in the index, so each language's stemmer applies only to text of that language and the
  searcher needs not know the query's language.
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from store.errors import ErrorKind, MailError
from store.fts.lang import detect_language, normalize_language
from store.fts.model import (
    FIELDS,
    STEMMED_FIELDS,
    And,
    FtsDocument,
    Not,
    Or,
    Phrase,
    Prefix,
    Query,
    Text,
)

Q = TypeVar("Q")
T = TypeVar("T")

log = logging.getLogger(__name__)

# RFC 8621 §5.1: the preview "MUST NOT be more than 255 octets in size" — we cap the text
# (before escaping and <mark> tags) at that many UTF-8 octets.
PREVIEW_MAX_OCTETS = 255
# Text used to detect a document's language when none is given.
_DETECT_CHARS = 4096
# Longest word indexed (longer tokens are dropped, as tantivy's RemoveLongFilter does).
MAX_WORD_CHARS = 64
_WORD_RE = re.compile(r"[^\W_]+")


META_FILE = "stalwart-fts.json"


def index_is_current(path: Path, expected: Mapping[str, object]) -> bool:
    """Whether ``path`` holds an index written with exactly ``expected`` metadata."""
    try:
        return bool(json.loads((path / META_FILE).read_text()) == dict(expected))
    except (OSError, ValueError):
        return False


def reset_index_dir(path: Path, meta: Mapping[str, object]) -> None:
    """Empty ``path`` and stamp it with ``meta`` — only if it is empty or one of our indexes.

    The index is derived data, so an index of another backend or schema version is simply
    wiped (its cursors go with it and the indexer rebuilds it).  A directory holding anything
    else is refused rather than deleted: it is most likely a configuration mistake.
    """
    path.mkdir(parents=True, exist_ok=True)
    children = list(path.iterdir())
    if children and not (path / META_FILE).exists():
        raise MailError(
            ErrorKind.INVALID, f"{path} is not empty and not a full-text index; refusing to wipe it"
        )
    for child in children:
        if child.name != META_FILE:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    (path / META_FILE).write_text(json.dumps(dict(meta)))


def open_or_reset(
    path: Path,
    meta: Mapping[str, object],
    open_index: Callable[[], T],
    unreadable: tuple[type[Exception], ...],
) -> T:
    """``open_index()``; if it fails with one of ``unreadable`` (corrupt or truncated files),
    the index is wiped and opened again, empty, with a warning.  It is derived data: its
    cursors go with it, so the indexer rebuilds it from the store, as for a missing index."""
    try:
        return open_index()
    except MailError:  # not an index of ours: refused, never wiped
        raise
    except unreadable as err:
        log.warning(
            "full-text index %s is unreadable (%s): dropping it, it is rebuilt from the store",
            path,
            str(err)[:200],
        )
        reset_index_dir(path, meta)
        return open_index()


def email_key(account_id: int, email_id: int) -> str:
    return f"e:{account_id}:{email_id}"


def cursor_key(account_id: int) -> str:
    return f"c:{account_id}"


def stemmed_field(field: str, lang: str) -> str:
    return f"{field}_{lang}"


class Analyzer(Protocol):
    """A backend's text analysis, used for queries and snippets alike."""

    stem_languages: frozenset[str]

    def plain(self, text: str) -> list[str]:
        """Lower-cased, accent-folded words of ``text`` (the plain fields' terms)."""
        ...

    def stem(self, text: str, lang: str) -> list[str]:
        """Terms of ``text`` in the stemmed field of ``lang`` (aligned with :meth:`plain`)."""
        ...


class Builder(Protocol, Generic[Q]):
    """Native query constructors of one backend."""

    def term(self, field: str, term: str) -> Q: ...

    def phrase(self, field: str, terms: Sequence[str]) -> Q: ...

    def prefix(self, field: str, terms: Sequence[str]) -> Q: ...

    def all(self) -> Q: ...

    def none(self) -> Q: ...

    def and_(self, queries: Sequence[Q]) -> Q: ...

    def or_(self, queries: Sequence[Q]) -> Q: ...

    def not_(self, query: Q) -> Q: ...


def _fields(field: str) -> tuple[str, ...]:
    return tuple(FIELDS) if field == "text" else (field,)


def compile_query(
    query: Query, builder: Builder[Q], analyzer: Analyzer, languages: Iterable[str]
) -> Q:
    """Translate the AST into ``builder``'s queries; ``languages`` are those in the index."""
    langs = sorted(set(languages) & analyzer.stem_languages)

    def text(node: Text) -> Q:
        words = analyzer.plain(node.text)
        if not words:
            return builder.none()
        stems = {lang: analyzer.stem(node.text, lang) for lang in langs}
        per_word: list[Q] = []
        for i, word in enumerate(words):
            alternatives: list[Q] = []
            for field in _fields(node.field):
                alternatives.append(builder.term(field, word))
                if field not in STEMMED_FIELDS:
                    continue
                for lang, terms in stems.items():
                    if len(terms) == len(words):
                        alternatives.append(builder.term(stemmed_field(field, lang), terms[i]))
            per_word.append(builder.or_(alternatives))
        return builder.and_(per_word)

    def walk(node: Query) -> Q:
        if isinstance(node, Text):
            return text(node)
        if isinstance(node, Phrase | Prefix):
            words = analyzer.plain(node.text)
            if not words:
                return builder.none()
            fields = _fields(node.field)
            if isinstance(node, Prefix):
                return builder.or_([builder.prefix(f, words) for f in fields])
            if len(words) == 1:
                return builder.or_([builder.term(f, words[0]) for f in fields])
            return builder.or_([builder.phrase(f, words) for f in fields])
        if isinstance(node, And):
            return builder.and_([walk(q) for q in node.queries])
        if isinstance(node, Or):
            return builder.or_([walk(q) for q in node.queries])
        if isinstance(node, Not):
            return builder.not_(walk(node.query))
        raise TypeError(f"not a full-text query: {node!r}")

    return walk(query)


# --------------------------------------------------------------------------- snippets


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A run of terms to highlight: exact words, the last one possibly a prefix."""

    words: tuple[str, ...]
    last_is_prefix: bool


def _patterns(
    query: Query, field: str, analyzer: Analyzer
) -> tuple[set[str], list[str], list[_Pattern]]:
    """What made ``query`` match in ``field`` (Not branches skipped): the plain words and raw
    texts of ``Text`` leaves, and the word runs of ``Phrase``/``Prefix`` leaves."""
    words: set[str] = set()
    texts: list[str] = []
    runs: list[_Pattern] = []

    def walk(node: Query) -> None:
        if isinstance(node, And | Or):
            for q in node.queries:
                walk(q)
        elif isinstance(node, Not):
            return
        elif node.field in (field, "text"):
            terms = analyzer.plain(node.text)
            if not terms:
                return
            if isinstance(node, Text):
                words.update(terms)
                texts.append(node.text)
            else:
                runs.append(_Pattern(tuple(terms), isinstance(node, Prefix)))

    walk(query)
    return words, texts, runs


def highlight(
    text: str,
    query: Query,
    field: str,
    analyzer: Analyzer,
    lang: str | None,
    max_octets: int | None = None,
) -> str | None:
    """``text`` HTML-escaped with matched words in ``<mark>``, or ``None`` when nothing matched.

    With ``max_octets`` only a window of at most that many UTF-8 octets (of unescaped text),
    starting a little before the first match, is returned.
    """
    words, texts, runs = _patterns(query, field, analyzer)
    if not words and not runs:
        return None
    stem_lang = lang if lang in analyzer.stem_languages and field in STEMMED_FIELDS else None
    wanted_stems: set[str] = set()
    if stem_lang is not None:
        for raw_text in texts:
            wanted_stems.update(analyzer.stem(raw_text, stem_lang))

    # Scan words lazily: with a window, stop once it lies behind us.
    tokens: list[tuple[int, int, str]] = []  # (start, end, plain term)
    marked: list[bool] = []
    first: int | None = None
    cache: dict[str, tuple[list[str], list[str]]] = {}
    for m in _WORD_RE.finditer(text):
        if first is not None and max_octets is not None and m.start() > first + max_octets:
            break  # a character is at least one octet: this word is outside the window
        raw = m.group()
        hit = cache.get(raw)
        if hit is None:
            plain = analyzer.plain(raw)
            stems = analyzer.stem(raw, stem_lang) if stem_lang else plain
            hit = cache[raw] = (plain, stems if len(stems) == len(plain) else plain)
        for p, st in zip(*hit, strict=True):
            tokens.append((m.start(), m.end(), p))
            marked.append(p in words or st in wanted_stems)
            i = len(tokens) - 1
            for run in runs:
                n = len(run.words)
                if i + 1 >= n and all(
                    _run_word_matches(run, k, tokens[i - n + 1 + k][2]) for k in range(n)
                ):
                    for k in range(n):
                        marked[i - n + 1 + k] = True
            if first is None and any(marked[max(0, i - _longest(runs)) :]):
                first = next(tokens[j][0] for j in range(len(marked)) if marked[j])
    if first is None:
        return None

    spans = _merge([(t[0], t[1]) for t, hit in zip(tokens, marked, strict=True) if hit])
    start, end = 0, len(text)
    if max_octets is not None:
        start, end = _window(text, spans[0][0], max_octets)
    out: list[str] = []
    pos = start
    for lo, hi in spans:
        if hi <= start or lo >= end:
            continue
        lo, hi = max(lo, start), min(hi, end)
        out.append(html.escape(text[pos:lo], quote=False))
        out.append("<mark>" + html.escape(text[lo:hi], quote=False) + "</mark>")
        pos = hi
    out.append(html.escape(text[pos:end], quote=False))
    return "".join(out).strip()


def _longest(runs: list[_Pattern]) -> int:
    return max((len(r.words) for r in runs), default=1)


def _run_word_matches(run: _Pattern, k: int, term: str) -> bool:
    if run.last_is_prefix and k == len(run.words) - 1:
        return term.startswith(run.words[k])
    return term == run.words[k]


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _window(text: str, first_match: int, max_octets: int) -> tuple[int, int]:
    """A [start, end) slice of at most ``max_octets`` UTF-8 octets around ``first_match``."""
    # Begin up to ~40 characters before the match, at a word boundary.
    start = max(0, first_match - 40)
    if start > 0:
        space = text.find(" ", start, first_match)
        start = space + 1 if space != -1 else first_match
    budget = max_octets
    end = start
    while end < len(text):
        size = len(text[end].encode("utf-8", "surrogatepass"))
        if size > budget:
            break
        budget -= size
        end += 1
    if end < len(text):
        space = text.rfind(" ", start, end)
        if space > first_match:
            end = space
    return start, end


# --------------------------------------------------------------------------- base class


class BaseIndex(ABC, Generic[Q]):
    """The backend-independent half of :class:`store.fts.model.FtsIndex`."""

    path: Path

    def __init__(self, path: Path, default_language: str, detect_language: bool) -> None:
        self.path = path
        self._default_language = normalize_language(default_language) or "en"
        self._detect = detect_language
        self._pending_cursors: dict[int, int] = {}

    # --- hooks

    @property
    @abstractmethod
    def analyzer(self) -> Analyzer: ...

    @property
    @abstractmethod
    def builder(self) -> Builder[Q]: ...

    @abstractmethod
    def _languages(self) -> frozenset[str]:
        """Languages of the committed emails."""

    @abstractmethod
    def _run(self, query: Q, limit: int | None) -> set[int]:
        """Email ids of committed emails matching ``query`` (already account-restricted)."""

    @abstractmethod
    def _stored(self, account_id: int, email_id: int) -> tuple[str, str, str] | None:
        """``(subject, body, lang)`` of a committed email."""

    @abstractmethod
    def _committed_cursor(self, account_id: int) -> int | None: ...

    @abstractmethod
    def _stage_cursor(self, account_id: int, value: int) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _remove_account(self, account_id: int) -> None: ...

    # --- shared behaviour

    def language_of(self, doc: FtsDocument) -> str:
        """The language ``doc`` is stemmed in: given, detected, or the default."""
        lang = normalize_language(doc.language)
        if lang is None and self._detect:
            lang = detect_language(f"{doc.subject}\n{doc.body[:_DETECT_CHARS]}")
        return lang or self._default_language

    def search(self, account_id: int, query: Query, limit: int | None = None) -> set[int]:
        if limit is not None and limit <= 0:
            return set()
        b = self.builder
        compiled = compile_query(query, b, self.analyzer, self._languages())
        scoped = b.and_([b.term("account", str(account_id)), b.term("kind", "e"), compiled])
        return self._run(scoped, limit)

    def snippet(
        self, account_id: int, email_id: int, query: Query
    ) -> tuple[str | None, str | None]:
        stored = self._stored(account_id, email_id)
        if stored is None:
            return None, None
        subject, body, lang = stored
        return (
            highlight(subject, query, "subject", self.analyzer, lang),
            highlight(body, query, "body", self.analyzer, lang, PREVIEW_MAX_OCTETS),
        )

    def get_cursor(self, account_id: int) -> int:
        pending = self._pending_cursors.get(account_id)
        if pending is not None:
            return pending
        return self._committed_cursor(account_id) or 0

    def set_cursors(self, cursors: Mapping[int, int]) -> None:
        for account_id, value in cursors.items():
            if account_id < 0 or value < 0:
                raise ValueError(f"negative cursor {account_id}:{value}")
        for account_id, value in cursors.items():
            self._stage_cursor(account_id, value)
            self._pending_cursors[account_id] = value

    def remove_account(self, account_id: int) -> None:
        """Drop the account's emails and its cursor (it restarts from 0 if re-created)."""
        self._pending_cursors.pop(account_id, None)
        self._remove_account(account_id)

    def commit(self) -> None:
        self._commit()
        self._pending_cursors.clear()


def doc_texts(doc: FtsDocument) -> Callable[[str], str]:
    """Accessor for a document's logical field texts (with lone surrogates made safe)."""

    def get(field: str) -> str:
        return _safe(doc.field_text(field))

    return get


def _safe(text: str) -> str:
    """Replace lone surrogates, which neither tantivy (Rust strings) nor UTF-8 files accept."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
