"""Loading: a TOML file, then ``STALWART_<SECTION>_<KEY>`` overrides from the environment
(they beat the file), then derived values, then the rules between keys.  Every problem is
collected and reported at once with its location: ``FILE:LINE section.key`` for the file
(tomllib has no positions, so :mod:`.toml_lines` scans the text for the line), ``env
STALWART_X_Y`` for the environment."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .kinds import describe
from .problems import ConfigError, Problem
from .root import BY_ENV, BY_NAME, RULES, SCHEMA, SECTIONS, Config
from .schema import ENV_PREFIX, Key
from .toml_lines import locate_keys


class _Collector:
    def __init__(self, path: Path | None, text: str) -> None:
        self.path = path
        self.lines = locate_keys(text)
        self.problems: list[Problem] = []

    def file_location(self, *key: str) -> str:
        line = None
        for depth in range(len(key), 0, -1):
            line = self.lines.get(key[:depth])
            if line is not None:
                break
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        return f"{where} {'.'.join(key)}" if key else where

    def add(self, location: str, message: str) -> None:
        self.problems.append(Problem(location, message))


def _suggest(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _run_checks(key: Key, value: Any) -> str | None:
    for check in key.setting.checks:
        message = check.test(value)
        if message is not None:
            return message
    return None


_DEFAULT_ORIGIN = "default "


def _evaluate(path: Path | None, env: Mapping[str, str]) -> tuple[Config | None, list[Problem]]:
    text = ""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return None, [Problem(str(path), f"cannot read the configuration file: {exc}")]
    out = _Collector(path, text)
    if path is not None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            match = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
            where = f"{path}:{match.group(1)}" if match else str(path)
            message = message[: match.start()] if match else message
            out.add(where, f"invalid TOML: {message}")

    values: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    origin: dict[tuple[str, str], str] = {}
    bad: set[tuple[str, str]] = set()
    for key in SCHEMA:
        values[key.section][key.name] = key.setting.kind.from_toml(key.setting.default)
        origin[(key.section, key.name)] = f"{_DEFAULT_ORIGIN}{key.dotted}"

    def accept(key: Key, location: str, convert: Callable[[Any], Any], raw: object) -> None:
        try:
            value = convert(raw)
        except ValueError as exc:
            message: str | None = str(exc)
        else:
            message = _run_checks(key, value)
        if message is not None:
            out.add(location, message)
            bad.add((key.section, key.name))
            return
        values[key.section][key.name] = value
        origin[(key.section, key.name)] = location

    # 1. the file
    for section, table in data.items():
        if section not in SECTIONS:
            if isinstance(table, dict):
                out.add(
                    out.file_location(section),
                    f"unknown section [{section}]{_suggest(section, list(SECTIONS))}",
                )
            else:
                out.add(
                    out.file_location(section),
                    f"unknown top-level key {section!r}: settings belong in a [section]",
                )
            continue
        if not isinstance(table, dict):
            out.add(
                out.file_location(section), f"[{section}] must be a table, got {describe(table)}"
            )
            continue
        names = [k.name for k in SCHEMA if k.section == section]
        for name, raw in table.items():
            found = BY_NAME.get((section, name))
            location = out.file_location(section, name)
            if found is None:
                out.add(location, f"unknown key{_suggest(name, names)}")
                continue
            accept(found, location, found.setting.kind.from_toml, raw)

    # 2. the environment (beats the file)
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX):
            continue
        found = BY_ENV.get(var)
        location = f"env {var}"
        if found is None:
            rest = var[len(ENV_PREFIX) :]
            for section in SECTIONS:
                if rest.startswith(section.upper() + "_"):
                    names = [k.env_var for k in SCHEMA if k.section == section]
                    out.add(location, f"unknown setting{_suggest(var, names)}")
                    break
            continue
        accept(found, location, found.setting.kind.from_env, env[var])

    # 3. derived values
    for key in SCHEMA:
        if key.setting.derive is not None and values[key.section][key.name] in (None, ""):
            values[key.section][key.name] = key.setting.derive(values)

    # 4. rules between keys (skipped when one of their keys is already wrong)
    for rule in RULES:
        if any(k in bad for k in rule.keys):
            continue
        for involved, message in rule.test(values):
            places = [origin[k] for k in involved]
            chosen = [p for p in places if not p.startswith(_DEFAULT_ORIGIN)] or places
            out.add(chosen[0], message)

    if out.problems:
        return None, out.problems
    config = Config(**{s: cls(**values[s]) for s, cls in SECTIONS.items()})
    return config, []


def load_config(path: Path | None, env: Mapping[str, str] = os.environ) -> Config:
    """Load ``path`` (None: defaults only), apply ``STALWART_*`` overrides from ``env``.

    Raises :class:`ConfigError` listing every problem found.
    """
    config, problems = _evaluate(path, env)
    if config is None:
        raise ConfigError(problems)
    return config


def check_config(path: Path | None, env: Mapping[str, str] = os.environ) -> list[Problem]:
    """Every problem in ``path`` and ``env``; empty when the configuration is valid."""
    return _evaluate(path, env)[1]


def default_config() -> Config:
    """The configuration with every key at its default (no file, no environment)."""
    return load_config(None, {})
