"""Argument parsing for the standard methods: /get (RFC 8620 §5.1), /changes (§5.2), /set (§5.3).

Each ``parse_*`` function takes the (reference-resolved) arguments object and returns a frozen
value, raising ``invalidArguments`` for a missing required argument, a wrong type, or an
argument the method does not know (§3.6.2).  Method-specific arguments are allowed by naming
them in ``extra``; their raw values are handed back in ``.extra`` for the method to check.

The primitive checks (:func:`get_id`, :func:`get_uint`, ...) are public so method-specific
parsers use the same rules: Id is 1–255 of ``A-Za-z0-9-_`` (§1.2), Int/UnsignedInt are within
±(2^53−1) (§1.3), and JSON ``true``/``false`` are never numbers.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import REQUEST_TOO_LARGE, STATE_MISMATCH, MethodError, invalid_arguments
from .refs import resolve_id

MAX_INT: Final = 2**53 - 1
_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,255}")
# A whole list of Ids joined with newlines, checked by one match instead of one per Id.
_ID_LINES: Final = re.compile(r"[A-Za-z0-9_-]{1,255}(?:\n[A-Za-z0-9_-]{1,255})*")
_ID_OR_REF_LINES: Final = re.compile(r"#?[A-Za-z0-9_-]{1,255}(?:\n#?[A-Za-z0-9_-]{1,255})*")


def is_id(value: Any) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _missing(name: str) -> MethodError:
    return invalid_arguments(f"Argument {name!r} is required.", arguments=[name])


def _bad(name: str, what: str) -> MethodError:
    return invalid_arguments(f"Argument {name!r} must be {what}.", arguments=[name])


def get_id(value: Any, name: str, *, allow_ref: bool = False) -> str:
    """An Id (§1.2), or with ``allow_ref`` also a ``#creationId`` reference."""
    if isinstance(value, str):
        if is_id(value) or (allow_ref and value.startswith("#") and is_id(value[1:])):
            return value
    raise _bad(name, "an Id")


