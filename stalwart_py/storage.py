"""Bridges the store's writer thread to trio: ``await write(store, batch)``, no thread each."""

from __future__ import annotations

import trio

from store import ApplyResult, Batch, Store


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
