"""The rights a token can hold: RFC 4314 §2.1 letters as values, and how protocols name them.

A leaf module (no imports from the mail service), so that tokens and checks can both use it.
"""

from __future__ import annotations

import enum
from typing import Final


class Right(enum.Enum):
    """RFC 4314 §2.1 rights."""

    LOOKUP = "l"  # the mailbox is visible (LIST)
    READ = "r"  # SELECT, FETCH, SEARCH, COPY from
    SEEN = "s"  # keep \Seen
    WRITE = "w"  # keep keywords other than \Seen and \Deleted
    INSERT = "i"  # APPEND, COPY into
    POST = "p"  # send mail to the submission address (deliver into)
    CREATE = "k"  # create child mailboxes
    DELETE_MAILBOX = "x"  # delete / rename the mailbox
    DELETE_MESSAGES = "t"  # set or clear \Deleted
    EXPUNGE = "e"  # EXPUNGE, and take messages out
    ADMIN = "a"  # administer the ACL


Rights = frozenset[Right]
OWNER: Final[Rights] = frozenset(Right)
NONE: Final[Rights] = frozenset()

# The letters in RFC 4314 §2.1 order (IMAP MYRIGHTS prints them so).
LETTERS: Final = "lrswipkxtea"


def letters(rights: Rights) -> str:
    return "".join(c for c in LETTERS if Right(c) in rights)


def keyword_right(keyword: str) -> Right:
    """The right that setting or clearing ``keyword`` (lower case) needs (RFC 4314 §4)."""
    if keyword == "$seen":
        return Right.SEEN
    if keyword == "$deleted":
        return Right.DELETE_MESSAGES
    return Right.WRITE


def jmap_rights(rights: Rights) -> dict[str, bool]:
    """RFC 8621 §2 MailboxRights from RFC 4314 rights (the mapping RFC 8621 §2 suggests)."""
    return {
        "mayReadItems": Right.READ in rights,
        "mayAddItems": Right.INSERT in rights,
        "mayRemoveItems": Right.DELETE_MESSAGES in rights and Right.EXPUNGE in rights,
        "maySetSeen": Right.SEEN in rights,
        "maySetKeywords": Right.WRITE in rights,
        "mayCreateChild": Right.CREATE in rights,
        "mayRename": Right.DELETE_MAILBOX in rights,
        "mayDelete": Right.DELETE_MAILBOX in rights,
        "maySubmit": Right.POST in rights,
    }
