"""Rights, computed in one place (RFC 4314 letters, read by JMAP ``myRights`` and IMAP).

Today a token holds owner rights in its own account only; the sharing issue grants accounts and
mailboxes through ACLs.  Every check of the mail service goes through :func:`mailbox_rights` /
:func:`require`, so that adding grants changes no caller.

A token that may not see an account (or, later, a mailbox without the ``l`` right) gets
NOT_FOUND, never a hint that the object exists; one that sees it but lacks the right gets
NO_PERMISSION.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Final

from store.errors import ErrorKind, MailError

if TYPE_CHECKING:
    from .token import AccessToken


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


def account_rights(token: AccessToken, acct: int) -> Rights:
    """The token's rights in the account; NOT_FOUND when it may not see it."""
    rights = token.rights_in(acct)
    if rights is None:
        raise MailError(ErrorKind.NOT_FOUND, "no such account")
    return rights


def mailbox_rights(token: AccessToken, acct: int, mailbox_id: int) -> Rights:
    """The token's rights on one mailbox (today: its rights in the account)."""
    return account_rights(token, acct)


def require(token: AccessToken, acct: int, right: Right, mailbox_id: int | None = None) -> None:
    """NOT_FOUND if the token may not see the account (or the mailbox); NO_PERMISSION if it
    sees it without ``right``."""
    rights = (
        account_rights(token, acct)
        if mailbox_id is None
        else mailbox_rights(token, acct, mailbox_id)
    )
    if right in rights:
        return
    if mailbox_id is not None and Right.LOOKUP not in rights:
        raise MailError(ErrorKind.NOT_FOUND, "no such mailbox")
    raise MailError(ErrorKind.NO_PERMISSION, f"the {right.name.lower()} right is missing")


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
