"""JMAP Mail (RFC 8621) and Quota (RFC 9425) methods.

:func:`register` adds every method of this package to a dispatcher: the read side defined here
and, when ``write.py`` exists, the write side's ``register_write``.
"""

from __future__ import annotations

import importlib
import importlib.util

from protocols.jmap.core import MAIL, QUOTA, Dispatcher

from .email_get import email_changes, email_get
from .email_query import email_query, email_query_changes
from .mailbox_read import mailbox_changes, mailbox_get, mailbox_query, mailbox_query_changes
from .quota import quota_changes, quota_get, quota_query, quota_query_changes
from .snippet import search_snippet_get
from .thread import thread_changes, thread_get


def register_read(dispatcher: Dispatcher) -> None:
    for name, handler in (
        ("Mailbox/get", mailbox_get),
        ("Mailbox/changes", mailbox_changes),
        ("Mailbox/query", mailbox_query),
        ("Mailbox/queryChanges", mailbox_query_changes),
        ("Thread/get", thread_get),
        ("Thread/changes", thread_changes),
        ("Email/get", email_get),
        ("Email/changes", email_changes),
        ("Email/query", email_query),
        ("Email/queryChanges", email_query_changes),
        ("SearchSnippet/get", search_snippet_get),
    ):
        dispatcher.register(name, MAIL, handler)
    for name, handler in (
        ("Quota/get", quota_get),
        ("Quota/changes", quota_changes),
        ("Quota/query", quota_query),
        ("Quota/queryChanges", quota_query_changes),
    ):
        dispatcher.register(name, QUOTA, handler)


def register(dispatcher: Dispatcher) -> None:
    """Registers the read side and, if present, the write side (``write.register_write``)."""
    register_read(dispatcher)
    if importlib.util.find_spec(f"{__name__}.write") is not None:
        write = importlib.import_module(f"{__name__}.write")
        write.register_write(dispatcher)


__all__ = ["register", "register_read"]
