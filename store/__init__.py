"""The storage interface: LevelDB underneath, every mutation a deterministic ``Batch``."""

from .batch import ApplyResult, Batch, EmailCreated, OpResult
from .errors import ErrorKind, MailError
from .feed import ChangeEvent, ChangeFeed
from .leveldb import Store

__all__ = [
    "ApplyResult",
    "Batch",
    "ChangeEvent",
    "ChangeFeed",
    "EmailCreated",
    "ErrorKind",
    "MailError",
    "OpResult",
    "Store",
]
