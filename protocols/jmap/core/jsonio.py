"""Strict I-JSON (RFC 7493) decoding and compact JSON encoding for JMAP bodies.

RFC 8620 §3.6.1 answers ``notJSON`` for a body that "did not parse as I-JSON": so besides plain
JSON syntax we refuse invalid UTF-8, a byte-order mark, duplicate object member names (RFC 7493
§2.3), ``NaN``/``Infinity`` and numbers that overflow a double (§2.2), and strings holding lone
surrogates (§2.1).
"""

from __future__ import annotations

import json
import math
import re
from types import ModuleType
from typing import Any

_json: ModuleType | None
try:  # the C accelerator json.encoder uses when it is there
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JsonError(ValueError):
    """The input is not I-JSON."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonError(f"duplicate member name {key!r}")
            seen.add(key)
    return out


def _constant(name: str) -> Any:
    raise JsonError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonError("number out of range")
    return value


def _check_strings(root: Any) -> None:
    """Refuse strings (values or member names) that hold lone surrogates; iterative."""
    stack = [root]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            value.encode("utf-8")  # UnicodeEncodeError on a lone surrogate
        elif isinstance(value, dict):
            for key, item in value.items():
                key.encode("utf-8")
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)


# What json.loads(text, object_pairs_hook=..., ...) would build (decoder and scanner) on every
# call; a decoder holds no state between calls.
_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)


def loads(body: bytes | str) -> Any:
    """Decode an I-JSON text; raise :class:`JsonError` for anything else."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
        value = _DECODER.decode(text)
        if _SURROGATE_ESCAPE.search(text):
            _check_strings(value)
    except JsonError:
        raise
    except RecursionError:
        raise JsonError("nesting too deep") from None
    except (ValueError, UnicodeError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digits
        raise JsonError(str(exc)) from None
    return value


# What json.dumps(value, ensure_ascii=False, separators=(",", ":")) builds on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# ... and the C encoder JSONEncoder.encode makes from it on every call (about a microsecond,
# paid once per rendered Email), made once.  Same arguments but no circular-reference markers:
# what is encoded here is a tree of JSON values built by this server or decoded from a
# request, never a cycle.
_C_ENCODE = (
    _json.make_encoder(
        None, _ENCODER.default, _json.encode_basestring, None, ":", ",", False, False, True
    )
    if _json is not None
    else None
)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (what ``json.dumps(value, ensure_ascii=False, separators=(",",
    ":"))`` gives, encoded)."""
    if _C_ENCODE is None:
        return _ENCODER.encode(value).encode()
    return "".join(_C_ENCODE(value, 0)).encode()
