"""Collecting every invalid property of one object into one ``invalidProperties`` SetError.

RFC 8620 §5.3 invalidProperties: "The SetError object SHOULD also have a property called
``properties`` of type ``String[]`` that lists *all* the properties that were invalid."  A
validator records each problem with :meth:`InvalidProperties.add` (or runs a raising check
inside :meth:`InvalidProperties.collecting`), carries on with the next property, and finally
calls :meth:`InvalidProperties.check`.  Paths name the offending sub-property the way a
PatchObject would (``mailboxIds/xyz``, ``bodyStructure/subParts/0/size``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import SET_INVALID_PROPERTIES, SetError


class InvalidProperties:
    """The invalid properties of one object found so far (a builder: mutable on purpose)."""

    __slots__ = ("_found",)

    def __init__(self) -> None:
        self._found: dict[str, str] = {}  # path -> the first description given for it

    def __bool__(self) -> bool:
        return bool(self._found)

    def add(self, path: str, description: str) -> None:
        self._found.setdefault(path, description)

    def add_error(self, error: SetError) -> None:
        """Records an ``invalidProperties`` SetError's properties (with its description)."""
        for path in error.properties or ():
            self.add(path, error.description or "Invalid property.")

    @contextmanager
    def collecting(self) -> Iterator[None]:
        """Runs a check that raises ``invalidProperties``: its properties are recorded instead.
        Other SetErrors (``tooManyKeywords``, ``blobNotFound`` ...) go through."""
        try:
            yield
        except SetError as err:
            if err.type != SET_INVALID_PROPERTIES or not err.properties:
                raise
            self.add_error(err)

    def error(self) -> SetError:
        descriptions = " ".join(dict.fromkeys(self._found.values()))
        return SetError(SET_INVALID_PROPERTIES, descriptions, properties=list(self._found))

    def check(self) -> None:
        """Raises the one SetError naming every invalid property, if any was found."""
        if self._found:
            raise self.error()
