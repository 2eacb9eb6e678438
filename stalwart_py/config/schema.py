"""The declaration machinery of the schema: :func:`setting` declares one key as a dataclass
field of its section; :class:`Key` is a flattened row ``section.name``; :class:`Rule` is a
constraint between keys.  The sections themselves live in one module per area
(:mod:`.server`, :mod:`.lmtp`, :mod:`.imap`, :mod:`.http`, :mod:`.listeners`, :mod:`.auth`,
:mod:`.storage`), gathered by :mod:`.root`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .checks import Check
from .kinds import Kind

ENV_PREFIX = "STALWART_"
META = "stalwart_setting"

Values = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the schema (the section and name come from where it is declared)."""

    kind: Kind
    default: object  # as written in TOML
    doc: str
    checks: tuple[Check, ...] = ()
    # Fills in a value left empty (None or ""), from the other settings.
    derive: Callable[[Values], Any] | None = None


def setting(
    kind: Kind,
    default: object,
    doc: str,
    *checks: Check,
    derive: Callable[[Values], Any] | None = None,
) -> Any:
    """Declare one configuration key as a dataclass field (no Python default: use
    :func:`default_config`)."""
    return field(metadata={META: Setting(kind, default, doc, checks, derive)})


@dataclass(frozen=True, slots=True)
class Key:
    """A flattened schema row: ``section.name`` with its setting."""

    section: str
    name: str
    setting: Setting

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def env_var(self) -> str:
        return f"{ENV_PREFIX}{self.section.upper()}_{self.name.upper()}"


def keys_of(section: str, cls: type) -> tuple[Key, ...]:
    """The rows of one section dataclass, in declaration order."""
    return tuple(Key(section, f.name, f.metadata[META]) for f in dataclasses.fields(cls))


Finding = tuple[tuple[tuple[str, str], ...], str]


@dataclass(frozen=True, slots=True)
class Rule:
    """A constraint between keys.  ``test`` returns findings: the keys involved (the problem is
    reported where the first of them that the operator set was set) and a message."""

    keys: tuple[tuple[str, str], ...]
    test: Callable[[Values], list[Finding]]
