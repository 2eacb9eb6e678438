"""The change feed: after a batch is durable, subscribers learn which accounts changed.

Callbacks run on the store's writer thread, so they must be quick and must not write to the store;
IMAP IDLE, JMAP push and the full-text indexer hand the event over to their own task or thread.
On a cluster every node applies every batch, so every node's feed fires.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    account_id: int
    modseq: int
    types: frozenset[str]  # JMAP type names changed, plus "imap" when UID events were logged


Subscriber = Callable[[ChangeEvent], None]


class ChangeFeed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, Subscriber] = {}
        self._next = 0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Registers ``callback``; returns a function that unsubscribes it."""
        with self._lock:
            token = self._next
            self._next += 1
            self._subscribers[token] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(token, None)

        return unsubscribe

    def publish(self, event: ChangeEvent) -> None:
        with self._lock:
            subscribers = list(self._subscribers.values())
        for callback in subscribers:
            try:
                callback(event)
            except Exception:
                log.exception("change-feed subscriber failed")
