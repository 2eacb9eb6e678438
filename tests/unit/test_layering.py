"""DESIGN.md §1: stalwart_py -> protocols -> store; cluster wraps store; cores never import trio."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "store": {"stalwart_py", "protocols", "cluster", "trio"},
    "protocols": {"stalwart_py", "cluster"},
    "cluster": {"stalwart_py", "protocols"},
}
# The thin trio layer of each protocol lives in modules with these names; all else is sans-IO.
TRIO_ALLOWED = {"server.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependency_direction(package: str) -> None:
    assert _modules(package), f"{package} has no modules"
    bad = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & FORBIDDEN[package])
        for p in _modules(package)
        if _imports(p) & FORBIDDEN[package]
    }
    assert bad == {}


def test_protocol_cores_are_sans_io() -> None:
    cores = [p for p in _modules("protocols") if p.name not in TRIO_ALLOWED]
    assert len(cores) > 5
    bad = [str(p.relative_to(ROOT)) for p in cores if {"trio", "socket"} & _imports(p)]
    assert bad == []


def test_the_check_sees_imports() -> None:
    """A control: the import walker finds what a module imports."""
    assert {"trio", "protocols", "store"} <= _imports(ROOT / "stalwart_py" / "server.py")
