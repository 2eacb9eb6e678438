"""The JMAP Mail write side: shared helpers of the write methods and their registration.

Every handler writes through ``services.write`` with one :class:`~store.Batch` per step, so a
JMAP change is one store change (one modseq) that IMAP sees at once.  State strings are the
store's per-type states (``str(account.type_state("Email"))``), so ``oldState``/``newState``
of a /set agree with /get and /changes.

:func:`register_write` registers (RFC 8621 unless noted) Mailbox/set, Email/set, Email/import,
Email/copy, Email/parse, Blob/upload, Blob/get, Blob/lookup (RFC 9404), Blob/copy (RFC 8620
§6.3), Identity/get|changes|set, VacationResponse/get|set and
EmailSubmission/get|changes|query|queryChanges|set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

from store import ApplyResult, Batch
from store.batch import Op
from store.ids import object_id, parse_object_id
from store.keywords import MAX_EMAIL_KEYWORDS

from ..context import JmapContext
from ..core import (
    Dispatcher,
    MethodCall,
    MethodError,
    compute_changes,
    parse_changes,
    parse_state,
)

V = TypeVar("V")

# Limits of one email (RFC 8621 §4.6 tooManyKeywords / tooManyMailboxes).
MAX_KEYWORDS: Final = MAX_EMAIL_KEYWORDS  # one limit for the store, IMAP and JMAP
MAX_MAILBOXES_PER_EMAIL: Final = 128


def context_of(call: MethodCall) -> JmapContext:
    ctx = call.context
    if not isinstance(ctx, JmapContext):
        raise MethodError("serverFail", "No JMAP context for this request.")
    return ctx


def type_state(ctx: JmapContext, acct: int, type_name: str) -> str:
    """The JMAP state string of ``type_name`` in ``acct`` (RFC 8620 §5.1 ``state``)."""
    state = ctx.store.account(acct)
    return str(state.type_state(type_name)) if state is not None else "0"


async def write_ops(ctx: JmapContext, ops: Iterable[Op]) -> ApplyResult:
    """Applies ``ops`` as one batch stamped with the services' clock."""
    return await ctx.services.write(Batch(tuple(ops), now=ctx.services.now()))


def resolve_ref(value: str, created_ids: Mapping[str, str]) -> str | None:
    """An id or ``#creationId`` (RFC 8620 §5.3) → the id; None for an unknown creation id."""
    if value.startswith("#"):
        return created_ids.get(value[1:])
    return value


def parse_ref(kind: str, value: Any, created_ids: Mapping[str, str]) -> int | None:
    """The stored number behind an id (or ``#creationId``) of ``kind``; None when it is not one."""
    if not isinstance(value, str):
        return None
    resolved = resolve_ref(value, created_ids)
    return None if resolved is None else parse_object_id(kind, resolved)


def object_id_str(number: int) -> str:
    return object_id("object", number)


async def standard_changes(call: MethodCall, type_name: str, response: str) -> list[Any]:
    """A /changes (RFC 8620 §5.2) over the change log for a generic object type."""
    ctx = context_of(call)
    args = parse_changes(call.args)
    acct = ctx.account(args.account_id)
    state = ctx.store.account(acct)
    assert state is not None
    position = parse_state(args.since_state)
    changes = compute_changes(
        type_name,
        args.since_state,
        current=state.type_state(type_name),
        floor=state.changes_floor,
        log=ctx.store.changes_since(acct, position.modseq if position else 0),
        max_changes=args.max_changes,
        id_of=object_id_str,
    )
    return [(response, changes.to_json(args.account_id))]


def standard_get(
    response: str,
    account_id: str,
    state: str,
    stored: Mapping[int, V],
    ids: Sequence[str] | None,
    render: Callable[[int, V], dict[str, Any]],
) -> list[tuple[str, dict[str, Any]]]:
    """A /get (RFC 8620 §5.1) over generic per-account objects, ``stored`` by number: every
    object when ``ids`` is None, else each id in order, unknown ones in ``notFound``."""
    wanted = ids if ids is not None else [object_id_str(n) for n in stored]
    found: list[dict[str, Any]] = []
    not_found: list[str] = []
    for ident in wanted:
        number = parse_object_id("object", ident)
        if number is None or number not in stored:
            not_found.append(ident)
        else:
            found.append(render(number, stored[number]))
    return [
        (
            response,
            {"accountId": account_id, "state": state, "list": found, "notFound": not_found},
        )
    ]


def register_write(dispatcher: Dispatcher) -> None:
    """Registers every write-side method (called by ``protocols.jmap.mail.register``)."""
    from .blob import register as blob
    from .email_import import register as email_import
    from .email_set import register as email_set
    from .identity import register as identity
    from .mailbox_set import register as mailbox_set
    from .submission import register as submission
    from .vacation import register as vacation

    for register in (mailbox_set, email_set, email_import, blob, identity, vacation, submission):
        register(dispatcher)
