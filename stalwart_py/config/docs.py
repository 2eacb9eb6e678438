"""The documents derived from the configuration schema of :mod:`stalwart_py.config`: the
reference ``docs/configuration.md`` (:func:`render_markdown`), a complete example file
(:func:`render_example`), and the ``python -m stalwart_py.config`` command line (:func:`main`).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from .kinds import DOCUMENTED_KINDS
from .loader import check_config
from .problems import format_problems
from .root import SCHEMA, SECTIONS
from .schema import Key


def toml_literal(value: object) -> str:
    """A TOML literal for a default value (strings, numbers, booleans, arrays of those)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    raise TypeError(f"no TOML literal for {value!r}")


def _section_doc(cls: type) -> str:
    return " ".join((cls.__doc__ or "").split())


def _kind_label(key: Key) -> str:
    return (
        key.setting.kind.file_syntax if key.setting.kind.name == "one of" else key.setting.kind.name
    )


_DOC_HEADER = """\
# Configuration reference

<!-- Generated from the schema in stalwart_py/config/ by
     `python -m stalwart_py.config --markdown`. Do not edit by hand: a test keeps this file
     equal to that output. -->

stalwart-py reads one TOML file, given with `stalwart-py serve --config FILE`. The file is made
of flat sections (`[server]`, `[lmtp]`, ...), each holding `key = value` lines. Every key is
optional: a key you leave out takes its default, and without a file the server runs on defaults
alone.

## Precedence

1. built-in defaults (listed below);
2. the configuration file;
3. environment variables, which beat the file.

## Environment variables

Every key can be set from the environment as `STALWART_<SECTION>_<KEY>` in upper case: `lmtp.port`
becomes `STALWART_LMTP_PORT`, `imap.allow_plaintext_auth` becomes
`STALWART_IMAP_ALLOW_PLAINTEXT_AUTH`. Values are written as in the file but without quotes;
booleans accept `true`/`false`, `1`/`0`, `yes`/`no` and `on`/`off`, and lists are
comma-separated. A variable that starts with the name of a section (`STALWART_LMTP_...`) but
names no key is an error, so typos do not go unnoticed; other `STALWART_` variables are ignored.

## Checking a configuration

`stalwart-py config check FILE` (also `python -m stalwart_py.config --check FILE`) reads the
file and the environment, and prints every problem at once with its location, then exits with
status 1; it prints nothing and exits 0 when all is well:

```text
stalwart.toml:7 lmtp.port: must be a port number 0–65535, got 70000
stalwart.toml:12 imap.idle_timout: unknown key (did you mean 'idle_timeout'?)
env STALWART_IMAP_ALLOW_PLAINTEXT_AUTH: expected true/false/1/0/yes/no/on/off, got "maybe"
```

The server runs the same checks at start and refuses to start on any problem.

## Value types

| type | in the file | in the environment |
|---|---|---|
"""


def render_markdown() -> str:
    """The configuration reference, docs/configuration.md, generated from the schema."""
    out = [_DOC_HEADER]
    used = {id(key.setting.kind) for key in SCHEMA}
    for kind in DOCUMENTED_KINDS:
        if id(kind) in used:
            out.append(f"| {kind.name} | {kind.file_syntax} | {kind.env_syntax} |\n")
    out.append("\n## Sections\n\n")
    for section, cls in SECTIONS.items():
        out.append(f"- [`[{section}]`](#{section}): {_section_doc(cls)}\n")
    for section, cls in SECTIONS.items():
        out.append(f"\n## [{section}]\n\n{_section_doc(cls)}\n\n")
        out.append("| key | type | default |\n|---|---|---|\n")
        keys = [k for k in SCHEMA if k.section == section]
        for key in keys:
            default = toml_literal(key.setting.default).replace("|", "\\|")
            out.append(
                f"| [`{key.name}`](#{section}{key.name}) | {_kind_label(key)} | `{default}` |\n"
            )
        for key in keys:
            s = key.setting
            out.append(f"\n### {section}.{key.name}\n\n{s.doc}\n\n")
            out.append(f"- Type: {_kind_label(key)}\n")
            out.append(f"- Default: `{toml_literal(s.default)}`\n")
            if s.checks:
                out.append(f"- Allowed: {'; '.join(c.description for c in s.checks)}\n")
            out.append(f"- Environment: `{key.env_var}`\n")
    out.append(
        "\n## Example\n\nA complete file with every key at its default "
        "(`python -m stalwart_py.config --example`):\n\n```toml\n"
    )
    out.append(render_example())
    out.append("```\n")
    return "".join(out)


def render_example() -> str:
    """A complete TOML file with every key at its default and its documentation as comments."""
    parts: list[str] = []
    for section, cls in SECTIONS.items():
        if parts:
            parts.append("\n")
        for line in textwrap.wrap(_section_doc(cls), 96):
            parts.append(f"# {line}\n")
        parts.append(f"[{section}]\n")
        for key in SCHEMA:
            if key.section != section:
                continue
            for line in textwrap.wrap(key.setting.doc, 96):
                parts.append(f"# {line}\n")
            parts.append(f"{key.name} = {toml_literal(key.setting.default)}\n")
    return "".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stalwart_py.config", description="stalwart-py configuration schema"
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--markdown", action="store_true", help="print docs/configuration.md")
    group.add_argument("--example", action="store_true", help="print a complete example file")
    group.add_argument("--check", metavar="FILE", type=Path, help="report every problem in FILE")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(render_markdown())
        return 0
    if args.example:
        sys.stdout.write(render_example())
        return 0
    problems = check_config(args.check)
    if problems:
        print(format_problems(problems))
    return 1 if problems else 0
