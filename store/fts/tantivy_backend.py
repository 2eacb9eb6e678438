"""The default full-text backend, on tantivy (Rust, via the ``tantivy`` package).

Layout and query semantics are described in :mod:`store.fts.base`.  Analysis chains:

* plain fields: ``simple`` tokenizer (splits on non-alphanumerics) → drop words over 64 chars →
  lowercase → ASCII folding (``Häuser`` → ``hauser``, ``straße`` → ``strasse``);
* stemmed fields: the same, with the language's Snowball stemmer *before* folding (stemmers know
  their own accents: German ``Häuser`` → ``haus``).

One ``IndexWriter`` lives as long as the index is open; tantivy orders deletes and adds by
opstamp, so replace-on-re-add is a delete-by-key followed by an add, even within one commit.  The
reader reloads manually right after each commit, so changes are visible exactly from
``commit()`` on.  Uncommitted changes are rolled back by ``close()``.

``Prefix`` is a ``RegexQuery`` (``word.*``) for one word and a ``RegexPhraseQuery`` for several;
tantivy's ``PhrasePrefixQuery`` would stop after 50 expansions of the last word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import tantivy

from store.fts.base import (
    MAX_WORD_CHARS,
    BaseIndex,
    cursor_key,
    doc_texts,
    email_key,
    index_is_current,
    open_or_reset,
    reset_index_dir,
    stemmed_field,
)
from store.fts.model import FIELDS, STEMMED_FIELDS, FtsDocument

__all__ = ["TantivyIndex"]

# ISO 639-1 -> tantivy stemmer name (all 18 Snowball stemmers tantivy ships).
STEMMERS: Mapping[str, str] = {
    "ar": "arabic",
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "el": "greek",
    "hu": "hungarian",
    "it": "italian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "es": "spanish",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}
SCHEMA_VERSION = 1
_META: Mapping[str, object] = {
    "backend": "tantivy",
    "schema": SCHEMA_VERSION,
    "stemmers": sorted(STEMMERS),
}
_HEAP_BYTES = 64_000_000
_FIRST_PAGE = 1024


def _analyzer(stemmer: str | None) -> tantivy.TextAnalyzer:
    b = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_WORD_CHARS + 1))
        .filter(tantivy.Filter.lowercase())
    )
    if stemmer is not None:
        b = b.filter(tantivy.Filter.stemmer(stemmer))
    return b.filter(tantivy.Filter.ascii_fold()).build()


class _Analysis:
    """The tantivy analyzers, also used on the Python side for queries and snippets.

    Snippets analyse text word by word; single words are cached (bounded) because a call into
    tantivy costs a few microseconds and mail vocabulary repeats.
    """

    stem_languages: frozenset[str] = frozenset(STEMMERS)
    _CACHE_MAX = 100_000
    _WORD_MAX = 32

    def __init__(self) -> None:
        self.plain_analyzer = _analyzer(None)
        self.stem_analyzers = {lang: _analyzer(name) for lang, name in STEMMERS.items()}
        self._cache: dict[tuple[str, str], list[str]] = {}

    def _analyze(self, analyzer: tantivy.TextAnalyzer, text: str, lang: str) -> list[str]:
        if len(text) > self._WORD_MAX:
            return list(analyzer.analyze(text))
        key = (lang, text)
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) >= self._CACHE_MAX:
                self._cache.clear()
            hit = self._cache[key] = list(analyzer.analyze(text))
        return list(hit)

    def plain(self, text: str) -> list[str]:
        return self._analyze(self.plain_analyzer, text, "")

    def stem(self, text: str, lang: str) -> list[str]:
        analyzer = self.stem_analyzers.get(lang)
        if analyzer is None:
            return self.plain(text)
        return self._analyze(analyzer, text, lang)


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("key", tokenizer_name="raw")
    sb.add_text_field("kind", tokenizer_name="raw")
    sb.add_text_field("account", stored=True, tokenizer_name="raw")
    sb.add_unsigned_field("email", fast=True)
    sb.add_unsigned_field("cursor", stored=True)
    sb.add_text_field("lang", stored=True, tokenizer_name="raw")
    for field in FIELDS:
        sb.add_text_field(
            field,
            stored=field in ("subject", "body"),
            tokenizer_name="plain",
            index_option="position",
        )
    for field in STEMMED_FIELDS:
        for lang in STEMMERS:
            sb.add_text_field(
                stemmed_field(field, lang), tokenizer_name=f"stem_{lang}", index_option="freq"
            )
    return sb.build()


def _regex_escape(term: str) -> str:
    """Escape a term for tantivy's (Rust) regex syntax; analysed terms are alphanumeric anyway."""
    return "".join(ch if ch.isalnum() else "\\" + ch for ch in term)


