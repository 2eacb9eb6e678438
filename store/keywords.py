"""Keyword rules of the store, and the spelling IMAP shows for each keyword.

Emails hold their keywords lower-cased: JMAP keywords are case-insensitive and sent in lower
case (RFC 8621 §4.1.1), and so the change log, JMAP and IMAP matching all compare one form.
IMAP keywords are case-insensitive too (RFC 3501 §2.3.2, RFC 9051 §2.3.2) but clients expect
back the spelling they set (Dovecot and Cyrus keep it): ``NameKeywords`` records, per account,
the first spelling an IMAP client used for each keyword (``K`` keys, docs/storage.md).  The
first spelling wins and is never replaced; at most ``MAX_SPELLINGS`` are kept per account (a
count under the empty keyword's key), so a client inventing keywords cannot grow the table
without bound: beyond that, keywords show lower-cased.  An email holds at most
``MAX_EMAIL_KEYWORDS`` keywords (a change that would add beyond it fails with LIMIT; one that
removes always works).
"""

from __future__ import annotations

from . import keys
from .batch import NameKeywords
from .codec import read_u32, u32
from .errors import ErrorKind, MailError
from .txn import Overlay

MAX_KEYWORD = 255
MAX_EMAIL_KEYWORDS = 128  # keywords on one email (JMAP's tooManyKeywords, IMAP NO [LIMIT])
MAX_SPELLINGS = 1000  # recorded IMAP spellings per account
# Keywords IMAP shows as system flags (RFC 8621 §4.1.1): they keep their canonical spelling.
SYSTEM_KEYWORDS = frozenset({"$seen", "$answered", "$flagged", "$draft", "$deleted"})


def check_keyword(word: str) -> str:
    """``word`` lower-cased, or INVALID: 1-255 visible characters, none of ``(){]%*"\\``
    (RFC 8621 §4.1.1, the IMAP atom rules)."""
    if not word or len(word) > MAX_KEYWORD or any(ord(c) <= 0x20 or c in '(){]%*"\\' for c in word):
        raise MailError(ErrorKind.INVALID, f"invalid keyword {word!r}")
    return word.lower()


def norm_keywords(words: tuple[str, ...]) -> set[str]:
    return {check_keyword(w) for w in words}


def check_keyword_count(old: set[str], new: set[str]) -> None:
    """LIMIT when ``new`` holds more than MAX_EMAIL_KEYWORDS and more than ``old`` did."""
    if len(new) > MAX_EMAIL_KEYWORDS and len(new) > len(old):
        raise MailError(ErrorKind.LIMIT, f"at most {MAX_EMAIL_KEYWORDS} keywords per message")


def name_keywords(txn: Overlay, op: NameKeywords) -> int:
    """Records the spellings of keywords that have none yet; returns how many it recorded.
    Reads and writes only ``txn`` (deterministic, like every operation)."""
    if txn.get(keys.account(op.account_id)) is None:
        raise MailError(ErrorKind.NOT_FOUND, f"account {op.account_id}")
    count_key = keys.keyword(op.account_id, "")  # no keyword is empty
    stored = txn.get(count_key)
    count = read_u32(stored) if stored is not None else 0
    recorded = 0
    for spelling in op.spellings:
        low = check_keyword(spelling)
        if low in SYSTEM_KEYWORDS or count >= MAX_SPELLINGS:
            continue
        key = keys.keyword(op.account_id, low)
        if txn.get(key) is None:
            txn.put(key, spelling.encode())
            recorded += 1
            count += 1
    if recorded:
        txn.put(count_key, u32(count))
    return recorded
