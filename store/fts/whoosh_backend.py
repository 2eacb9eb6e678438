"""The pure-Python full-text backend, on whoosh 2.7.

Same layout and query semantics as the tantivy backend (see :mod:`store.fts.base`), with
whoosh's analysis: ``[^\\W_]+`` tokens → lowercase → drop words over 64 chars → (Snowball stemmer
from ``whoosh.lang``) → Latin accent folding.  whoosh stems 14 languages (its Arabic stemmer
fails on Python 3.11 and it has none for Turkish, Greek or Tamil); other languages are
matched exactly only.

whoosh cannot delete a document added by the same, still open writer, so changes are buffered
in Python and applied in one writer at ``commit()``: account deletions, then key deletions (both
only ever concern committed documents), then the surviving adds.  The buffer keeps the caller's
order meaningful: a remove after an add drops the pending add.  It is much slower than tantivy
(measured with ``python -m store.fts.bench`` on 4 KB documents: ≈40 docs/s against ≈1,000, and
2–30 ms per query against 0.2–9 ms); it exists for platforms without the tantivy wheel.
"""

from __future__ import annotations

import threading
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # whoosh 2.7.4 has invalid escape sequences in its sources (SyntaxWarning on 3.11).
    warnings.simplefilter("ignore")
    from whoosh import fields as wf
    from whoosh import index as wi
    from whoosh import query as wq
    from whoosh.analysis import Analyzer, Filter, RegexTokenizer
    from whoosh.lang import stemmer_for_language

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

__all__ = ["WhooshIndex"]

STEM_LANGUAGES: frozenset[str] = frozenset(
    {"da", "nl", "en", "fi", "fr", "de", "hu", "it", "no", "pt", "ro", "ru", "es", "sv"}
)
SCHEMA_VERSION = 2
_META: Mapping[str, object] = {"backend": "whoosh", "schema": SCHEMA_VERSION}
_SPECIAL_FOLDS: Mapping[str, str] = {
    "ß": "ss",
    "ẞ": "ss",
    "æ": "ae",
    "Æ": "ae",
    "œ": "oe",
    "Œ": "oe",
    "ø": "o",
    "Ø": "o",
    "đ": "d",
    "ð": "d",
    "ł": "l",
    "þ": "th",
    "ı": "i",
}
_FOLD_CACHE: dict[str, str] = {}


def fold(text: str) -> str:
    """Fold Latin letters with diacritics to ASCII (``é`` → ``e``); other scripts unchanged."""
    if text.isascii():
        return text
    out: list[str] = []
    for ch in text:
        folded = _FOLD_CACHE.get(ch)
        if folded is None:
            folded = _SPECIAL_FOLDS.get(ch)
            if folded is None:
                cp = ord(ch)
                if cp < 0x0250 or 0x1E00 <= cp <= 0x1EFF:  # Latin blocks
                    decomposed = unicodedata.normalize("NFKD", ch)
                    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
                else:
                    folded = ch
            _FOLD_CACHE[ch] = folded
        out.append(folded)
    return "".join(out)


class NormalizeFilter(Filter):  # type: ignore[misc]
    """Lowercase, drop words over 64 characters, stem (optionally), fold accents — in one pass.

    One filter instead of a chain of four saves most of whoosh's per-token generator overhead.
    Dropped words keep their position gap (like tantivy's ``RemoveLongFilter``).
    """

    def __init__(self, lang: str | None = None) -> None:
        self.lang = lang
        self._stem: Any = stemmer_for_language(lang) if lang is not None else None
        self._cache: dict[str, str] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NormalizeFilter) and other.lang == self.lang

    def __hash__(self) -> int:
        return hash(("NormalizeFilter", self.lang))

    def __getstate__(self) -> dict[str, Any]:
        return {"lang": self.lang}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["lang"])  # type: ignore[misc]

    def __call__(self, tokens: Iterable[Any]) -> Iterator[Any]:
        cache, stem = self._cache, self._stem
        for t in tokens:
            raw = t.text
            out = cache.get(raw)
            if out is None:
                word = raw.lower()
                if len(word) > MAX_WORD_CHARS:
                    out = ""
                else:
                    out = fold(stem(word) if stem is not None else word)
                if len(cache) < 200_000:
                    cache[raw] = out
            if out:
                t.text = out
                yield t


