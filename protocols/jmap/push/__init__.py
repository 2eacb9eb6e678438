"""JMAP push (RFC 8620 §7, RFC 8887 §4.3.5), in one place.

:mod:`.objects` (sans-IO): StateChange, PushVerification, PushSubscription and its /get and
/set methods, the EventSource framing and the push states of a token's accounts.
:mod:`.server` (trio): the change feed handed to trio listeners (:class:`ChangeHub`) and the
delivery of PushSubscriptions (:class:`PushSender`, with its outbound HTTP client).
"""

from .objects import (
    TYPE_NAME,
    BadParameter,
    EventSourceParams,
    PushHooks,
    PushSubscription,
    changed_states,
    filter_types,
    parse_event_source,
    ping_event,
    push_state,
    push_verification,
    register,
    sse_event,
    state_change,
    type_states,
    types_since,
)
from .server import ChangeHub, Listener, PushError, PushSender, RetryPolicy, post_json

__all__ = [
    "TYPE_NAME",
    "BadParameter",
    "ChangeHub",
    "EventSourceParams",
    "Listener",
    "PushError",
    "PushHooks",
    "PushSender",
    "PushSubscription",
    "RetryPolicy",
    "changed_states",
    "filter_types",
    "parse_event_source",
    "ping_event",
    "post_json",
    "push_state",
    "push_verification",
    "register",
    "sse_event",
    "state_change",
    "type_states",
    "types_since",
]
