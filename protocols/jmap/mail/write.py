"""The JMAP Mail write side's shared helpers (a leaf module: it imports no method module).

Every handler writes through the mail service: ``ctx.services.mail.begin(ctx.access)`` gives a
:class:`~protocols.mail.MailTransaction` whose methods check the token's rights as they are
called, and one :meth:`~protocols.mail.MailTransaction.commit` per step, so a JMAP change is
one store change (one modseq) that IMAP sees at once.  :class:`Step` keeps each operation's
:class:`~protocols.mail.Ref` beside the JMAP object it is for; a refusal by the service
(NO_PERMISSION, NOT_FOUND) becomes that object's SetError through the one mapping
(:func:`~protocols.jmap.core.set_error_for`: ``forbidden`` / ``notFound``).  State strings are the
store's per-type states (``str(account.type_state("Email"))``), so ``oldState``/``newState`` of
a /set agree with /get and /changes.

The method modules register themselves in ``protocols.jmap.mail`` (the package's ``__init__``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Concatenate, Final, Generic, ParamSpec, TypeVar

from protocols.mail import MailError, MailTransaction, Ref
from store import OpResult
from store.ids import object_id, parse_object_id
from store.keywords import MAX_EMAIL_KEYWORDS

from ..context import JmapContext
from ..core import (
    MethodCall,
    MethodError,
    SetError,
    compute_changes,
    parse_changes,
    parse_state,
    set_error_for,
)

K = TypeVar("K")
V = TypeVar("V")
P = ParamSpec("P")

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


class Step(Generic[K]):
    """The operations of one step of a method (a /set's creates, its updates ...) in one mail
    transaction of the request's token, each kept with the key (creation id, id ...) of the
    JMAP object it is for."""

    def __init__(self, ctx: JmapContext, now: int | None = None) -> None:
        self.tx = ctx.services.mail.begin(ctx.access, now)
        self._refs: list[tuple[K, Ref]] = []

    def add(
        self, key: K, method: Callable[P, Ref], *args: P.args, **kwargs: P.kwargs
    ) -> SetError | None:
        """Adds ``method(*args, **kwargs)`` (a method of :attr:`tx`) for ``key``; the SetError
        instead when the service refuses it at once (the token lacks the right: ``forbidden``,
        or may not see the object: ``notFound``)."""
        try:
            ref = method(*args, **kwargs)
        except MailError as err:
            return set_error_for(err)
        self._refs.append((key, ref))
        return None

    async def commit(self) -> list[tuple[K, OpResult]]:
        """Writes the step as one batch: each key with its operation's outcome."""
        if not self._refs:
            return []
        committed = await self.tx.commit()
        return [(key, committed[ref]) for key, ref in self._refs]


async def write_one(
    ctx: JmapContext,
    method: Callable[Concatenate[MailTransaction, P], Ref],
    *args: P.args,
    **kwargs: P.kwargs,
) -> OpResult:
    """One operation (``MailTransaction.method``) in a transaction of its own; a refusal by
    the service is its outcome's error, like a failure of the write."""
    tx = ctx.services.mail.begin(ctx.access)
    try:
        ref = method(tx, *args, **kwargs)
    except MailError as err:
        return OpResult(error=err)
    return (await tx.commit())[ref]


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
