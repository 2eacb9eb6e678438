"""Mailbox names: the store's mailbox tree seen through IMAP's hierarchical names.

The hierarchy delimiter is "/". The mailbox with role ``inbox`` is always ``INBOX`` (whatever
its JMAP name); its children are ``INBOX/...``. Names compare exactly, except INBOX, which is
case-insensitive (RFC 9051 §5.1).
"""

from __future__ import annotations

from collections.abc import Iterable

from store.models import Mailbox

DELIMITER = "/"

ROLE_ATTRIBUTES = {
    "drafts": "\\Drafts",
    "sent": "\\Sent",
    "trash": "\\Trash",
    "junk": "\\Junk",
    "archive": "\\Archive",
    "all": "\\All",
    "flagged": "\\Flagged",
    "important": "\\Important",
}
ATTRIBUTE_ROLES = {v.lower(): k for k, v in ROLE_ATTRIBUTES.items()}


def normalise(name: str) -> str:
    """INBOX in any case, alone or as the first component, becomes INBOX."""
    head, sep, rest = name.partition(DELIMITER)
    if head.upper() == "INBOX":
        return "INBOX" + sep + rest
    return name


class MailboxTree:
    def __init__(self, mailboxes: Iterable[Mailbox]) -> None:
        self.by_id = {m.id: m for m in mailboxes}
        self._paths: dict[int, str] = {}
        self.by_path: dict[str, Mailbox] = {}
        for m in self.by_id.values():
            self.by_path[self.path(m.id)] = m

    def path(self, mbox_id: int) -> str:
        cached = self._paths.get(mbox_id)
        if cached is not None:
            return cached
        parts = []
        seen: set[int] = set()
        m = self.by_id.get(mbox_id)
        while m is not None and m.id not in seen:
            seen.add(m.id)
            parts.append("INBOX" if m.role == "inbox" else m.name)
            m = self.by_id.get(m.parent_id) if m.parent_id else None
        path = DELIMITER.join(reversed(parts))
        self._paths[mbox_id] = path
        return path

    def find(self, name: str) -> Mailbox | None:
        return self.by_path.get(normalise(name))

    def children(self, mbox_id: int) -> list[Mailbox]:
        return [m for m in self.by_id.values() if m.parent_id == mbox_id]

    def split_new(self, name: str) -> tuple[int, list[str]]:
        """For CREATE: the deepest existing ancestor's id (0 = root) and the components that do
        not exist yet (superiors are created too, RFC 9051 §6.3.4)."""
        parts = [p for p in normalise(name).split(DELIMITER)]
        parent = 0
        for i in range(len(parts)):
            found = self.by_path.get(DELIMITER.join(parts[: i + 1]))
            if found is None:
                return parent, parts[i:]
            parent = found.id
        return parent, []

    def attributes(self, m: Mailbox) -> list[str]:
        attrs = ["\\HasChildren" if self.children(m.id) else "\\HasNoChildren"]
        if m.role in ROLE_ATTRIBUTES:
            attrs.append(ROLE_ATTRIBUTES[m.role])
        if m.subscribed:
            attrs.append("\\Subscribed")
        return attrs
