"""The storage interface: LevelDB underneath, every mutation a deterministic ``Batch``.

These are the names callers use.  The write machinery (``Batch`` and the operations in
:mod:`store.batch`) is for the mail service (``protocols.mail``), administration and the janitor;
the protocol packages store and change mail only through the mail service and never import
:mod:`store.keys`, :mod:`store.codec`, :mod:`store.batch` or :mod:`store.leveldb`
(tests/unit/test_layering.py).  Values (models, ids, errors) are for everyone.
"""

from .batch import ApplyResult, Batch, EmailCreated, OpResult
from .errors import ErrorKind, MailError
from .feed import ChangeEvent, ChangeFeed
from .ids import blob_id, object_id, parse_blob_id, parse_object_id
from .keywords import MAX_EMAIL_KEYWORDS
from .leveldb import Store
from .models import (
    GROUP,
    INDIVIDUAL,
    KEYWORD_DELETED,
    KEYWORD_SEEN,
    LIST,
    AccountState,
    ChangeEntry,
    Email,
    Mailbox,
    Principal,
)

__all__ = [
    "GROUP",
    "INDIVIDUAL",
    "KEYWORD_DELETED",
    "KEYWORD_SEEN",
    "LIST",
    "MAX_EMAIL_KEYWORDS",
    "AccountState",
    "ApplyResult",
    "Batch",
    "ChangeEntry",
    "ChangeEvent",
    "ChangeFeed",
    "Email",
    "EmailCreated",
    "ErrorKind",
    "MailError",
    "Mailbox",
    "OpResult",
    "Principal",
    "Store",
    "blob_id",
    "object_id",
    "parse_blob_id",
    "parse_object_id",
]
