"""DESIGN.md §1 and issue 9 §2, checked per module: stalwart_py -> protocols -> store; cluster
wraps store; protocol cores never import trio; the protocol packages reach the store only
through the mail service; no import circles; no module over 800 lines.

Imports are read from the source (``ast``), every ``import`` statement wherever it stands (a
deferred import inside a function still counts), resolved to the module it names: ``from a.b
import c`` is an import of ``a.b.c`` when that is a module, else of ``a.b``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("store", "protocols", "stalwart_py", "cluster")

# Top-level direction (DESIGN.md §1).
FORBIDDEN_TOP = {
    "store": {"stalwart_py", "protocols", "cluster", "trio"},
    "protocols": {"stalwart_py", "cluster"},
    "cluster": {"stalwart_py", "protocols"},
}
# The protocol packages: what of the store they must not touch (they store and change mail only
# through protocols.mail, never by building batches or reading keys and encodings).
PROTOCOL_PACKAGES = ("protocols.imap", "protocols.jmap", "protocols.lmtp", "protocols.http")
STORE_INTERNALS = (
    "store.keys",
    "store.leveldb",
    "store.codec",
    "store.batch",
    "store.apply",
    "store.apply_context",
    "store.readcache",
)
# Names of the store's write machinery that ``from store import ...`` must not bring in (an
# operation's outcome, ``OpResult``, is a value the mail service hands back: allowed).
STORE_WRITE_NAMES = {"Batch", "ApplyResult"}
# Which other protocol packages each may use (JMAP runs over our HTTP layer).
PROTOCOL_PEERS = {
    "protocols.imap": {"protocols.mail", "protocols.mime"},
    "protocols.jmap": {"protocols.mail", "protocols.mime", "protocols.http"},
    "protocols.lmtp": {"protocols.mail", "protocols.mime"},
    "protocols.http": set(),
    "protocols.mail": {"protocols.mime"},
    "protocols.mime": set(),
}
# The thin trio layer of each protocol lives in modules with these names; all else is sans-IO.
TRIO_ALLOWED = {"server.py"}
MAX_LINES = 800


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _all_modules() -> dict[str, Path]:
    return {
        _module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))
    }


def _is_package(name: str) -> bool:
    return _all_modules()[name].name == "__init__.py"


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer if _is_package(importer) else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    return f"{base}.{node.module}" if node.module else base


@cache
def _imports(name: str) -> frozenset[tuple[str, str]]:
    """(module imported, name imported from it or "") for every import statement."""
    path = _all_modules()[name]
    found: set[tuple[str, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update((alias.name, "") for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(name, node)
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add((sub, "") if sub in _all_modules() else (module, alias.name))
    return frozenset(found)


def _imported_modules(name: str) -> set[str]:
    return {module for module, _ in _imports(name)}


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _modules_of(package: str) -> list[str]:
    return [m for m in _all_modules() if _within(m, package)]


@pytest.mark.parametrize("package", sorted(FORBIDDEN_TOP))
def test_dependency_direction(package: str) -> None:
    assert _modules_of(package), f"{package} has no modules"
    bad = {
        m: sorted(top)
        for m in _modules_of(package)
        if (top := {i.split(".")[0] for i in _imported_modules(m)} & FORBIDDEN_TOP[package])
    }
    assert bad == {}


@pytest.mark.parametrize("package", PROTOCOL_PACKAGES)
def test_protocols_reach_the_store_through_the_mail_service(package: str) -> None:
    """Issue 9 §2: the protocol packages never import the store's keys, encodings, LevelDB or
    batches (nor ``Batch`` from ``store``): every write goes through protocols.mail."""
    assert _modules_of(package), f"{package} has no modules"
    bad: dict[str, list[str]] = {}
    for m in _modules_of(package):
        hits = [
            f"{module}{'.' + what if what else ''}"
            for module, what in _imports(m)
            if any(_within(module, internal) for internal in STORE_INTERNALS)
            or (module == "store" and what in STORE_WRITE_NAMES)
        ]
        if hits:
            bad[m] = sorted(hits)
    assert bad == {}


@pytest.mark.parametrize("package", sorted(PROTOCOL_PEERS))
def test_protocol_packages_use_only_their_peers(package: str) -> None:
    """IMAP, JMAP, LMTP and HTTP do not import each other (JMAP runs over HTTP); the mail service
    and MIME are protocol-neutral and import no protocol."""
    allowed = PROTOCOL_PEERS[package] | {package}
    bad = {
        m: sorted(others)
        for m in _modules_of(package)
        if (
            others := {
                ".".join(i.split(".")[:2])
                for i in _imported_modules(m)
                if _within(i, "protocols") and i != "protocols"
            }
            - allowed
        )
    }
    assert bad == {}


def test_protocol_cores_are_sans_io() -> None:
    cores = [m for m in _modules_of("protocols") if _all_modules()[m].name not in TRIO_ALLOWED]
    assert len(cores) > 5
    bad = [m for m in cores if {i.split(".")[0] for i in _imported_modules(m)} & {"trio", "socket"}]
    assert bad == []


def _graph() -> dict[str, set[str]]:
    modules = _all_modules()
    return {m: {i for i in _imported_modules(m) if i in modules and i != m} for m in modules}


def _cycles(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    yield sorted(component)


def test_no_import_circles() -> None:
    """Issue 9 §3: no two modules import each other, directly or through others, deferred
    imports included (a circle hidden by an import inside a function is still a circle)."""
    assert list(_cycles(_graph())) == []


def test_no_module_over_800_lines() -> None:
    """Issue 9 §3 and the style guide: small modules with one job."""
    long = {
        m: n
        for m, p in _all_modules().items()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_checks_see_what_they_check() -> None:
    """Controls: the walker resolves absolute, relative and submodule imports, and the circle
    finder finds a circle."""
    assert {"trio", "protocols.imap.server", "store"} <= _imported_modules("stalwart_py.server")
    assert "protocols.mail.transaction" in _imported_modules("protocols.mail")
    assert ("store.errors", "MailError") in _imports("protocols.mail.rights")
    assert list(_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})) == [["a", "b", "c"]]
    assert list(_cycles({"a": {"b"}, "b": set()})) == []
