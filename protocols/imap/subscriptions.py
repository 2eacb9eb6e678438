"""IMAP subscriptions of names that have no mailbox.

A mailbox's own subscription is its ``subscribed`` flag (JMAP's ``isSubscribed``, RFC 8621 §2).
But DELETE must not drop the name from the subscription list: RFC 3501 §6.3.6 SUBSCRIBE says
the server "MUST NOT unilaterally remove an existing mailbox name from the subscription list
even if a mailbox by that name no longer exists" (RFC 9051 §6.3.7 keeps it as SHOULD NOT).  So
when IMAP deletes a subscribed mailbox its name is kept here, as a generic per-account store
object of :data:`TYPE_NAME` (the value: the name, a string), until UNSUBSCRIBE removes it or a
CREATE or RENAME makes a mailbox of that name again, which then starts subscribed.

JMAP has no object for these names (they are IMAP state); while a mailbox of the name exists
its own flag is the truth, and an entry left for it is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable

from protocols.mail import AccessToken, MailService, MailTransaction

from .names import normalise

# The JMAP push code treats "imap:" types as IMAP's own state (never pushed to JMAP clients).
TYPE_NAME = "imap:subscribed"
# Before the mail service the value was the name's UTF-8 bytes, under this type; such entries
# are still read (and dropped like the others), so a name kept then stays subscribed.
LEGACY_TYPE_NAME = "imap:subscription"


class Orphans:
    """The account's subscribed names without a mailbox: name -> the store objects holding it
    (normally one; a race of two DELETEs may leave two)."""

    def __init__(self, mail: MailService, token: AccessToken, account_id: int) -> None:
        self.account_id = account_id
        self.ids: dict[str, list[tuple[str, int]]] = {}  # name -> (type, object id)
        for oid, value in mail.objects(token, account_id, TYPE_NAME):
            self.ids.setdefault(normalise(str(value)), []).append((TYPE_NAME, oid))
        # mail.objects above refused an account the token may not see: the raw read is safe.
        for oid, raw in mail.store.objects(account_id, LEGACY_TYPE_NAME):
            name = raw.decode("utf-8", "replace")
            self.ids.setdefault(normalise(name), []).append((LEGACY_TYPE_NAME, oid))

    def __contains__(self, name: str) -> bool:
        return normalise(name) in self.ids

    def names(self) -> Iterable[str]:
        return self.ids.keys()

    def forget(self, tx: MailTransaction, name: str) -> bool:
        """Adds to ``tx`` what drops ``name`` from the list; False if it is not there."""
        oids = self.ids.get(normalise(name), [])
        for type_name, oid in oids:
            tx.destroy_object(self.account_id, type_name, oid)
        return bool(oids)

    def keep(self, tx: MailTransaction, name: str) -> None:
        """Adds to ``tx`` what keeps ``name`` subscribed once its mailbox is gone."""
        if name not in self:
            tx.set_object(self.account_id, TYPE_NAME, 0, normalise(name))
