"""``[search]`` and ``[store]``: the full-text index and the storage engine (store/,
stalwart_py/indexer.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .checks import LANGUAGE, POSITIVE, at_least
from .kinds import BOOL, DURATION, INT, OPTIONAL_PATH, STR, enum_of
from .schema import Values, setting

SearchBackend = Literal["tantivy", "whoosh"]


def _derive_index_dir(values: Values) -> Path:
    data_dir: Path = values["server"]["data_dir"]
    return data_dir / "fts"


@dataclass(frozen=True, slots=True)
class SearchConfig:
    """Full-text search (IMAP SEARCH TEXT/BODY, JMAP Email/query text filters). The index is
    derived data, kept up to date in the background and rebuildable from the store."""

    backend: SearchBackend = setting(
        enum_of(SearchBackend),
        "tantivy",
        "Index engine. `tantivy` is fast and stems 18 languages; `whoosh` is pure Python and "
        "much slower on large mailboxes.",
    )
    index_dir: Path = setting(
        OPTIONAL_PATH,
        "",
        "Directory of the full-text index. Empty: `DATA_DIR/fts`.",
        derive=_derive_index_dir,
    )
    default_language: str = setting(
        STR,
        "en",
        "Language (ISO 639-1 code) whose stemming rules apply when detection is off or "
        "inconclusive.",
        LANGUAGE,
    )
    detect_language: bool = setting(
        BOOL, True, "Detect each message's language to pick its stemming rules."
    )
    commit_interval: float = setting(
        DURATION,
        "1s",
        "How often the indexer commits; new mail becomes searchable within about this time.",
        POSITIVE,
    )
    batch_size: int = setting(
        INT, 500, "Most documents the indexer adds in one commit.", at_least(1)
    )
    max_concurrent_scans: int = setting(
        INT,
        2,
        "Most IMAP `SEARCH TEXT`/`BODY` substring scans run at once, each in a thread reading "
        "the account's stored text; more searches wait for a free slot.",
        at_least(1),
    )
    scan_timeout: float = setting(
        DURATION,
        "2m",
        "Give up an IMAP `SEARCH TEXT`/`BODY` that takes longer than this, the wait for a "
        "free scan slot included: the command fails with `NO [LIMIT]`.",
        POSITIVE,
    )


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """The storage engine (LevelDB) and its change log."""

    group_commit_max: int = setting(
        INT,
        256,
        "Most write batches combined into one synchronous LevelDB write (group commit). Larger "
        "groups raise throughput under concurrent load.",
        at_least(1),
    )
    blob_upload_ttl: float = setting(
        DURATION,
        "1d",
        "Uploaded blobs (JMAP upload) that no message or other object references after this "
        "time are deleted.",
        POSITIVE,
    )
    change_history: int = setting(
        INT,
        10000,
        "Change-log entries kept per account; older ones are compacted. A client whose last "
        "state is older than the kept history must resynchronise in full (JMAP "
        "`cannotCalculateChanges`, RFC 8620 §5.2).",
        at_least(1),
    )
