"""PatchObject (RFC 8620 §5.3): validate and apply ``{"path": value}`` updates.

Each key is a JSON Pointer with an implicit leading ``/``.  The RFC's restrictions, all answered
with the ``invalidPatch`` SetError:

- the pointer must not reference inside an array (arrays are replaced whole);
- every part before the last must already exist on the object being patched;
- no pointer may be a prefix of another in the same patch (``alerts`` and ``alerts/1/offset``).

A ``null`` value resets the property to its default when it has one (top-level properties named
in ``defaults``) and otherwise removes it; removing an absent member is a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import pointer
from .errors import SET_INVALID_PATCH, SetError


def _invalid(description: str) -> SetError:
    return SetError(SET_INVALID_PATCH, description)


def patch_paths(patch: Any) -> dict[tuple[str, ...], Any]:
    """The validated paths of a PatchObject (unescaped tokens) → their values."""
    if not isinstance(patch, dict):
        raise _invalid("A PatchObject must be a JSON object.")
    paths: dict[tuple[str, ...], Any] = {}
    for key, value in patch.items():
        try:
            tokens = pointer.split("/" + key)
        except pointer.PointerError as exc:
            raise _invalid(f"Bad path {key!r}: {exc}.") from None
        if any(t == "" for t in tokens):
            raise _invalid(f"Bad path {key!r}: empty segment.")
        paths[tokens] = value
    for tokens in paths:
        for end in range(1, len(tokens)):
            if tokens[:end] in paths:
                raise _invalid(
                    f"Path {'/'.join(tokens[:end])!r} is a prefix of {'/'.join(tokens)!r}."
                )
    return paths


def apply_patch(
    obj: Mapping[str, Any], patch: Any, *, defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A new object: ``obj`` with ``patch`` applied (``obj`` itself is not modified)."""
    paths = patch_paths(patch)
    result = dict(obj)
    copied: set[int] = {id(result)}
    for tokens, value in paths.items():
        parent: dict[str, Any] = result
        for depth, token in enumerate(tokens[:-1]):
            child = parent.get(token)
            if isinstance(child, list):
                raise _invalid(f"Path {'/'.join(tokens)!r} points inside an array.")
            if not isinstance(child, dict):
                raise _invalid(
                    f"Path {'/'.join(tokens)!r}: {'/'.join(tokens[: depth + 1])!r} "
                    "does not exist or is not an object."
                )
            if id(child) not in copied:
                child = dict(child)
                copied.add(id(child))
                parent[token] = child
            parent = child
        last = tokens[-1]
        if value is not None:
            parent[last] = value
        elif len(tokens) == 1 and defaults is not None and last in defaults:
            parent[last] = defaults[last]
        else:
            parent.pop(last, None)
    return result
