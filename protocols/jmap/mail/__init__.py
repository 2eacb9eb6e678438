"""JMAP Mail (RFC 8621), Quota (RFC 9425), Blob (RFC 9404) methods and their registration.

The registration tables live here, and only here: each method module is a leaf that imports
its helpers from leaf modules (``write``, ``email_build``, ``email_render`` ...), never from this
package, so the package has no import circle.  :func:`register` adds every method to a
dispatcher; :func:`register_read` and :func:`register_write` add one side each.
"""

from __future__ import annotations

from typing import Final

from protocols.jmap.core.capabilities import BLOB, CORE, MAIL, QUOTA, SUBMISSION, VACATION_RESPONSE
from protocols.jmap.core.dispatch import Dispatcher, Handler

from .blob import blob_copy, blob_get, blob_lookup, blob_upload
from .email_get import email_changes, email_get
from .email_import import email_copy, email_import, email_parse
from .email_query import email_query, email_query_changes
from .email_set import email_set
from .identity import identity_changes, identity_get, identity_set
from .mailbox_read import mailbox_changes, mailbox_get, mailbox_query, mailbox_query_changes
from .mailbox_set import mailbox_set
from .quota import quota_changes, quota_get, quota_query, quota_query_changes
from .snippet import search_snippet_get
from .submission import (
    submission_changes,
    submission_get,
    submission_query,
    submission_query_changes,
    submission_set,
)
from .thread import thread_changes, thread_get
from .vacation import vacation_get, vacation_set

# (method name, the capability it belongs to, its handler)
READ_METHODS: Final[tuple[tuple[str, str, Handler], ...]] = (
    ("Mailbox/get", MAIL, mailbox_get),
    ("Mailbox/changes", MAIL, mailbox_changes),
    ("Mailbox/query", MAIL, mailbox_query),
    ("Mailbox/queryChanges", MAIL, mailbox_query_changes),
    ("Thread/get", MAIL, thread_get),
    ("Thread/changes", MAIL, thread_changes),
    ("Email/get", MAIL, email_get),
    ("Email/changes", MAIL, email_changes),
    ("Email/query", MAIL, email_query),
    ("Email/queryChanges", MAIL, email_query_changes),
    ("SearchSnippet/get", MAIL, search_snippet_get),
    ("Quota/get", QUOTA, quota_get),
    ("Quota/changes", QUOTA, quota_changes),
    ("Quota/query", QUOTA, quota_query),
    ("Quota/queryChanges", QUOTA, quota_query_changes),
)
WRITE_METHODS: Final[tuple[tuple[str, str, Handler], ...]] = (
    ("Mailbox/set", MAIL, mailbox_set),
    ("Email/set", MAIL, email_set),
    ("Email/import", MAIL, email_import),
    ("Email/copy", MAIL, email_copy),
    ("Email/parse", MAIL, email_parse),
    ("Blob/upload", BLOB, blob_upload),
    ("Blob/get", BLOB, blob_get),
    ("Blob/lookup", BLOB, blob_lookup),
    ("Blob/copy", CORE, blob_copy),
    ("Identity/get", SUBMISSION, identity_get),
    ("Identity/changes", SUBMISSION, identity_changes),
    ("Identity/set", SUBMISSION, identity_set),
    ("VacationResponse/get", VACATION_RESPONSE, vacation_get),
    ("VacationResponse/set", VACATION_RESPONSE, vacation_set),
    ("EmailSubmission/get", SUBMISSION, submission_get),
    ("EmailSubmission/changes", SUBMISSION, submission_changes),
    ("EmailSubmission/query", SUBMISSION, submission_query),
    ("EmailSubmission/queryChanges", SUBMISSION, submission_query_changes),
    ("EmailSubmission/set", SUBMISSION, submission_set),
)


def _register(dispatcher: Dispatcher, methods: tuple[tuple[str, str, Handler], ...]) -> None:
    for name, capability, handler in methods:
        dispatcher.register(name, capability, handler)


def register_read(dispatcher: Dispatcher) -> None:
    """Mailbox, Thread, Email, SearchSnippet and Quota reads."""
    _register(dispatcher, READ_METHODS)


def register_write(dispatcher: Dispatcher) -> None:
    """RFC 8621 unless noted: Mailbox/set, Email/set, Email/import, Email/copy, Email/parse,
    Blob/upload, Blob/get, Blob/lookup (RFC 9404), Blob/copy (RFC 8620 §6.3),
    Identity/get|changes|set, VacationResponse/get|set and
    EmailSubmission/get|changes|query|queryChanges|set."""
    _register(dispatcher, WRITE_METHODS)


def register(dispatcher: Dispatcher) -> None:
    """Registers every method of this package."""
    register_read(dispatcher)
    register_write(dispatcher)


__all__ = ["READ_METHODS", "WRITE_METHODS", "register", "register_read", "register_write"]
