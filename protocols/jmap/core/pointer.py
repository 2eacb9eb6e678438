"""JSON Pointer (RFC 6901) with JMAP's ``*`` extension (RFC 8620 §3.7).

``*`` on an array applies the rest of the pointer to every item and collects the results in
order; a result that is itself an array contributes its items instead (the output is flattened
one level per item).  Evaluation is iterative, so deep documents cannot exhaust the stack.
"""

from __future__ import annotations

import re
from typing import Any

_INDEX = re.compile(r"0|[1-9][0-9]*")


class PointerError(ValueError):
    """The pointer is malformed or does not resolve in the document."""


def unescape(token: str) -> str:
    """RFC 6901 §4: ``~1`` → ``/`` first, then ``~0`` → ``~``; any other ``~`` is an error."""
    if "~" not in token:
        return token
    if re.search(r"~(?![01])", token):
        raise PointerError(f"bad escape in {token!r}")
    return token.replace("~1", "/").replace("~0", "~")


def split(pointer: str) -> tuple[str, ...]:
    """The unescaped reference tokens of a pointer (``""`` is the whole document)."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise PointerError(f"a JSON pointer starts with '/': {pointer!r}")
    if "~" not in pointer:  # nothing escaped (the usual "/ids", "/list/*/id")
        return tuple(pointer[1:].split("/"))
    return tuple(unescape(t) for t in pointer[1:].split("/"))


def _step(value: Any, token: str) -> Any:
    if isinstance(value, dict):
        if token not in value:
            raise PointerError(f"no member {token!r}")
        return value[token]
    if isinstance(value, list):
        # RFC 6901 §4: an index is "0" or digits without a leading zero; "-" names a
        # non-existent element and is an error when evaluating.
        if not _INDEX.fullmatch(token) or int(token) >= len(value):
            raise PointerError(f"no array element {token!r}")
        return value[int(token)]
    raise PointerError(f"cannot index a scalar with {token!r}")


def evaluate(document: Any, pointer: str, *, star: bool = True) -> Any:
    """Evaluate ``pointer`` in ``document``; raise :class:`PointerError` when it fails."""
    values = [document]
    mapped = False  # True once a ``*`` has fanned the evaluation out
    for token in split(pointer):
        if star and token == "*" and all(isinstance(v, list) for v in values):
            values = [item for v in values for item in v]
            mapped = True
        else:
            values = [_step(v, token) for v in values]
    if not mapped:
        return values[0]
    out: list[Any] = []
    for value in values:
        if isinstance(value, list):
            out.extend(value)
        else:
            out.append(value)
    return out
