"""``apply_group``: the pure, deterministic part of the write path (issue 10 §1a).

Every replica runs it identically on the same committed state and the same batches, and gets
the same writes and results: it reads only ``view``, writes nothing, and touches no cache, feed,
clock or file.  What a node does after the writes are durable (cache invalidation, the change
feed, deleting blob files) and what only the proposer does (answering its waiter) are the
caller's, :class:`store.leveldb.Store` today and the Raft log later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from . import requests
from .apply import AppliedBatch, apply_batch
from .batch import ApplyResult, Batch, OpResult
from .errors import ErrorKind, MailError
from .txn import Overlay, View

log = logging.getLogger(__name__)


def _rolled_back(done: AppliedBatch, failed: MailError) -> AppliedBatch:
    """An atomic batch with a failed operation: the failures stand, every other operation
    reports that it was not applied either (with the first failure's kind), nothing moved."""
    results = tuple(
        r
        if r.error is not None
        else OpResult(error=MailError(failed.kind, "not applied: the batch is all or nothing"))
        for r in done.result.results
    )
    return AppliedBatch(ApplyResult(results, ()), ())


@dataclass(frozen=True, slots=True)
class GroupOutcome:
    # key -> new value (None: deleted), in the order written: the group's one LevelDB batch.
    writes: dict[bytes, bytes | None]
    # Per batch, in order: what it did, or the internal error that kept it from applying.
    applied: tuple[AppliedBatch | MailError, ...]


def apply_group(view: View, batches: Sequence[Batch]) -> GroupOutcome:
    """Applies ``batches`` in order on top of ``view``; the outcome equals applying them one
    by one (store/txn.py).  A batch that raises (a bug: domain errors are values) leaves no
    write and is reported as an INTERNAL error; the others still apply."""
    overlay = Overlay(view)
    applied: list[AppliedBatch | MailError] = []
    for batch in batches:
        rid = batch.request_id
        if rid:
            try:
                requests.check_request_id(rid)
            except MailError as err:
                applied.append(err)
                continue
            earlier = requests.recorded(overlay, rid)
            if earlier is not None:
                applied.append(AppliedBatch(earlier, (), replayed=True))
                continue
        layer = Overlay(overlay)
        try:
            done = apply_batch(layer, batch)
            failed = next((r.error for r in done.result.results if r.error is not None), None)
            if batch.atomic and failed is not None:
                applied.append(_rolled_back(done, failed))
                continue  # nothing of the batch is written
            if rid:
                requests.record(layer, rid, batch.now, done.result)
            applied.append(done)
        except Exception as exc:
            log.exception("batch failed to apply")
            applied.append(MailError(ErrorKind.INTERNAL, type(exc).__name__))
            continue
        layer.merge_into(overlay)
    return GroupOutcome(overlay.writes, tuple(applied))
