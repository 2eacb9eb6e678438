"""The mail service: every protocol stores and changes mail through it, with an AccessToken.

``token`` who acts; ``rights`` what it may do (one place); ``messages`` the one builder of stored
emails; ``transaction`` operations written as one batch; ``service`` the entry point and the
rights-checked reads; ``status`` outcomes as SMTP replies.  The protocol-neutral error taxonomy
is the store's (``ErrorKind``, ``MailError``), re-exported here.
"""

from store.errors import ErrorKind, MailError

from .messages import NewMessage, decode_metadata, decode_metadata_wire, encode_metadata
from .rights import OWNER, Right, Rights, jmap_rights, keyword_right, letters
from .service import MailService, Quota
from .status import DELIVERED, SmtpStatus, smtp_status
from .token import AccessToken, AuthMethod, Scope
from .transaction import UNCHANGED, Committed, MailTransaction, Ref, Writer

__all__ = [
    "DELIVERED",
    "OWNER",
    "UNCHANGED",
    "AccessToken",
    "AuthMethod",
    "Committed",
    "ErrorKind",
    "MailError",
    "MailService",
    "MailTransaction",
    "NewMessage",
    "Quota",
    "Ref",
    "Right",
    "Rights",
    "Scope",
    "SmtpStatus",
    "Writer",
    "decode_metadata",
    "decode_metadata_wire",
    "encode_metadata",
    "jmap_rights",
    "keyword_right",
    "letters",
    "smtp_status",
]
