"""The method dispatcher (RFC 8620 §3.3–§3.7): runs a request's calls in order.

Handlers are registered by name with the capability that defines them.  For each call the
dispatcher checks that the method exists and that its capability is in ``using`` (otherwise
``unknownMethod``), resolves result references against the responses so far, and awaits the
handler.  A :class:`MethodError` becomes an ``error`` response; a :class:`MailError` is mapped
once by :func:`method_error_for`; anything else is logged with an incident id and answered as
``serverFail`` carrying only that id.  Processing always continues with the next call (§3.6.2).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from store.errors import MailError

from .capabilities import CORE
from .errors import SERVER_FAIL, UNKNOWN_METHOD, MethodError, method_error_for
from .refs import resolve_arguments
from .request import Invocation, Request, Response

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MethodCall:
    """One method call as a handler sees it (result references already resolved)."""

    name: str
    args: dict[str, Any]
    call_id: str
    # args["accountId"] when it is a string (validation is the handler's), else None.
    account_id: str | None
    # The request's creation id → id map; shared by every call of the request: a handler that
    # creates objects adds its creation ids here (§3.3, §5.3).
    created_ids: dict[str, str]
    using: frozenset[str]
    # The application's per-request context (the authenticated user, the store, ...).
    context: Any = None
    # The responses produced so far in this request (read-only by convention).
    responses: tuple[Invocation, ...] = field(default=())


Handler = Callable[[MethodCall], Awaitable[list[tuple[str, dict[str, Any]]]]]


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    capability: str
    handler: Handler


async def core_echo(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    """``Core/echo`` (§4.1): returns exactly the arguments it is given."""
    return [("Core/echo", call.args)]


def _incident_id() -> str:
    return secrets.token_hex(6)


class Dispatcher:
    """A registry of method handlers and the loop that runs a request through them."""

    def __init__(self, *, echo: bool = True) -> None:
        self._methods: dict[str, Method] = {}
        if echo:
            self.register("Core/echo", CORE, core_echo)

    def register(self, name: str, capability: str, handler: Handler) -> None:
        if name in self._methods:
            raise ValueError(f"method {name!r} is already registered")
        self._methods[name] = Method(name, capability, handler)

    def method(self, name: str) -> Method | None:
        return self._methods.get(name)

    @property
    def capabilities(self) -> frozenset[str]:
        """The capabilities that have at least one registered method."""
        return frozenset(m.capability for m in self._methods.values())

    async def execute(
        self, request: Request, *, session_state: str, context: Any = None
    ) -> Response:
        created_ids: dict[str, str] = dict(request.created_ids or {})
        using = frozenset(request.using)
        responses: list[Invocation] = []
        for name, arguments, call_id in request.method_calls:
            produced = await self._run_one(
                name, arguments, call_id, using, created_ids, tuple(responses), context
            )
            responses.extend(Invocation(n, a, call_id) for n, a in produced)
        return Response(
            method_responses=tuple(responses),
            session_state=session_state,
            created_ids=created_ids if request.created_ids is not None else None,
        )

    async def _run_one(
        self,
        name: str,
        arguments: dict[str, Any],
        call_id: str,
        using: frozenset[str],
        created_ids: dict[str, str],
        responses: tuple[Invocation, ...],
        context: Any,
    ) -> list[tuple[str, dict[str, Any]]]:
        method = self._methods.get(name)
        # A method whose capability the client did not put in "using" does not exist for this
        # request (§3.3 "using"; errata 6606 makes the core capability mandatory there too).
        if method is None or method.capability not in using:
            return [("error", MethodError(UNKNOWN_METHOD, f"Unknown method {name!r}.").to_json())]
        try:
            args = resolve_arguments(arguments, responses)
            account = args.get("accountId")
            call = MethodCall(
                name=name,
                args=args,
                call_id=call_id,
                account_id=account if isinstance(account, str) else None,
                created_ids=created_ids,
                using=using,
                context=context,
                responses=responses,
            )
            produced = await method.handler(call)
            self._check_produced(name, produced)
            return produced
        except MethodError as exc:
            return [("error", exc.to_json())]
        except MailError as exc:
            log.info("%s (call %s) failed: %s", name, call_id, exc)
            return [("error", method_error_for(exc).to_json())]
        except Exception:
            incident = _incident_id()
            log.exception("%s (call %s) raised; incident %s", name, call_id, incident)
            return [
                (
                    "error",
                    MethodError(SERVER_FAIL, f"Internal error (incident {incident}).").to_json(),
                )
            ]

    @staticmethod
    def _check_produced(name: str, produced: object) -> None:
        if isinstance(produced, list) and produced:
            for p in produced:
                if not (
                    isinstance(p, tuple)
                    and len(p) == 2
                    and isinstance(p[0], str)
                    and isinstance(p[1], dict)
                ):
                    break
            else:
                return
        raise TypeError(f"handler for {name} returned {produced!r}, not [(name, dict)]")
