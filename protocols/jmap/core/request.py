"""The JMAP Request and Response objects (RFC 8620 §3.3, §3.4) and request-level limits (§2).

:func:`parse_request` turns a request body into a validated :class:`Request` or raises a
:class:`RequestProblem` (§3.6.1); :class:`Response` is what the dispatcher returns.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NamedTuple

from .capabilities import CoreLimits
from .errors import RequestProblem
from .jsonio import JsonError, dumps, loads


class Invocation(NamedTuple):
    """``[name, arguments, methodCallId]`` (§3.2); a method response has the same shape."""

    name: str
    arguments: dict[str, Any]
    call_id: str

    def to_json(self) -> list[Any]:
        return [self.name, self.arguments, self.call_id]


@dataclass(frozen=True, slots=True)
class Request:
    using: tuple[str, ...]
    method_calls: tuple[Invocation, ...]
    # None when the request had no createdIds property (then the response has none either).
    created_ids: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Response:
    method_responses: tuple[Invocation, ...]
    session_state: str
    created_ids: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "methodResponses": [r.to_json() for r in self.method_responses],
            "sessionState": self.session_state,
        }
        # §3.4: createdIds is "only returned if given in the request".
        if self.created_ids is not None:
            out["createdIds"] = dict(self.created_ids)
        return out

    def to_bytes(self) -> bytes:
        return dumps(self.to_json())


def request_too_large(limits: CoreLimits, size: int | None = None) -> RequestProblem:
    """The ``limit`` problem for a body over ``maxSizeRequest`` (RFC 8620 §3.6.1: it "MUST"
    name the limit), with HTTP status 413 Content Too Large (RFC 9110 §15.5.14)."""
    got = "larger" if size is None else f"{size} octets"
    return RequestProblem.over_limit(
        "maxSizeRequest",
        f"The request is {got}; the limit (maxSizeRequest) is {limits.max_size_request} octets.",
        status=413,
    )


def check_request_size(size: int, limits: CoreLimits) -> None:
    """Raise the ``limit`` problem for a body over ``maxSizeRequest`` (callable before reading)."""
    if size > limits.max_size_request:
        raise request_too_large(limits, size)


def check_content_type(value: str | None) -> None:
    """RFC 8620 §3.6.1 ``notJSON``: "The content type of the request was not
    application/json or the request did not parse as I-JSON."  Media type parameters (such as
    ``charset=utf-8``) are allowed; the type and subtype are case-insensitive (RFC 9110 §8.3.1).
    """
    media_type = (value or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise RequestProblem.not_json(
            f"The request's Content-Type is {value!r}; it must be application/json."
            if value
            else "The request has no Content-Type; it must be application/json."
        )


def parse_request(body: bytes, *, limits: CoreLimits, capabilities: Collection[str]) -> Request:
    """Parse and validate a request body against the type signature of §3.3.

    ``capabilities`` are the capability URIs the server advertises in the Session object; any
    other in ``using`` is an ``unknownCapability`` problem.  Extra top-level properties are
    ignored.
    """
    check_request_size(len(body), limits)
    try:
        data = loads(body)
    except JsonError as exc:
        raise RequestProblem.not_json(f"The request did not parse as I-JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestProblem.not_request("The request must be a JSON object.")
    using = data.get("using")
    if not isinstance(using, list) or not all(isinstance(u, str) for u in using):
        raise RequestProblem.not_request("'using' must be an array of strings.")
    calls = data.get("methodCalls")
    if not isinstance(calls, list):
        raise RequestProblem.not_request("'methodCalls' must be an array.")
    invocations: list[Invocation] = []
    for index, call in enumerate(calls):
        if (
            not isinstance(call, list)
            or len(call) != 3
            or not isinstance(call[0], str)
            or not isinstance(call[1], dict)
            or not isinstance(call[2], str)
        ):
            raise RequestProblem.not_request(
                f"methodCalls[{index}] must be [name: String, arguments: Object, id: String]."
            )
        invocations.append(Invocation(call[0], call[1], call[2]))
    created = data.get("createdIds")
    if created is not None and (
        not isinstance(created, dict) or not all(isinstance(v, str) for v in created.values())
    ):
        raise RequestProblem.not_request("'createdIds' must map creation ids to ids.")
    for capability in using:
        if capability not in capabilities:
            raise RequestProblem.unknown_capability(capability)
    if len(invocations) > limits.max_calls_in_request:
        raise RequestProblem.over_limit(
            "maxCallsInRequest",
            f"The request has {len(invocations)} method calls; "
            f"the limit is {limits.max_calls_in_request}.",
        )
    return Request(
        using=tuple(dict.fromkeys(using)),
        method_calls=tuple(invocations),
        created_ids=dict(created) if created is not None else None,
    )
