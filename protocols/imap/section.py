"""FETCH section specifiers (RFC 9051 §6.4.5), shared by the parser and the renderer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SectionSpec:
    """``BODY[1.2.HEADER.FIELDS (From To)]<0.100>`` is
    ``SectionSpec(part=(1, 2), text="HEADER.FIELDS", fields=("FROM", "TO"))`` with a partial.

    ``text`` is one of None (the part's content, or the whole message when ``part`` is empty),
    "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME".  ``fields`` are upper-cased.
    """

    part: tuple[int, ...] = ()
    text: str | None = None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Partial:
    """``<offset.length>``; in the response only the offset is echoed (``BODY[]<offset>``)."""

    offset: int
    length: int