def _chain(lang: str | None) -> Analyzer:
    return RegexTokenizer(r"[^\W_]+") | NormalizeFilter(lang)


class _Analysis:
    stem_languages: frozenset[str] = STEM_LANGUAGES

    def __init__(self) -> None:
        self.plain_chain = _chain(None)
        self.stem_chains = {lang: _chain(lang) for lang in sorted(STEM_LANGUAGES)}

    def plain(self, text: str) -> list[str]:
        return [t.text for t in self.plain_chain(text)]

    def stem(self, text: str, lang: str) -> list[str]:
        chain = self.stem_chains.get(lang, self.plain_chain)
        return [t.text for t in chain(text)]


def _schema(analysis: _Analysis) -> wf.Schema:
    spec: dict[str, Any] = {
        "key": wf.ID(unique=True),
        "kind": wf.ID(),
        "account": wf.ID(stored=True),
        "email": wf.NUMERIC(int, bits=64, signed=False, stored=True, sortable=True),
        "cursor": wf.NUMERIC(int, bits=64, signed=False, stored=True),
        "lang": wf.ID(stored=True),
    }
    for field in FIELDS:
        spec[field] = wf.TEXT(
            analyzer=analysis.plain_chain, phrase=True, stored=field in ("subject", "body")
        )
    for field in STEMMED_FIELDS:
        for lang, chain in analysis.stem_chains.items():
            spec[stemmed_field(field, lang)] = wf.TEXT(analyzer=chain, phrase=False)
    return wf.Schema(**spec)


class _Builder:
    def term(self, field: str, term: str) -> wq.Query:
        return wq.Term(field, term)

    def phrase(self, field: str, terms: Sequence[str]) -> wq.Query:
        return wq.Phrase(field, list(terms))

    def prefix(self, field: str, terms: Sequence[str]) -> wq.Query:
        last = wq.Prefix(field, terms[-1])
        if len(terms) == 1:
            return last
        return wq.Sequence([wq.Term(field, t) for t in terms[:-1]] + [last])

    def all(self) -> wq.Query:
        return wq.Every()

    def none(self) -> wq.Query:
        return wq.NullQuery

    def and_(self, queries: Sequence[wq.Query]) -> wq.Query:
        if not queries:
            return wq.Every()
        return queries[0] if len(queries) == 1 else wq.And(list(queries))

    def or_(self, queries: Sequence[wq.Query]) -> wq.Query:
        if not queries:
            return wq.NullQuery
        return queries[0] if len(queries) == 1 else wq.Or(list(queries))

    def not_(self, query: wq.Query) -> wq.Query:
        return wq.Not(query)


