"""Cheap language detection for the full-text index (no model, no download).

Two signals, both computed in one pass over (at most) the first few KB of text:

* **Script.** Greek, Arabic and Tamil letters identify their language outright (each is the only
  language in its script that the stemmers support).  Cyrillic narrows the choice to Russian,
  which is then confirmed by Russian function words.
* **Function-word profiles.** Every language gets a short list of its most frequent function
  words (articles, pronouns, prepositions, auxiliaries).  A word found in several lists counts
  ``1 / n`` for each of them, so words shared by related languages (Danish/Norwegian/Swedish,
  Spanish/Portuguese/Italian) weigh less than distinctive ones.

The best-scoring language wins only when it has enough evidence (an absolute minimum and a margin
over the runner-up); otherwise :func:`detect_language` returns ``None`` and the caller falls back
to its configured default.  Only the first 2 KB are read: ≈0.2–0.5 ms per call.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Mapping
from operator import itemgetter

__all__ = ["SUPPORTED_LANGUAGES", "detect_language", "normalize_language"]

# ISO 639-1 code -> function words (lower case, accents kept).
_PROFILES: Mapping[str, str] = {
    "en": """the of and to in is that it for was on are with as be this have from at by not
        but you or an they which we his her had has were would there their been will what
        all can if when do does did your our about them so than these those just i my me
        please thanks regards hello dear attached find let know could should may also how who""",
    "de": """der die das und ist nicht den dem des ein eine einen einem einer es sich mit von
        auf für im zu auch wir ich sie er ihr sind war wird werden hat haben bei oder aber
        wie noch nach aus wenn nur kann können über uns mir dass schon
        bitte danke grüße hallo liebe anbei vielen gruß sehr geehrte freundlichen ihnen
        diese dieser zum zur vom""",
    "fr": """le la les de des du et est un une que qui dans pour pas sur au aux ce cette ces
        il elle ils nous vous je ne se sont avec par plus mais ou son sa ses leur été être
        avoir fait comme tout très était
        dont avons lors ci vos votre notre nos merci bonjour cordialement aussi ainsi même
        alors peut""",
    "es": """el la los las de del y que en un una es por para con no se su sus al lo como
        más pero este esta está son fue ha muy también sin sobre entre cuando todo yo usted
        hay ser nos tiene desde
        por favor ayer gracias hola usted nosotros hemos han sido estos saludos adjunto puede""",
    "it": """il lo la gli le di del della dei delle e che un una è per non con si sono da
        nel nella al alla come più ma anche questo questa ha sono era io tu lui lei noi voi
        loro ci ne molto essere stato
        cui abbiamo durante grazie sul siamo hanno degli nelle sia può ciao saluti allegato""",
    "pt": """o a os as de do da dos das e que um uma é em no na nos nas por para com não se
        ao aos mais mas como foi são seu sua seus pelo pela você ele ela eles isso este esta
        muito também já está
        obrigado olá favor anexo pelos pelas seus nós temos foram sido pode mas""",
    "nl": """de het een en van in is dat die op te niet zijn met voor er aan ook als maar
        om bij of door hij zij wij ik je we heeft hebben was werd wordt worden naar deze
        dit dan nog wel kan
        bedankt groeten hallo bijlage graag uw onze jullie hebt heb zou kunnen moet""",
    "ru": """и в не на что с по как это он она они я мы вы то но из у за от к для же был
        была было были все его её их так уже или бы только если когда мне вот
        спасибо здравствуйте пожалуйста вложении который которые мы вас нас при""",
    "da": """og i at det er en til på som de med af for ikke den har var et jeg vi kan
        men om der skal han hun fra blev være ved eller også efter meget mig hvad nogle
        noget nogen hvor også dig sig os jer efter
        tak hilsen venlig vedhæftet jeres vores kunne skulle""",
    "no": """og i er det en til på som de med av for ikke den har var et jeg vi kan men om
        der skal han hun fra ble være ved eller også etter meg hva jo noen noe hvor deg seg
        oss dere å
        takk hilsen vennlig vedlagt deres våre kunne skulle""",
    "sv": """och i att det är en som på de med av för inte den har var ett jag vi kan men
        om till skall ska han hon från blev vara vid eller också efter mycket mig
        tack hälsningar vänliga bifogad era våra kunde skulle här än""",
    "fi": """ja on ei se että oli ovat hän mutta kun tai myös kuin niin jos sen ole olla
        tämä joka mitä minä sinä me te he vain ovat oli hänen siitä sitä
        kiitos terveisin hei liitteenä voisitko meidän teidän""",
    "hu": """a az és hogy nem is egy van volt meg de ez azt csak mint még már el ki be
        fel vagy ha kell lesz lett most minden ezt vannak
        köszönöm üdvözlettel szia kérem csatolva mi ti önök""",
    "ro": """și în de la cu pe nu este că un o care se din pentru mai sunt ce dar să fost
        sau au am lui ei acest această foarte
        mulțumesc salut vă rog atașat noi voi sunteți avem""",
    "tr": """ve bir bu da de için ile çok ne gibi daha ama olarak sonra kadar değil var
        ben sen biz siz onlar olan şey her mi mı
        teşekkürler merhaba lütfen ekte saygılarımla bizim sizin""",
}

# First-letter code point ranges whose words pin the language (inclusive); "cyrl" is
# confirmed as Russian by function words.
_SCRIPTS: tuple[tuple[int, int, str], ...] = (
    (0x0370, 0x03FF, "el"),  # Greek and Coptic
    (0x1F00, 0x1FFF, "el"),  # Greek Extended
    (0x0400, 0x04FF, "cyrl"),  # Cyrillic
    (0x0600, 0x06FF, "ar"),  # Arabic
    (0x0750, 0x077F, "ar"),  # Arabic Supplement
    (0x0B80, 0x0BFF, "ta"),  # Tamil
)

SUPPORTED_LANGUAGES: frozenset[str] = frozenset(_PROFILES) | {"el", "ar", "ta"}

# word -> ((language, weight), ...), weight = 1/number of profiles containing the word.
_WORDS: dict[str, tuple[tuple[str, float], ...]] = {}
# The same weights, grouped and exact: word -> its owner group (the owning languages joined by
# spaces), group -> ((language, _UNIT // owners), ...).  Scores are then sums of integers in units
# of 1/_UNIT, which do not depend on the order they are added in.
_GROUP_OF: dict[str, str] = {}
_GROUP_WEIGHTS: dict[str, tuple[tuple[str, int], ...]] = {}
_UNIT = 1


def _build() -> None:
    global _UNIT
    owners: dict[str, list[str]] = {}
    for lang, words in _PROFILES.items():
        for word in set(words.split()):
            owners.setdefault(word, []).append(lang)
    _UNIT = math.lcm(*(len(langs) for langs in owners.values()))
    for word, langs in owners.items():
        weight = 1.0 / len(langs)
        _WORDS[word] = tuple((lang, weight) for lang in langs)
        group = sys.intern(" ".join(langs))
        _GROUP_OF[word] = group
        _GROUP_WEIGHTS[group] = tuple((lang, _UNIT // len(langs)) for lang in langs)


_build()

_WORD_RE = re.compile(r"[^\W\d_]+")
_MAX_CHARS = 2048
_MIN_SCORE = 1.5
_MARGIN = 1.15
# Exact forms of the thresholds: score >= 3/2 and best >= runner-up * 23/20.
_MIN_NUM, _MIN_DEN = 3, 2
_MARGIN_NUM, _MARGIN_DEN = 23, 20
# UTF-8 byte -> itself for ASCII letters (upper case folded) and for non-ASCII bytes, space
# for every other ASCII byte (all of them separators for _WORD_RE).
_ASCII_LETTERS = bytes(
    (c | 0x20) if (0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A) else c if c >= 0x80 else 0x20
    for c in range(256)
)


def normalize_language(code: str | None) -> str | None:
    """``"en-US"``/``"EN"``/``"en_GB"`` -> ``"en"``; empty or malformed -> ``None``."""
    if not code:
        return None
    head = code.strip().lower().replace("_", "-").split("-", 1)[0]
    if head == "nb" or head == "nn":  # Norwegian Bokmål / Nynorsk share one stemmer
        return "no"
    return head if len(head) in (2, 3) and head.isalpha() else None


_SCRIPT_CACHE: dict[str, str | None] = {}


def _script_of(first: str) -> str | None:
    """The pinned script of a word starting with ``first`` (cached per character)."""
    try:
        return _SCRIPT_CACHE[first]
    except KeyError:
        pass
    cp = ord(first)
    found = next((name for lo, hi, name in _SCRIPTS if lo <= cp <= hi), None)
    if len(_SCRIPT_CACHE) < 4096:
        _SCRIPT_CACHE[first] = found
    return found


_first = itemgetter(0)


def _tokens(lowered: str) -> tuple[list[str], list[str]]:
    r"""``_WORD_RE.findall(lowered)`` as (ASCII tokens, other tokens), each in text order.

    Every ASCII non-letter is a separator for ``[^\W\d_]``, so blanking them (bytes.translate,
    UTF-8 keeps ASCII bytes for ASCII characters only) and splitting gives chunks bounded by
    separators: an ASCII chunk is exactly one match, and only the rest need the regex.
    """
    # "surrogatepass": lone surrogates (from lax decoders) round-trip as non-ASCII bytes.
    raw = lowered.encode("utf-8", "surrogatepass").translate(_ASCII_LETTERS)
    chunks = raw.decode("utf-8", "surrogatepass").split()
    if lowered.isascii():
        return chunks, []
    others = [c for c in chunks if not c.isascii()]
    if not others:
        return chunks, []
    ascii_tokens = [c for c in chunks if c.isascii()]
    return ascii_tokens, _WORD_RE.findall(" ".join(others))


def detect_language(text: str) -> str | None:
    """Return the ISO 639-1 code of ``text``'s language, or ``None`` when unsure.

    Counting is done in C (``Counter`` over word groups and first letters) with exact integer
    weights.  The answer is the one the per-token float sums of :func:`_detect_float` give,
    except that a comparison landing exactly on a threshold, where float rounding could go
    either way, is handed to that function, so the two never disagree.
    """
    ascii_tokens, other_tokens = _tokens(text[:_MAX_CHARS].lower())
    ntokens = len(ascii_tokens) + len(other_tokens)
    if not ntokens:
        return None
    groups: Counter[str | None] = Counter(map(_GROUP_OF.get, ascii_tokens))
    if other_tokens:
        groups.update(map(_GROUP_OF.get, other_tokens))
    scores: dict[str, int] = {}
    for group, n in groups.items():
        if group is not None:
            for lang, weight in _GROUP_WEIGHTS[group]:
                scores[lang] = scores.get(lang, 0) + weight * n
    if other_tokens:  # only a non-ASCII first letter can belong to a script
        scripts: dict[str, int] = {}
        for first, n in Counter(map(_first, other_tokens)).items():
            script = _script_of(first)
            if script is not None:
                scripts[script] = scripts.get(script, 0) + n
        if scripts:
            script, n = max(scripts.items(), key=lambda kv: kv[1])
            if n * 2 >= ntokens:
                if sum(1 for m in scripts.values() if m == n) > 1:
                    return _detect_float(text)  # a tie goes to the script seen first
                if script != "cyrl":
                    return script
                ru = scores.get("ru", 0)
                if ru == _UNIT:
                    return _detect_float(text)
                return "ru" if ru > _UNIT else None
    scores.pop("ru", None)
    if not scores:
        return None
    best, top, second = "", 0, 0
    for lang, score in scores.items():
        if score > top:
            best, top, second = lang, score, top
        elif score > second:
            second = score
    # best_score < 1.5 and best_score < runner_up * 1.15, on exact values: distinct exact values
    # differ by at least 1/(20 * _UNIT), far beyond float rounding, so only an exact equality
    # could make the float comparison differ.
    min_lhs, min_rhs = top * _MIN_DEN, _MIN_NUM * _UNIT
    if min_lhs < min_rhs:
        return None
    margin_lhs, margin_rhs = top * _MARGIN_DEN, second * _MARGIN_NUM
    if min_lhs == min_rhs or margin_lhs == margin_rhs:
        return _detect_float(text)
    if margin_lhs < margin_rhs:  # includes a tie for first place
        return None
    return best


def _detect_float(text: str) -> str | None:
    """The reference algorithm: per-token float sums (used on exact threshold ties)."""
    tokens = _WORD_RE.findall(text[:_MAX_CHARS].lower())
    if not tokens:
        return None
    scores: dict[str, float] = {}
    scripts: dict[str, int] = {}
    words = _WORDS
    for token in tokens:
        hit = words.get(token)
        if hit is not None:
            for lang, weight in hit:
                scores[lang] = scores.get(lang, 0.0) + weight
        if not token.isascii():
            script = _script_of(token[0])
            if script is not None:
                scripts[script] = scripts.get(script, 0) + 1
    if scripts:
        script, n = max(scripts.items(), key=lambda kv: kv[1])
        if n * 2 >= len(tokens):
            if script != "cyrl":
                return script
            return "ru" if scores.get("ru", 0.0) >= 1.0 else None
    scores.pop("ru", None)
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    best, best_score = ranked[0]
    if best_score < _MIN_SCORE:
        return None
    if len(ranked) > 1 and best_score < ranked[1][1] * _MARGIN:
        return None
    return best