class _Builder:
    def __init__(self, schema: tantivy.Schema) -> None:
        self._schema = schema
        self._all = tantivy.Query.all_query()
        self._none = tantivy.Query.empty_query()

    def term(self, field: str, term: str) -> tantivy.Query:
        return tantivy.Query.term_query(self._schema, field, term, index_option="freq")

    def phrase(self, field: str, terms: Sequence[str]) -> tantivy.Query:
        return tantivy.Query.phrase_query(self._schema, field, list(terms))

    def prefix(self, field: str, terms: Sequence[str]) -> tantivy.Query:
        last = _regex_escape(terms[-1]) + ".*"
        if len(terms) == 1:
            return tantivy.Query.regex_query(self._schema, field, last)
        words: list[str | tuple[int, str]] = [_regex_escape(t) for t in terms[:-1]]
        words.append(last)
        return tantivy.Query.regex_phrase_query(self._schema, field, words)

    def all(self) -> tantivy.Query:
        return self._all

    def none(self) -> tantivy.Query:
        return self._none

    def and_(self, queries: Sequence[tantivy.Query]) -> tantivy.Query:
        if not queries:
            return self._all
        if len(queries) == 1:
            return queries[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in queries])

    def or_(self, queries: Sequence[tantivy.Query]) -> tantivy.Query:
        if not queries:
            return self._none
        if len(queries) == 1:
            return queries[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])

    def not_(self, query: tantivy.Query) -> tantivy.Query:
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, self._all), (tantivy.Occur.MustNot, query)]
        )


