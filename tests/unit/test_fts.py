"""The full-text index contract, run against every backend (tantivy and whoosh)."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.errors import ErrorKind, MailError
from store.fts import (
    BACKENDS,
    And,
    FtsDocument,
    FtsIndex,
    Not,
    Or,
    Phrase,
    Prefix,
    Text,
    open_index,
)
from store.fts.lang import detect_language, normalize_language
from tests.support import require_corpus


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def index(backend: str, tmp_path: Path) -> Iterator[FtsIndex]:
    ix = open_index(backend, tmp_path / "fts")
    yield ix
    ix.close()


def doc(email_id: int, *, account: int = 1, **fields: str | None) -> FtsDocument:
    return FtsDocument(account_id=account, email_id=email_id, **fields)  # type: ignore[arg-type]


def add(ix: FtsIndex, *docs: FtsDocument) -> None:
    ix.add(list(docs))
    ix.commit()


# --------------------------------------------------------------------------- fields


FIELD_ATTRS = {
    "from": "from_",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
    "subject": "subject",
    "body": "body",
    "attachment": "attachments",
    "headers": "headers",
}


def test_each_field_is_searchable_on_its_own(index: FtsIndex) -> None:
    docs = []
    for i, attr in enumerate(FIELD_ATTRS.values()):
        text: dict[str, Any] = {attr: f"common marker{i} word"}
        docs.append(dataclasses.replace(doc(i), **text))
    add(index, *docs)
    for i, field in enumerate(FIELD_ATTRS):
        assert index.search(1, Text(field, f"marker{i}")) == {i}, field
        # The word is in no other field of any document.
        for j, other in enumerate(FIELD_ATTRS):
            if j != i:
                assert index.search(1, Text(other, f"marker{i}")) == set(), (field, other)
    assert index.search(1, Text("text", "common")) == set(range(len(FIELD_ATTRS)))


def test_address_fields_match_parts_of_addresses(index: FtsIndex) -> None:
    add(
        index,
        doc(1, from_='"Alice Liddell" <alice@wonderland.example>', to="bob@example.org"),
        doc(2, from_="carol@example.org", cc="Alice <alice@other.example>"),
    )
    assert index.search(1, Text("from", "alice")) == {1}
    assert index.search(1, Text("from", "wonderland")) == {1}
    assert index.search(1, Text("cc", "alice")) == {2}
    assert index.search(1, Phrase("from", "alice@wonderland.example")) == {1}
    assert index.search(1, Text("to", "example.org")) == {1}


def test_text_spans_all_fields_word_by_word(index: FtsIndex) -> None:
    add(
        index,
        doc(1, subject="quarterly report", from_="finance@corp.example"),
        doc(2, subject="quarterly party", body="nothing about money"),
        doc(3, attachments="report-q3.pdf finance summary"),
    )
    # Each word may match in a different field; every word must match somewhere.
    assert index.search(1, Text("text", "quarterly finance")) == {1}
    assert index.search(1, Text("text", "report")) == {1, 3}
    assert index.search(1, Text("text", "quarterly missingword")) == set()
    assert index.search(1, Text("attachment", "pdf")) == {3}


def test_text_requires_all_words(index: FtsIndex) -> None:
    add(index, doc(1, body="red green blue"), doc(2, body="red yellow"))
    assert index.search(1, Text("body", "red")) == {1, 2}
    assert index.search(1, Text("body", "red green")) == {1}
    assert index.search(1, Text("body", "green red")) == {1}
    assert index.search(1, Text("body", "red purple")) == set()


def test_case_and_accent_insensitive(index: FtsIndex) -> None:
    add(index, doc(1, subject="CAFÉ Crème BRÛLÉE"), doc(2, body="Ein Gruß aus der Straße"))
    for q in ("cafe", "café", "Cafe", "CAFÉ", "creme", "brulee"):
        assert index.search(1, Text("subject", q)) == {1}, q
    assert index.search(1, Text("body", "strasse")) == {2}
    assert index.search(1, Text("body", "Straße")) == {2}
    assert index.search(1, Phrase("subject", "cafe creme")) == {1}


# --------------------------------------------------------------------------- phrase / prefix


def test_phrase_matches_adjacent_words_in_order(index: FtsIndex) -> None:
    add(
        index,
        doc(1, body="the quick brown fox jumps"),
        doc(2, body="the brown quick fox"),
        doc(3, body="quick and brown"),
        doc(4, subject="quick brown"),
    )
    assert index.search(1, Phrase("body", "quick brown")) == {1}
    assert index.search(1, Phrase("body", "Quick, Brown!")) == {1}
    assert index.search(1, Phrase("body", "brown quick")) == {2}
    assert index.search(1, Phrase("body", "quick fox")) == {2}
    assert index.search(1, Phrase("body", "quick brown fox jumps")) == {1}
    assert index.search(1, Phrase("body", "fox quick")) == set()
    assert index.search(1, Phrase("text", "quick brown")) == {1, 4}
    # A one-word phrase is that exact word (no stemming).
    assert index.search(1, Phrase("body", "quick")) == {1, 2, 3}
    assert index.search(1, Phrase("body", "jump")) == set()


def test_prefix_single_and_multi_word(index: FtsIndex) -> None:
    add(
        index,
        doc(1, subject="searching for answers", from_="alice@example.com"),
        doc(2, subject="research notes"),
        doc(3, subject="answers searching"),
    )
    assert index.search(1, Prefix("subject", "sear")) == {1, 3}
    assert index.search(1, Prefix("subject", "Rese")) == {2}
    assert index.search(1, Prefix("subject", "searching for ans")) == {1}
    assert index.search(1, Prefix("subject", "answers sea")) == {3}
    assert index.search(1, Prefix("subject", "for sea")) == set()
    assert index.search(1, Prefix("from", "ali")) == {1}
    assert index.search(1, Prefix("text", "not")) == {2}
    assert index.search(1, Prefix("subject", "xyz")) == set()


def test_prefix_expands_to_many_words(index: FtsIndex) -> None:
    add(index, *(doc(i, body=f"lead pre{i:03d}word tail") for i in range(120)))
    assert index.search(1, Prefix("body", "pre")) == set(range(120))
    assert index.search(1, Prefix("body", "lead pre")) == set(range(120))
    assert index.search(1, Prefix("body", "lead pre05")) == set(range(50, 60))
    assert index.search(1, Prefix("body", "tail pre")) == set()


# --------------------------------------------------------------------------- stemming

STEMMING = [
    # (language, document text, query words that must match, query word that must not)
    (
        "en",
        "The children were running in the park and it was not the first time.",
        ["run", "runs", "Running"],
        "runner",
    ),
    (
        "de",
        "Die Häuser in der Stadt sind sehr alt, und wir haben nicht viel Zeit für sie.",
        ["Haus", "Häuser", "haus"],
        "Hausmeister",
    ),
    (
        "fr",
        "Les maisons de la ville sont très anciennes et nous ne sommes pas pressés.",
        ["maison", "maisons"],
        "maisonnette",
    ),
    (
        "es",
        "Los gatos de la casa son muy grandes y no tienen miedo de los perros.",
        ["gato", "gatos"],
        "gatillo",
    ),
    (
        "it",
        "I libri della biblioteca sono molto antichi e non si possono prestare a nessuno.",
        ["libro", "libri"],
        "libreria",
    ),
    (
        "pt",
        "Os livros da biblioteca são muito antigos e não podem ser emprestados para você.",
        ["livro", "livros"],
        "livreiro",
    ),
    (
        "nl",
        "De boeken in de bibliotheek zijn heel oud en het is niet toegestaan ze te lenen.",
        ["boek", "boeken"],
        "boekhouder",
    ),
    (
        "ru",
        "Мы читали эти книги, и это было очень интересно, когда мы были в библиотеке.",
        ["книга", "книги", "книгу"],
        "книжный",
    ),
]


@pytest.mark.parametrize("explicit", [True, False], ids=["given", "detected"])
@pytest.mark.parametrize(("lang", "text", "hits", "miss"), STEMMING, ids=[s[0] for s in STEMMING])
def test_stemming_per_language(
    index: FtsIndex, lang: str, text: str, hits: list[str], miss: str, explicit: bool
) -> None:
    if not explicit:
        assert detect_language(text) == lang
    add(
        index,
        doc(1, body=text, language=lang if explicit else None),
        doc(2, body="unrelated filler text"),
    )
    for word in hits:
        assert index.search(1, Text("body", word)) == {1}, word
        assert index.search(1, Text("text", word)) == {1}, word
    assert index.search(1, Text("body", miss)) == set()


def test_stemming_applies_to_subject_and_attachment_not_addresses(index: FtsIndex) -> None:
    add(
        index,
        doc(1, subject="Running late", language="en"),
        doc(2, attachments="quarterly reports.pdf", language="en"),
        doc(3, from_="running@example.com", language="en"),
    )
    assert index.search(1, Text("subject", "run")) == {1}
    assert index.search(1, Text("attachment", "report")) == {2}
    assert index.search(1, Text("from", "run")) == set()
    assert index.search(1, Text("from", "running")) == {3}


def test_phrase_and_prefix_do_not_stem(index: FtsIndex) -> None:
    add(index, doc(1, body="they were running fast", language="en"))
    assert index.search(1, Phrase("body", "running fast")) == {1}
    assert index.search(1, Phrase("body", "run fast")) == set()
    assert index.search(1, Prefix("body", "runn")) == {1}


def test_stemming_uses_the_documents_language_only(index: FtsIndex) -> None:
    # German stems "Häuser" to "haus"; in an English document it is just a word.
    add(
        index,
        doc(1, body="Häuser", language="de"),
        doc(2, body="Häuser", language="en"),
    )
    assert index.search(1, Text("body", "haus")) == {1}
    assert index.search(1, Text("body", "Häuser")) == {1, 2}


def test_default_language_without_detection(backend: str, tmp_path: Path) -> None:
    ix = open_index(backend, tmp_path / "fts", default_language="de", detect_language=False)
    try:
        # Clearly English text, but detection is off: it is stemmed as German.
        add(ix, doc(1, body="The houses: Häuser and more Häuser"), doc(2, body="running"))
        assert ix.search(1, Text("body", "Haus")) == {1}
        assert ix.search(1, Text("body", "run")) == set()
    finally:
        ix.close()


# --------------------------------------------------------------------------- boolean


def test_and_or_not(index: FtsIndex) -> None:
    add(
        index,
        doc(1, subject="apple banana"),
        doc(2, subject="apple cherry"),
        doc(3, subject="banana cherry"),
        doc(4, subject="durian"),
    )
    apple, banana, cherry = (Text("subject", w) for w in ("apple", "banana", "cherry"))
    assert index.search(1, And(apple, banana)) == {1}
    assert index.search(1, Or(apple, banana)) == {1, 2, 3}
    assert index.search(1, Not(apple)) == {3, 4}
    assert index.search(1, And(cherry, Not(apple))) == {3}
    assert index.search(1, Or(Not(cherry), apple)) == {1, 2, 4}
    assert index.search(1, Not(Or(apple, banana, cherry))) == {4}
    assert index.search(1, Not(Not(apple))) == {1, 2}
    assert index.search(1, And(Or(apple, cherry), Not(And(apple, cherry)))) == {1, 3}
    assert index.search(1, And()) == {1, 2, 3, 4}
    assert index.search(1, Or()) == set()


def test_limit(index: FtsIndex) -> None:
    add(index, *(doc(i, body=f"shared word{i}") for i in range(20)))
    limited = index.search(1, Text("body", "shared"), limit=5)
    assert len(limited) == 5
    assert limited <= set(range(20))
    assert index.search(1, Text("body", "shared"), limit=None) == set(range(20))
    assert index.search(1, Text("body", "shared"), limit=0) == set()


def test_large_result_sets_are_complete(index: FtsIndex) -> None:
    index.add([doc(i, body=f"needle {i}") for i in range(1100)])
    index.commit()
    assert index.search(1, Text("body", "needle")) == set(range(1100))
    assert len(index.search(1, Not(Text("body", "1099")))) == 1099


# --------------------------------------------------------------------------- accounts


def test_account_isolation(index: FtsIndex) -> None:
    add(
        index,
        doc(1, account=1, subject="secret plan"),
        doc(2, account=1, subject="other"),
        doc(1, account=2, subject="secret plan too"),
        doc(7, account=2, subject="account two only"),
    )
    assert index.search(1, Text("subject", "secret")) == {1}
    assert index.search(2, Text("subject", "secret")) == {1}
    assert index.search(1, Text("subject", "two")) == set()
    assert index.search(1, Not(Text("subject", "secret"))) == {2}
    assert index.search(2, Not(Text("subject", "secret"))) == {7}
    assert index.search(3, And()) == set()
    assert index.search(1, Or(Text("subject", "only"), Not(Text("subject", "plan")))) == {2}
    # Same email id in two accounts: removing one leaves the other.
    index.remove(1, [1])
    index.commit()
    assert index.search(1, Text("subject", "secret")) == set()
    assert index.search(2, Text("subject", "secret")) == {1}
    assert index.snippet(2, 1, Text("subject", "plan"))[0] == "secret <mark>plan</mark> too"


def test_replace_on_re_add(index: FtsIndex) -> None:
    add(index, doc(1, subject="first version"), doc(2, subject="stays"))
    add(index, doc(1, subject="second version"))
    assert index.search(1, Text("subject", "first")) == set()
    assert index.search(1, Text("subject", "second")) == {1}
    assert index.count() == 2
    # Twice within one batch: the last one wins.
    index.add([doc(1, subject="third"), doc(1, subject="fourth")])
    index.add([doc(1, subject="fifth")])
    index.commit()
    assert index.search(1, Text("subject", "fifth")) == {1}
    older = Or(*(Text("subject", w) for w in ("second", "third", "fourth")))
    assert index.search(1, older) == set()
    assert index.count() == 2


def test_remove(index: FtsIndex) -> None:
    add(index, *(doc(i, body="keep me") for i in range(5)))
    index.remove(1, [1, 3, 99])
    assert index.search(1, Text("body", "keep")) == {0, 1, 2, 3, 4}  # not committed yet
    index.commit()
    assert index.search(1, Text("body", "keep")) == {0, 2, 4}
    assert index.count() == 3
    # Add then remove in one batch: gone; remove then add: present.
    index.add([doc(10, body="keep")])
    index.remove(1, [10])
    index.remove(1, [2])
    index.add([doc(2, body="keep again")])
    index.commit()
    assert index.search(1, Text("body", "keep")) == {0, 2, 4}
    assert index.search(1, Text("body", "again")) == {2}


def test_remove_account(index: FtsIndex) -> None:
    add(
        index,
        doc(1, account=1, body="alpha"),
        doc(2, account=1, body="alpha"),
        doc(1, account=2, body="alpha"),
    )
    index.set_cursors({1: 10, 2: 20})
    index.commit()
    index.remove_account(1)
    assert index.search(1, Text("body", "alpha")) == {1, 2}  # not committed yet
    index.commit()
    assert index.search(1, Text("body", "alpha")) == set()
    assert index.search(2, Text("body", "alpha")) == {1}
    assert index.count() == 1
    assert index.get_cursor(1) == 0
    assert index.all_cursors() == {2: 20}
    # Pending adds of the account before remove_account go too; later ones stay.
    index.add([doc(5, account=1, body="before")])
    index.remove_account(1)
    index.add([doc(6, account=1, body="after")])
    index.commit()
    assert index.search(1, And()) == {6}


# --------------------------------------------------------------------------- commit & cursors


def test_changes_visible_only_after_commit(index: FtsIndex) -> None:
    index.add([doc(1, subject="pending")])
    assert index.search(1, Text("subject", "pending")) == set()
    assert index.count() == 0
    assert index.snippet(1, 1, Text("subject", "pending")) == (None, None)
    index.commit()
    assert index.search(1, Text("subject", "pending")) == {1}
    assert index.count() == 1
    index.add([doc(1, subject="changed")])
    assert index.search(1, Text("subject", "pending")) == {1}
    assert index.search(1, Text("subject", "changed")) == set()
    index.commit()
    assert index.search(1, Text("subject", "changed")) == {1}


def test_batched_adds_in_one_commit(index: FtsIndex) -> None:
    for start in range(0, 300, 50):
        index.add([doc(i, account=i % 3, body=f"batch item{i}") for i in range(start, start + 50)])
    assert index.count() == 0
    index.commit()
    assert index.count() == 300
    assert index.search(2, Text("body", "batch")) == {i for i in range(300) if i % 3 == 2}


def test_cursors_persist_across_reopen(backend: str, tmp_path: Path) -> None:
    path = tmp_path / "fts"
    ix = open_index(backend, path)
    try:
        assert ix.get_cursor(1) == 0
        assert ix.all_cursors() == {}
        ix.add([doc(1, body="persisted")])
        ix.set_cursors({1: 41, 2: 7})
        assert ix.get_cursor(1) == 41  # pending cursors are visible to the indexer
        assert ix.all_cursors() == {}  # but not committed
        ix.commit()
        ix.set_cursors({1: 42})
        ix.commit()
        ix.set_cursors({2: 999})  # never committed
        ix.add([doc(2, body="lost")])
    finally:
        ix.close()
    ix = open_index(backend, path)
    try:
        assert ix.all_cursors() == {1: 42, 2: 7}
        assert ix.get_cursor(1) == 42
        assert ix.get_cursor(2) == 7
        assert ix.get_cursor(3) == 0
        assert ix.search(1, Text("body", "persisted")) == {1}
        assert ix.search(1, Text("body", "lost")) == set()
        assert ix.count() == 1
        with pytest.raises(ValueError):
            ix.set_cursors({1: -1})
    finally:
        ix.close()


def test_clear(index: FtsIndex) -> None:
    add(index, doc(1, body="gone"), doc(1, account=2, body="gone"))
    index.set_cursors({1: 5})
    index.commit()
    index.add([doc(3, body="pending gone")])
    index.clear()
    assert index.count() == 0
    assert index.all_cursors() == {}
    assert index.get_cursor(1) == 0
    index.commit()
    assert index.search(1, Text("body", "gone")) == set()
    add(index, doc(4, body="fresh"))
    assert index.search(1, Text("body", "fresh")) == {4}


def test_reopen_other_backend_directory_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "fts"
    ix = open_index("tantivy", path)
    add(ix, doc(1, body="tantivy data"))
    ix.set_cursors({1: 3})
    ix.commit()
    ix.close()
    other = open_index("whoosh", path)
    try:
        assert other.count() == 0
        assert other.all_cursors() == {}  # cursors restart: the indexer rebuilds
    finally:
        other.close()


def test_refuses_to_wipe_a_foreign_directory(backend: str, tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep")
    with pytest.raises(MailError) as err:
        open_index(backend, tmp_path)
    assert err.value.kind is ErrorKind.INVALID
    assert (tmp_path / "precious.txt").read_text() == "keep"


def test_unknown_backend_and_field() -> None:
    with pytest.raises(ValueError):
        open_index("lucene", Path("/nonexistent"))
    with pytest.raises(ValueError):
        Text("body_en", "x")
    with pytest.raises(ValueError):
        Phrase("date", "x")


def test_concurrent_readers_during_writes(index: FtsIndex) -> None:
    add(index, doc(0, body="seed common"))
    errors: list[BaseException] = []
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                found = index.search(1, Text("body", "common"))
                assert 0 in found
                seen.append(len(found))
                index.snippet(1, 0, Text("body", "seed"))
                index.count()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for batch in range(1, 6):
            index.add([doc(batch * 10 + i, body="common words") for i in range(10)])
            index.set_cursors({1: batch})
            index.commit()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert seen and max(seen) <= 51
    assert index.search(1, Text("body", "common")) == {0} | set(range(10, 60))
    assert index.get_cursor(1) == 5


# --------------------------------------------------------------------------- snippets


def test_snippet_marks_and_escapes(index: FtsIndex) -> None:
    add(
        index,
        doc(
            1,
            subject="Invoice <urgent> & overdue",
            body='Dear customer, your invoice #42 is "overdue" <b>now</b> & must be paid.',
        ),
    )
    subject, preview = index.snippet(1, 1, Text("text", "invoice overdue"))
    assert subject == "<mark>Invoice</mark> &lt;urgent&gt; &amp; <mark>overdue</mark>"
    assert preview == (
        'Dear customer, your <mark>invoice</mark> #42 is "<mark>overdue</mark>" '
        "&lt;b&gt;now&lt;/b&gt; &amp; must be paid."
    )
    # A match only in the body: no subject snippet.
    subject, preview = index.snippet(1, 1, Text("body", "customer"))
    assert subject is None
    assert preview is not None and preview.startswith("Dear <mark>customer</mark>,")
    # No match anywhere in subject/body.
    assert index.snippet(1, 1, Text("from", "invoice")) == (None, None)
    assert index.snippet(1, 1, Text("body", "absent")) == (None, None)
    # Unknown email.
    assert index.snippet(1, 2, Text("body", "invoice")) == (None, None)
    # Another account's email.
    assert index.snippet(2, 1, Text("body", "invoice")) == (None, None)


def test_snippet_stems_phrases_prefixes_and_skips_not(index: FtsIndex) -> None:
    add(
        index,
        doc(
            1,
            subject="Running and runners",
            body="She runs every day; the quick brown fox runs too. Brown bread.",
            language="en",
        ),
    )
    subject, preview = index.snippet(1, 1, Text("text", "run"))
    assert subject == "<mark>Running</mark> and runners"
    assert preview is not None
    assert preview.count("<mark>runs</mark>") == 2
    _, preview = index.snippet(1, 1, Phrase("body", "quick brown"))
    assert preview is not None
    assert "<mark>quick</mark> <mark>brown</mark> fox" in preview
    assert "<mark>Brown</mark> bread" not in preview
    _, preview = index.snippet(1, 1, Prefix("body", "brown fo"))
    assert preview is not None and "<mark>brown</mark> <mark>fox</mark>" in preview
    _, preview = index.snippet(1, 1, And(Text("body", "bread"), Not(Text("body", "fox"))))
    assert preview is not None and "<mark>bread</mark>" in preview and "<mark>fox" not in preview


def test_snippet_preview_is_a_bounded_window(index: FtsIndex) -> None:
    body = ("lorem ipsum dolor sit amet " * 60) + "the hidden treasure is here " + ("filler " * 80)
    add(index, doc(1, body=body))
    _, preview = index.snippet(1, 1, Text("body", "treasure"))
    assert preview is not None
    assert "<mark>treasure</mark>" in preview
    plain = re.sub(r"</?mark>", "", preview)
    assert len(plain.encode()) <= 255
    assert "hidden treasure is here" in plain
    # Multi-byte text is cut on characters, within the octet budget.
    add(index, doc(2, body=("слово " * 200) + "ключ " + ("текст " * 200), language="ru"))
    _, preview = index.snippet(1, 2, Text("body", "ключ"))
    assert preview is not None and "<mark>ключ</mark>" in preview
    assert len(re.sub(r"</?mark>", "", preview).encode()) <= 255


# --------------------------------------------------------------------------- unicode / empty


def test_unicode_text(index: FtsIndex) -> None:
    add(
        index,
        doc(1, subject="Καλημέρα κόσμε", body="Привет, мир! 🎉 party", language="el"),
        doc(2, subject="東京 meeting", body="naïve façade coöperate"),
        doc(3, body="broken \udcff surrogate word"),
    )
    assert index.search(1, Text("body", "привет")) == {1}
    assert index.search(1, Text("body", "ПРИВЕТ")) == {1}
    assert index.search(1, Text("body", "party")) == {1}
    assert index.search(1, Text("subject", "κόσμε")) == {1}
    assert index.search(1, Text("subject", "東京")) == {2}
    assert index.search(1, Text("body", "naive facade cooperate")) == {2}
    assert index.search(1, Text("body", "surrogate")) == {3}
    assert index.search(1, Text("body", "🎉")) == set()  # no word in the query
    subject, _ = index.snippet(1, 1, Text("subject", "κόσμε"))
    assert subject == "Καλημέρα <mark>κόσμε</mark>"


def test_empty_documents_and_queries(index: FtsIndex) -> None:
    add(index, doc(1), doc(2, body="something"), doc(3, subject="   ", body="\n\n"))
    assert index.count() == 3
    for q in (
        Text("body", ""),
        Text("text", "   "),
        Text("body", "!!! ... ---"),
        Phrase("body", ""),
        Prefix("text", ""),
    ):
        assert index.search(1, q) == set(), q
        assert index.search(1, Not(q)) == {1, 2, 3}, q
    assert index.search(1, Not(Text("body", "something"))) == {1, 3}
    assert index.snippet(1, 1, Text("body", "something")) == (None, None)
    assert index.snippet(1, 2, Text("body", "")) == (None, None)
    index.add([])
    index.remove(1, [])
    index.commit()
    assert index.count() == 3


# --------------------------------------------------------------------------- real messages


def _extract(raw: bytes) -> tuple[str, str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        subject = str(msg.get("subject", "") or "")
    except Exception:  # malformed headers must not cost a message
        subject = ""
    parts: list[str] = []
    for part in msg.walk():
        if part.get_content_type() != "text/plain":
            continue
        try:
            parts.append(str(part.get_content()))
        except Exception:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode("utf-8", "replace"))
    return subject, "\n".join(parts)


def test_corpus_messages(index: FtsIndex) -> None:
    files = sorted(require_corpus().rglob("*.eml"))
    assert files
    docs = []
    for i, path in enumerate(files):
        subject, body = _extract(path.read_bytes())
        docs.append(doc(i, subject=subject, body=body))
    index.add(docs)
    index.commit()
    assert index.count() == len(files)
    checked = 0
    for d in docs:
        words = re.findall(r"[^\W\d_]{4,}", d.subject)
        if not words:
            continue
        assert d.email_id in index.search(1, Text("subject", words[0])), (d.subject, words[0])
        marked, _ = index.snippet(1, d.email_id, Text("subject", words[0]))
        assert marked is not None and "<mark>" in marked
        checked += 1
    assert checked >= 20


# --------------------------------------------------------------------------- language detection


DETECT = {
    "en": "Please find attached the report that we discussed in the meeting and let me know.",
    "de": "Bitte finden Sie anbei den Bericht, den wir in der Besprechung besprochen haben.",
    "fr": "Veuillez trouver ci-joint le rapport dont nous avons discuté lors de la réunion.",
    "es": "Por favor, encuentre adjunto el informe que discutimos en la reunión de ayer.",
    "it": "In allegato trovate il rapporto di cui abbiamo discusso durante la riunione.",
    "pt": "Em anexo está o relatório que discutimos na reunião, por favor me avise.",
    "nl": "In de bijlage vindt u het rapport dat we in de vergadering hebben besproken.",
    "ru": "Пожалуйста, найдите во вложении отчёт, который мы обсуждали на встрече.",
    "sv": "Här är rapporten som vi diskuterade på mötet, och det är inte klart än.",
    "el": "Παρακαλώ βρείτε συνημμένη την αναφορά που συζητήσαμε στη συνάντηση.",
}


@pytest.mark.parametrize(("lang", "text"), DETECT.items(), ids=list(DETECT))
def test_detect_language(lang: str, text: str) -> None:
    assert detect_language(text) == lang


def test_detect_language_unsure_and_fast() -> None:
    assert detect_language("") is None
    assert detect_language("12345 !!! ???") is None
    assert detect_language("hello") is None
    assert detect_language("Xyzzy plugh frobnicate quux") is None
    text = (DETECT["de"] + " ") * 40
    start = time.perf_counter()
    for _ in range(50):
        assert detect_language(text) == "de"
    assert (time.perf_counter() - start) / 50 < 0.005


def test_normalize_language() -> None:
    assert normalize_language("en-US") == "en"
    assert normalize_language("DE") == "de"
    assert normalize_language("pt_BR") == "pt"
    assert normalize_language("nb") == "no"
    assert normalize_language("") is None
    assert normalize_language(None) is None
    assert normalize_language("1x") is None
