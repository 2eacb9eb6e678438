"""Result references (RFC 8620 §3.7) and creation-id references (§5.3).

A method argument named ``#foo`` holds a ResultReference ``{"resultOf", "name", "path"}``; it is
replaced by the value the path selects in an earlier response of the same request.  Elsewhere an
id may be written ``#creationId`` to mean the id the server assigned to that creation earlier in
the request (the request's ``createdIds`` map).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import INVALID_RESULT_REFERENCE, MethodError, invalid_arguments
from .pointer import PointerError, evaluate
from .request import Invocation


def _reference_error(description: str) -> MethodError:
    return MethodError(INVALID_RESULT_REFERENCE, description)


def resolve_reference(ref: Any, responses: Sequence[Invocation]) -> Any:
    """Evaluate one ResultReference against the responses so far (§3.7 steps 2–5)."""
    if (
        not isinstance(ref, dict)
        or not isinstance(ref.get("resultOf"), str)
        or not isinstance(ref.get("name"), str)
        or not isinstance(ref.get("path"), str)
    ):
        raise _reference_error("A ResultReference needs resultOf, name and path strings.")
    # Step 2: the *first* response with this method call id; step 3: its name must match.
    for response in responses:
        if response.call_id == ref["resultOf"]:
            break
    else:
        raise _reference_error(f"No earlier response has method call id {ref['resultOf']!r}.")
    if response.name != ref["name"]:
        raise _reference_error(
            f"The response to {ref['resultOf']!r} is {response.name!r}, not {ref['name']!r}."
        )
    try:
        return evaluate(response.arguments, ref["path"])
    except PointerError as exc:
        raise _reference_error(f"Path {ref['path']!r} does not resolve: {exc}.") from None


def resolve_arguments(arguments: dict[str, Any], responses: Sequence[Invocation]) -> dict[str, Any]:
    """A copy of ``arguments`` with every ``#name`` argument replaced by its resolved value.

    Step 1 of §3.7: an argument given both plainly and as a reference is ``invalidArguments``.
    """
    for key in arguments:
        if key[:1] == "#":
            break
    else:
        return arguments
    out: dict[str, Any] = {}
    for key, value in arguments.items():
        if not key.startswith("#"):
            out[key] = value
            continue
        name = key[1:]
        if not name:
            raise invalid_arguments("'#' is not an argument name.")
        if name in arguments:
            raise invalid_arguments(
                f"Argument {name!r} is given both directly and as a result reference.",
                arguments=[name],
            )
        out[name] = resolve_reference(value, responses)
    return out


# -- creation-id references ---------------------------------------------------------------------
def is_creation_ref(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("#") and len(value) > 1


def resolve_id(value: str, created_ids: Mapping[str, str]) -> str | None:
    """``#k`` → the id created for ``k`` (None when nothing was created as ``k``); others as is."""
    if value.startswith("#"):
        return created_ids.get(value[1:])
    return value


def resolve_ids(
    values: Iterable[str], created_ids: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """Resolve a list of ids: ``(resolved, unresolved)``, unresolved keeping the ``#k`` form.

    Order and duplicates of the resolved ids are kept; callers report the unresolved ones as
    ``notFound``.
    """
    resolved: list[str] = []
    unresolved: list[str] = []
    for value in values:
        target = resolve_id(value, created_ids)
        if target is None:
            unresolved.append(value)
        else:
            resolved.append(target)
    return resolved, unresolved
