"""The write log: where batches go to be applied, on one node or, later, on a Raft cluster.

Protocol code never knows which.  :class:`WriteLog` is the interface: ``propose`` a batch and get
its result (with the log index of the group that applied it, ``ApplyResult.index``) once it is
durable and applied on this node; ``wait_applied`` lets a reader wait until the log has been
applied up to an index (read-your-writes on a node that did not propose the write).

Besides success and domain errors (values inside the result), a proposal can fail in two ways
that every protocol maps (IMAP ``NO [UNAVAILABLE]``, JMAP ``serverUnavailable`` /
``serverPartialFail``, LMTP ``451 4.3.0``):

- :class:`Unavailable`: the log cannot accept writes now (no quorum); nothing happened.
- :class:`UnknownOutcome`: the batch may or may not have been applied (the leader was lost
  while committing); a retry with the same ``Batch.request_id`` is applied at most once
  (store/requests.py).

The first implementation is the store's own group-committing, fsyncing writer
(``stalwart_py.storage.LocalWriteLog``); the cluster issue adds the Raft log.
"""

from __future__ import annotations

import enum
from typing import Protocol

from .batch import ApplyResult, Batch
from .errors import ErrorKind, MailError


class Unavailable(MailError):
    """No write happened: the log cannot accept writes now (e.g. no quorum)."""

    def __init__(self, detail: str = "the write log is unavailable") -> None:
        super().__init__(ErrorKind.UNAVAILABLE, detail)


class UnknownOutcome(MailError):
    """The write may or may not have happened."""

    def __init__(self, detail: str = "the outcome of the write is unknown") -> None:
        super().__init__(ErrorKind.UNKNOWN_OUTCOME, detail)


class Effect(enum.Enum):
    """Side effects that must happen once per cluster, not once per node that applied a batch:
    each is routed through :meth:`WriteLog.once_per_cluster` (on a cluster, the leader's lease
    answers; on one node, always yes)."""

    JANITOR = "janitor"  # expiry and compaction batches
    PUSH = "push"  # PushSubscription StateChange POSTs (RFC 8620 §7.2)
    BOOTSTRAP = "bootstrap"  # the first-start accounts and their generated passwords
    OUTBOUND = "outbound"  # sending queued mail (the submission issue)
    VACATION = "vacation"  # vacation replies (the Sieve issue)


class WriteLog(Protocol):
    async def propose(self, batch: Batch) -> ApplyResult:
        """The batch's result once it is durable and applied here; raises
        :class:`Unavailable` or :class:`UnknownOutcome` (or ``MailError(TEMPORARY)`` when the
        local disk fails)."""
        ...

    async def wait_applied(self, index: int) -> None:
        """Returns once this node has applied the log up to ``index``."""
        ...

    @property
    def applied_index(self) -> int:
        """The index of the last group this node has applied."""
        ...

    def once_per_cluster(self, effect: Effect) -> bool:
        """Whether this node is the one to run ``effect`` now."""
        ...