def get_int(value: Any, name: str, *, minimum: int = -MAX_INT) -> int:
    """An Int (§1.3).  A JSON number with an integral value (``2.0``) is accepted."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_INT:
        raise _bad(name, f"an integer from {minimum} to {MAX_INT}")
    return value


def get_uint(value: Any, name: str, *, positive: bool = False) -> int:
    """An UnsignedInt (§1.3); ``positive`` refuses 0 too (e.g. maxChanges)."""
    return get_int(value, name, minimum=1 if positive else 0)


def get_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(name, "a boolean")
    return value


def get_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise _bad(name, "a string")
    return value


def get_str_list(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(name, "an array of strings")
    return tuple(value)


def get_id_list(value: Any, name: str, *, allow_ref: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _bad(name, "an array of Ids")
    if not value:
        return ()
    try:
        joined = "\n".join(value)  # TypeError unless every element is a string
    except TypeError:
        raise _bad(name, "an array of Ids") from None
    # Without a "#" the reference pattern accepts exactly what the plain one does (cheaper).
    pattern = _ID_OR_REF_LINES if allow_ref and "#" in joined else _ID_LINES
    # The count check refuses an element that itself holds a newline ("a\nb" is not two Ids).
    if joined.count("\n") != len(value) - 1 or pattern.fullmatch(joined) is None:
        raise _bad(name, "an array of Ids")
    return tuple(value)


def get_object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(name, "an object")
    return value


def check_known(
    args: Mapping[str, Any], known: Collection[str], extra: Collection[str] = ()
) -> None:
    """``invalidArguments`` naming every argument in neither ``known`` nor ``extra``."""
    for k in args:
        if k not in known and k not in extra:
            break
    else:
        return
    unknown = sorted(k for k in args if k not in known and k not in extra)
    if unknown:
        raise invalid_arguments(f"Unknown arguments: {', '.join(unknown)}.", arguments=unknown)


def optional(args: Mapping[str, Any], name: str, default: Any) -> Any:
    """``args[name]``, or ``default`` when it is absent or ``null``."""
    value = args.get(name)
    return default if value is None else value


def pick_extra(args: Mapping[str, Any], extra: Collection[str]) -> dict[str, Any]:
    return {k: args[k] for k in extra if k in args}


def account_id(args: Mapping[str, Any], name: str = "accountId") -> str:
    if name not in args:
        raise _missing(name)
    return get_id(args[name], name)


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    """``values`` without repeats, first occurrence kept (most lists have none: one set)."""
    if len(set(values)) == len(values):
        return values
    return tuple(dict.fromkeys(values))


# -- /get ----------------------------------------------------------------------------------------
_GET_ARGS: Final = frozenset({"accountId", "ids", "properties"})


@dataclass(frozen=True, slots=True)
class GetArgs:
    account_id: str
    # None = all records.  Unique, in request order; #creationId references resolved where
    # possible (unresolved ones are kept as "#k": report them in notFound).
    ids: tuple[str, ...] | None
    properties: tuple[str, ...] | None
    extra: Mapping[str, Any] = field(default_factory=dict)


def parse_get(
    args: Mapping[str, Any],
    *,
    max_objects: int,
    created_ids: Mapping[str, str] | None = None,
    known_properties: Collection[str] | None = None,
    extra: Collection[str] = (),
) -> GetArgs:
    check_known(args, _GET_ARGS, extra)
    acct = account_id(args)
    ids: tuple[str, ...] | None = None
    if args.get("ids") is not None:
        raw = get_id_list(args["ids"], "ids", allow_ref=True)
        if created_ids and any(i[0] == "#" for i in raw):
            raw = tuple(resolve_id(i, created_ids) or i for i in raw)
        # §5.1: an id requested twice is returned once.
        ids = _unique(raw)
        if len(ids) > max_objects:
            raise MethodError(
                REQUEST_TOO_LARGE,
                f"{len(ids)} ids requested; maxObjectsInGet is {max_objects}.",
            )
    properties: tuple[str, ...] | None = None
    if args.get("properties") is not None:
        properties = _unique(get_str_list(args["properties"], "properties"))
        if known_properties is not None:
            bad = [p for p in properties if p not in known_properties]
            if bad:
                # §5.1: "If an invalid property is requested, the call MUST be rejected".
                raise invalid_arguments(f"Unknown properties: {', '.join(bad)}.", properties=bad)
    return GetArgs(acct, ids, properties, pick_extra(args, extra))


# -- /changes ------------------------------------------------------------------------------------
_CHANGES_ARGS: Final = frozenset({"accountId", "sinceState", "maxChanges"})


@dataclass(frozen=True, slots=True)
class ChangesArgs:
    account_id: str
    since_state: str
    max_changes: int | None
    extra: Mapping[str, Any] = field(default_factory=dict)


def parse_changes(args: Mapping[str, Any], *, extra: Collection[str] = ()) -> ChangesArgs:
    check_known(args, _CHANGES_ARGS, extra)
    acct = account_id(args)
    if "sinceState" not in args:
        raise _missing("sinceState")
    since = get_str(args["sinceState"], "sinceState")
    max_changes = None
    if args.get("maxChanges") is not None:
        # §5.2: "the value MUST be a positive integer greater than 0".
        max_changes = get_uint(args["maxChanges"], "maxChanges", positive=True)
    return ChangesArgs(acct, since, max_changes, pick_extra(args, extra))


# -- /set ----------------------------------------------------------------------------------------
_SET_ARGS: Final = frozenset({"accountId", "ifInState", "create", "update", "destroy"})


@dataclass(frozen=True, slots=True)
class SetArgs:
    account_id: str
    if_in_state: str | None
    create: Mapping[str, dict[str, Any]]  # creation id → object
    update: Mapping[str, dict[str, Any]]  # id (or "#creationId") → PatchObject
    destroy: tuple[str, ...]  # ids (or "#creationId")
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.create) + len(self.update) + len(self.destroy)


def parse_set(args: Mapping[str, Any], *, max_objects: int, extra: Collection[str] = ()) -> SetArgs:
    check_known(args, _SET_ARGS, extra)
    acct = account_id(args)
    if_in_state = None
    if args.get("ifInState") is not None:
        if_in_state = get_str(args["ifInState"], "ifInState")
    create: dict[str, dict[str, Any]] = {}
    for key, value in get_object(optional(args, "create", {}), "create").items():
        create[get_id(key, "create")] = get_object(value, "create")
    update: dict[str, dict[str, Any]] = {}
    for key, value in get_object(optional(args, "update", {}), "update").items():
        update[get_id(key, "update", allow_ref=True)] = get_object(value, "update")
    destroy: tuple[str, ...] = ()
    if args.get("destroy") is not None:
        destroy = _unique(get_id_list(args["destroy"], "destroy", allow_ref=True))
    result = SetArgs(acct, if_in_state, create, update, destroy, pick_extra(args, extra))
    if result.size > max_objects:
        raise MethodError(
            REQUEST_TOO_LARGE,
            f"{result.size} objects to create, update or destroy; "
            f"maxObjectsInSet is {max_objects}.",
        )
    return result


def check_if_in_state(if_in_state: str | None, current_state: str) -> None:
    """§5.3: ``stateMismatch`` when ``ifInState`` is given and is not the current state."""
    if if_in_state is not None and if_in_state != current_state:
        raise MethodError(STATE_MISMATCH, f"The current state is not {if_in_state!r}.")
