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

from collections.abc import Callable, Collection, Mapping
from typing import Any

from .errors import SET_INVALID_PATCH, SetError
from .pointer import PointerError, split


def _invalid(description: str) -> SetError:
    return SetError(SET_INVALID_PATCH, description)


def patch_paths(patch: Any) -> dict[tuple[str, ...], Any]:
    """The validated paths of a PatchObject (unescaped tokens) → their values."""
    if not isinstance(patch, dict):
        raise _invalid("A PatchObject must be a JSON object.")
    paths: dict[tuple[str, ...], Any] = {}
    for key, value in patch.items():
        try:
            tokens = split("/" + key)
        except PointerError as exc:
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


_ABSENT: Any = object()


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: ``true`` is not ``1`` (as Python's ``==`` would have it),
    ``1`` is ``1.0``; objects by members, arrays (lists or tuples) in order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):  # stored arrays: tuples
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def drop_unchanged(
    patch: Any,
    mutable: Collection[str],
    current: Callable[[set[str]], Mapping[str, Any]],
) -> Any:
    """``patch`` without the paths into server-set or immutable properties (every property not
    in ``mutable``) whose value is the object's current value.

    RFC 8620 §5.3: "Any server-set properties MAY be included in the patch if their value is
    identical to the current server value (before applying the patches to the object).
    Otherwise, the update MUST be rejected with an invalidProperties SetError."  Clients send
    whole objects back, so every /set method runs its patches through this first (immutable
    properties alike); a path left into such a property carries a changed value, and the
    method refuses it as before.  ``current(names)`` gives those top-level properties as /get
    shows them (one it does not know is left out: its paths stay in the patch); it is only
    called when the patch names such a property.  A malformed patch is returned unchanged, for
    :func:`patch_paths` to refuse."""
    if not isinstance(patch, dict):
        return patch
    paths: dict[str, tuple[str, ...]] = {}
    for key in patch:
        try:
            paths[key] = split("/" + key) if isinstance(key, str) else ()
        except PointerError:
            return patch
    fixed = {tokens[0] for tokens in paths.values() if tokens and tokens[0] not in mutable}
    if not fixed:
        return patch
    shown = current(fixed)
    out: dict[str, Any] = {}
    for key, value in patch.items():
        tokens = paths[key]
        if tokens and tokens[0] in fixed and json_equal(_at(shown, tokens), value):
            continue
        out[key] = value
    return out


def _at(obj: Any, tokens: tuple[str, ...]) -> Any:
    for token in tokens:
        if not isinstance(obj, dict) or token not in obj:
            return _ABSENT
        obj = obj[token]
    return obj
