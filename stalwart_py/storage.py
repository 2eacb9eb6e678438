"""Bridges the store's writer thread to trio: ``await write(store, batch)``, no thread each, and
:class:`LocalWriteLog`, the store's own writer as the first :class:`store.writelog.WriteLog`."""

from __future__ import annotations

import trio

from store import ApplyResult, Batch, ErrorKind, MailError, Store
from store.writelog import Effect


async def write(store: Store, batch: Batch) -> ApplyResult:
    """Returns once the batch is durable.  If the caller is cancelled meanwhile, the write still
    completes (it cannot be recalled), it is just not acknowledged to the caller."""
    token = trio.lowlevel.current_trio_token()
    done = trio.Event()
    outcome: list[tuple[ApplyResult | None, BaseException | None]] = []

    def finished(result: ApplyResult | None, error: BaseException | None) -> None:
        outcome.append((result, error))
        try:
            token.run_sync_soon(done.set)
        except trio.RunFinishedError:
            pass

    store.submit(batch, finished)
    await done.wait()
    result, error = outcome[0]
    if error is not None:
        raise error
    assert result is not None
    return result


class LocalWriteLog:
    """One node's write log: the store's group-committing, fsyncing writer thread.  A batch is
    applied once ``propose`` returns, so ``wait_applied`` of any index this node handed out
    returns at once."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def propose(self, batch: Batch) -> ApplyResult:
        return await write(self.store, batch)

    async def wait_applied(self, index: int) -> None:
        if index > self.store.applied_index:
            raise MailError(ErrorKind.INTERNAL, f"log index {index} was never applied here")

    @property
    def applied_index(self) -> int:
        return self.store.applied_index

    def once_per_cluster(self, effect: Effect) -> bool:
        """One node: it runs every effect."""
        return True
