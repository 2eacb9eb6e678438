"""Rights, computed in one place (RFC 4314 letters, read by JMAP ``myRights`` and IMAP).

Today a token holds owner rights in its own account only; the sharing issue grants accounts and
mailboxes through ACLs.  Every check of the mail service goes through :func:`mailbox_rights` /
:func:`require`, so that adding grants changes no caller.

A token that may not see an account (or, later, a mailbox without the ``l`` right) gets
NOT_FOUND, never a hint that the object exists; one that sees it but lacks the right gets
NO_PERMISSION.
"""

from __future__ import annotations

from store.errors import ErrorKind, MailError
from store.models import Email

from .rightset import LETTERS, NONE, OWNER, Right, Rights, jmap_rights, keyword_right, letters
from .token import AccessToken

__all__ = [
    "LETTERS",
    "NONE",
    "OWNER",
    "Right",
    "Rights",
    "account_rights",
    "in_any_mailbox",
    "jmap_rights",
    "keyword_right",
    "letters",
    "mailbox_rights",
    "require",
]


def account_rights(token: AccessToken, acct: int) -> Rights:
    """The token's rights in the account; NOT_FOUND when it may not see it."""
    rights = token.rights_in(acct)
    if rights is None:
        raise MailError(ErrorKind.NOT_FOUND, "no such account")
    return rights


def mailbox_rights(token: AccessToken, acct: int, mailbox_id: int) -> Rights:
    """The token's rights on one mailbox (today: its rights in the account)."""
    return account_rights(token, acct)


def in_any_mailbox(token: AccessToken, acct: int, email: Email, right: Right) -> bool:
    """Whether the token holds ``right`` in one of the mailboxes the email is in (reading an
    email needs READ in one of them; changing its keywords the keyword's right there)."""
    return any(right in mailbox_rights(token, acct, m) for m, _ in email.mailboxes)


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