class WhooshIndex(BaseIndex[wq.Query]):
    """:class:`store.fts.model.FtsIndex` on whoosh."""

    def __init__(
        self, path: Path, *, default_language: str = "en", detect_language: bool = True
    ) -> None:
        super().__init__(path, default_language, detect_language)
        self._analysis = _Analysis()
        self._builder = _Builder()
        # Readers may run on other threads than the (single) writer; whoosh searchers are not
        # thread-safe, so every use of the searcher, and its swap after a commit, is locked.
        self._lock = threading.Lock()
        # Damaged files surface as anything from OSError to IndexError or struct.error.
        self._index = open_or_reset(path, _META, lambda: self._open(path), (Exception,))
        self._reset_pending()

    def _reset_pending(self) -> None:
        self._del_accounts: set[str] = set()
        self._del_keys: set[str] = set()
        self._adds: dict[str, dict[str, Any]] = {}

    # --- opening

    def _open(self, path: Path) -> Any:
        """The index, its searcher and the languages it holds (reading them checks it)."""
        if index_is_current(path, _META) and wi.exists_in(str(path)):
            index = wi.open_dir(str(path))
        else:
            index = self._create(path)
        self._searcher: Any = index.searcher()
        self._langs = self._read_languages()
        return index

    def _create(self, path: Path) -> Any:
        reset_index_dir(path, _META)
        return wi.create_in(str(path), _schema(self._analysis))

    # --- hooks

    @property
    def analyzer(self) -> _Analysis:
        return self._analysis

    @property
    def builder(self) -> _Builder:
        return self._builder

    def _read_languages(self) -> frozenset[str]:
        return frozenset(t.decode() for t in self._searcher.lexicon("lang"))

    def _languages(self) -> frozenset[str]:
        return self._langs

    def _docnums(self, query: wq.Query, limit: int | None) -> list[int]:
        # Caller holds self._lock.
        if limit is None:
            return list(self._searcher.docs_for_query(query))
        return [hit.docnum for hit in self._searcher.search(query, limit=limit)]

    def _run(self, query: wq.Query, limit: int | None) -> set[int]:
        with self._lock:
            docnums = self._docnums(query, limit)
            if not docnums:
                return set()
            column = self._searcher.reader().column_reader("email")
            return {int(column[n]) for n in docnums}

    def _stored(self, account_id: int, email_id: int) -> tuple[str, str, str] | None:
        with self._lock:
            fields = self._searcher.document(key=email_key(account_id, email_id))
        if fields is None:
            return None
        return fields.get("subject", ""), fields.get("body", ""), fields.get("lang", "")

    def _committed_cursor(self, account_id: int) -> int | None:
        with self._lock:
            fields = self._searcher.document(key=cursor_key(account_id))
        return None if fields is None else int(fields["cursor"])

    def _stage_cursor(self, account_id: int, value: int) -> None:
        key = cursor_key(account_id)
        self._del_keys.add(key)
        self._adds[key] = {"key": key, "kind": "c", "account": str(account_id), "cursor": value}

    def _commit(self) -> None:
        if not (self._del_accounts or self._del_keys or self._adds):
            return
        writer = self._index.writer(limitmb=128)
        try:
            for account in sorted(self._del_accounts):
                writer.delete_by_term("account", account)
            for key in sorted(self._del_keys):
                writer.delete_by_term("key", key)
            for fields in self._adds.values():
                writer.add_document(**fields)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        self._reset_pending()
        self._refresh()

    def _refresh(self) -> None:
        searcher = self._index.searcher()
        with self._lock:
            old, self._searcher = self._searcher, searcher
            self._langs = self._read_languages()
        old.close()

    def _remove_account(self, account_id: int) -> None:
        account = str(account_id)
        self._del_accounts.add(account)
        for key in [k for k, f in self._adds.items() if f["account"] == account]:
            del self._adds[key]

    # --- FtsIndex

    def add(self, docs: Sequence[FtsDocument]) -> None:
        for d in docs:
            if d.account_id < 0 or d.email_id < 0:
                raise ValueError(f"negative id in {d.account_id}:{d.email_id}")
            key = email_key(d.account_id, d.email_id)
            lang = self.language_of(d)
            text = doc_texts(d)
            fields: dict[str, Any] = {
                "key": key,
                "kind": "e",
                "account": str(d.account_id),
                "email": d.email_id,
                "lang": lang,
            }
            stem = lang in STEM_LANGUAGES
            for field in FIELDS:
                value = text(field)
                if not value:
                    continue
                fields[field] = value
                if stem and field in STEMMED_FIELDS:
                    fields[stemmed_field(field, lang)] = value
            self._del_keys.add(key)
            self._adds[key] = fields

    def remove(self, account_id: int, email_ids: Iterable[int]) -> None:
        for email_id in email_ids:
            key = email_key(account_id, email_id)
            self._adds.pop(key, None)
            self._del_keys.add(key)

    def count(self) -> int:
        with self._lock:
            return len(self._docnums(wq.Term("kind", "e"), None))

    def all_cursors(self) -> dict[int, int]:
        out: dict[int, int] = {}
        with self._lock:
            for n in self._docnums(wq.Term("kind", "c"), None):
                fields = self._searcher.stored_fields(n)
                out[int(fields["account"])] = int(fields["cursor"])
        return out

    def clear(self) -> None:
        self._reset_pending()
        self._pending_cursors.clear()
        with self._lock:
            self._searcher.close()
            self._index.close()
            self._index = self._create(self.path)
            self._searcher = self._index.searcher()
            self._langs = self._read_languages()

    def close(self) -> None:
        self._reset_pending()
        self._pending_cursors.clear()
        with self._lock:
            self._searcher.close()
            self._index.close()
