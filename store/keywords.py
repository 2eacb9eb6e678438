"""Keyword rules of the store, and the spelling IMAP shows for each keyword.

Emails hold their keywords lower-cased: JMAP keywords are case-insensitive and sent in lower
case (RFC 8621 §4.1.1), and so the change log, JMAP and IMAP matching all compare one form.
IMAP keywords are case-insensitive too (RFC 3501 §2.3.2, RFC 9051 §2.3.2) but clients expect
back the spelling they set (Dovecot and Cyrus keep it): ``NameKeywords`` records, per account,
the first spelling an IMAP client used for each keyword (``K`` keys, docs/storage.md).  The
first spelling wins and is never replaced, so the table only grows (until the account goes).
"""

from __future__ import annotations

from . import keys
from .batch import NameKeywords
from .errors import ErrorKind, MailError
from .txn import Overlay

MAX_KEYWORD = 255
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


def name_keywords(txn: Overlay, op: NameKeywords) -> int:
    """Records the spellings of keywords that have none yet; returns how many it recorded.
    Reads and writes only ``txn`` (deterministic, like every operation)."""
    if txn.get(keys.account(op.account_id)) is None:
        raise MailError(ErrorKind.NOT_FOUND, f"account {op.account_id}")
    recorded = 0
    for spelling in op.spellings:
        low = check_keyword(spelling)
        if low in SYSTEM_KEYWORDS:
            continue
        key = keys.keyword(op.account_id, low)
        if txn.get(key) is None:
            txn.put(key, spelling.encode())
            recorded += 1
    return recorded
