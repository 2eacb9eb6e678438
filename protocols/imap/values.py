"""IMAP data values, as the serializer writes them (RFC 9051 §4).

Renderers (FETCH items, STATUS, LIST ...) build responses from these plain values; only the
serializer decides how each string travels (quoted or literal).

- ``None``            -> ``NIL``
- ``int``             -> a number
- ``str`` / ``bytes`` -> a string: quoted when it is short and safe, else a literal
                        (``str`` is UTF-8 encoded; 8-bit data or CR/LF force a literal)
- ``Atom("FLAGS")``   -> written as is (atoms, flags, section specs, keywords)
- ``Literal(b"...")`` -> always a literal (message bodies); ``binary=True`` writes ``~{n}``
                        (RFC 3516)
- ``list`` / ``tuple``-> a parenthesised list of values
- ``Raw(b"...")``     -> bytes written verbatim (already-encoded fragments)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Atom:
    text: str


@dataclass(frozen=True, slots=True)
class Literal:
    data: bytes
    binary: bool = False


@dataclass(frozen=True, slots=True)
class Raw:
    data: bytes


Value: TypeAlias = (
    "None | int | str | bytes | Atom | Literal | Raw | list[Value] | tuple[Value, ...]"
)
NIL = None