class TantivyIndex(BaseIndex[tantivy.Query]):
    """:class:`store.fts.model.FtsIndex` on tantivy."""

    def __init__(
        self, path: Path, *, default_language: str = "en", detect_language: bool = True
    ) -> None:
        super().__init__(path, default_language, detect_language)
        self._analysis = _Analysis()
        self._schema = _schema()
        self._builder = _Builder(self._schema)
        # tantivy reports damaged files (meta.json, a segment's footer) as ValueError.
        self._index = open_or_reset(path, _META, lambda: self._open(path), (ValueError, OSError))
        self._writer: Any = self._index.writer(heap_size=_HEAP_BYTES)

    # --- opening

    def _open(self, path: Path) -> tantivy.Index:
        p = str(path)
        reuse = (
            index_is_current(path, _META)
            and tantivy.Index.exists(p)
            and tantivy.Index.is_compatible(p)
        )
        if not reuse:
            reset_index_dir(path, _META)
        index = tantivy.Index(self._schema, path=str(path), reuse=True)
        index.register_tokenizer("plain", self._analysis.plain_analyzer)
        for lang, analyzer in self._analysis.stem_analyzers.items():
            index.register_tokenizer(f"stem_{lang}", analyzer)
        index.config_reader(reload_policy="Manual")
        index.reload()
        self._index = index
        self._langs = self._read_languages()
        return index

    # --- hooks

    @property
    def analyzer(self) -> _Analysis:
        return self._analysis

    @property
    def builder(self) -> _Builder:
        return self._builder

    def _read_languages(self) -> frozenset[str]:
        return frozenset(term for term, _ in self._index.searcher().terms_with_prefix("lang", ""))

    def _languages(self) -> frozenset[str]:
        return self._langs

    def _hits(self, query: tantivy.Query, limit: int | None) -> tuple[Any, list[Any]]:
        searcher: Any = self._index.searcher()
        first = _FIRST_PAGE if limit is None else limit
        result = searcher.search(query, limit=first, count=limit is None)
        hits = result.hits
        if limit is None and result.count > len(hits):
            hits = searcher.search(query, limit=result.count, count=False).hits
        return searcher, [address for _, address in hits]

    def _run(self, query: tantivy.Query, limit: int | None) -> set[int]:
        searcher, addresses = self._hits(query, limit)
        if not addresses:
            return set()
        return {int(v) for v in searcher.fast_field_values("email", addresses) if v is not None}

    def _stored(self, account_id: int, email_id: int) -> tuple[str, str, str] | None:
        q = self._builder.term("key", email_key(account_id, email_id))
        searcher, addresses = self._hits(q, 1)
        if not addresses:
            return None
        doc = searcher.doc(addresses[0])
        return (
            doc.get_first("subject") or "",
            doc.get_first("body") or "",
            doc.get_first("lang") or "",
        )

    def _committed_cursor(self, account_id: int) -> int | None:
        searcher, addresses = self._hits(self._builder.term("key", cursor_key(account_id)), 1)
        if not addresses:
            return None
        value = searcher.doc(addresses[0]).get_first("cursor")
        return int(value) if value is not None else None

    def _stage_cursor(self, account_id: int, value: int) -> None:
        key = cursor_key(account_id)
        self._writer.delete_documents_by_term("key", key)
        doc = tantivy.Document()
        doc.add_text("key", key)
        doc.add_text("kind", "c")
        doc.add_text("account", str(account_id))
        doc.add_unsigned("cursor", value)
        self._writer.add_document(doc)

    def _commit(self) -> None:
        self._writer.commit()
        self._index.reload()
        self._langs = self._read_languages()

    def _remove_account(self, account_id: int) -> None:
        self._writer.delete_documents_by_term("account", str(account_id))

    # --- FtsIndex

    def add(self, docs: Sequence[FtsDocument]) -> None:
        writer = self._writer
        for d in docs:
            if d.account_id < 0 or d.email_id < 0:
                raise ValueError(f"negative id in {d.account_id}:{d.email_id}")
            key = email_key(d.account_id, d.email_id)
            lang = self.language_of(d)
            text = doc_texts(d)
            doc = tantivy.Document()
            doc.add_text("key", key)
            doc.add_text("kind", "e")
            doc.add_text("account", str(d.account_id))
            doc.add_unsigned("email", d.email_id)
            doc.add_text("lang", lang)
            stem = lang in STEMMERS
            for field in FIELDS:
                value = text(field)
                if not value:
                    continue
                doc.add_text(field, value)
                if stem and field in STEMMED_FIELDS:
                    doc.add_text(stemmed_field(field, lang), value)
            writer.delete_documents_by_term("key", key)
            writer.add_document(doc)

    def remove(self, account_id: int, email_ids: Iterable[int]) -> None:
        for email_id in email_ids:
            self._writer.delete_documents_by_term("key", email_key(account_id, email_id))

    def count(self) -> int:
        searcher: Any = self._index.searcher()
        result = searcher.search(self._builder.term("kind", "e"), limit=1, count=True)
        return int(result.count)

    def all_cursors(self) -> dict[int, int]:
        searcher, addresses = self._hits(self._builder.term("kind", "c"), None)
        out: dict[int, int] = {}
        for address in addresses:
            doc = searcher.doc(address)
            account, cursor = doc.get_first("account"), doc.get_first("cursor")
            if account is not None and cursor is not None:
                out[int(account)] = int(cursor)
        return out

    def clear(self) -> None:
        self._writer.rollback()
        self._writer.delete_all_documents()
        self._writer.commit()
        self._index.reload()
        self._pending_cursors.clear()
        self._langs = self._read_languages()

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.rollback()
        self._writer.wait_merging_threads()
        self._writer = None
        self._pending_cursors.clear()
