"""Which domain names and addresses the store accepts (RFC 5322 §3.4.1 dot-atom local parts,
RFC 1123 §2.1 host names); a refused one is an INVALID result, never a stray record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store import Batch, ErrorKind, Store
from store.batch import CreateDomain, CreatePrincipal


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "db")
    s.write(Batch((CreateDomain("example.org"),), now=1))
    yield s
    s.close()


@pytest.mark.parametrize(
    "name", ["bad..domain", "-a.example", "a-.example", "a_b.example", "a b.example", "x.", ""]
)
def test_bad_domain_names_are_refused(store: Store, name: str) -> None:
    [result] = store.write(Batch((CreateDomain(name),), now=1))
    assert result.error is not None and result.error.kind is ErrorKind.INVALID
    assert store.domain(name) is None


@pytest.mark.parametrize(
    "address",
    [
        "a@b@example.org",
        ".a@example.org",
        "a.@example.org",
        "a..b@example.org",
        '"q"@example.org',
        "a b@example.org",
        "a@bad..example.org",
        "@example.org",
        "a@",
    ],
)
def test_bad_addresses_are_refused(store: Store, address: str) -> None:
    [result] = store.write(Batch((CreatePrincipal("individual", address, (address,), ""),), now=1))
    assert result.error is not None and result.error.kind is ErrorKind.INVALID, result
    assert store.principal_by_name(address) is None


@pytest.mark.parametrize("address", ["x.y+tag@example.org", "o'brien@example.org", "ü@example.org"])
def test_good_addresses_are_accepted(store: Store, address: str) -> None:
    [result] = store.write(Batch((CreatePrincipal("individual", address, (address,), ""),), now=1))
    assert result.error is None, result
