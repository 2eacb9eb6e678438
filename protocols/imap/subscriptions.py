"""IMAP subscriptions of names that have no mailbox.

A mailbox's own subscription is its ``subscribed`` flag (JMAP's ``isSubscribed``, RFC 8621 §2).
But DELETE must not drop the name from the subscription list: RFC 3501 §6.3.6 SUBSCRIBE says
the server "MUST NOT unilaterally remove an existing mailbox name from the subscription list
even if a mailbox by that name no longer exists" (RFC 9051 §6.3.7 keeps it as SHOULD NOT).  So
when IMAP deletes a subscribed mailbox its name is kept here, as a generic per-account store
object of :data:`TYPE_NAME` (the value: the name, UTF-8), until UNSUBSCRIBE removes it or a
CREATE or RENAME makes a mailbox of that name again, which then starts subscribed.

JMAP has no object for these names (they are IMAP state); while a mailbox of the name exists
its own flag is the truth, and an entry left for it is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable

from store import Store
from store.batch import DestroyObject, Op, SetObject

from .names import normalise

# The JMAP push code treats "imap:" types as IMAP's own state (never pushed to JMAP clients).
TYPE_NAME = "imap:subscription"


class Orphans:
    """The account's subscribed names without a mailbox: name -> the store objects holding it
    (normally one; a race of two DELETEs may leave two)."""

    def __init__(self, store: Store, account_id: int) -> None:
        self.account_id = account_id
        self.ids: dict[str, list[int]] = {}
        for oid, value in store.objects(account_id, TYPE_NAME):
            self.ids.setdefault(normalise(value.decode("utf-8")), []).append(oid)

    def __contains__(self, name: str) -> bool:
        return normalise(name) in self.ids

    def names(self) -> Iterable[str]:
        return self.ids.keys()

    def forget(self, name: str) -> tuple[Op, ...]:
        """The operations that drop ``name`` from the list (none if it is not there)."""
        oids = self.ids.get(normalise(name), [])
        return tuple(DestroyObject(self.account_id, TYPE_NAME, oid) for oid in oids)

    def keep(self, name: str) -> tuple[Op, ...]:
        """The operations that keep ``name`` subscribed once its mailbox is gone."""
        if name in self:
            return ()
        return (SetObject(self.account_id, TYPE_NAME, 0, normalise(name).encode("utf-8")),)
