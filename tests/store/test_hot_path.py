"""The delivery hot path's shortcuts give exactly what the plain code gave: the overlay's key
index, ``evolve`` versus ``dataclasses.replace``, the thread-local msgpack packer, and the
directory version that lets delivery cache address resolution."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from store import Batch, Store
from store.batch import AddAlias, CreateDomain, CreatePrincipal, ImportEmail, PutBlob
from store.codec import pack
from store.models import AccountState, BlobInfo, Email, Mailbox, Principal, evolve
from store.txn import _INDEX_ABOVE, Overlay


class _DictView:
    """A committed layer backed by a plain dict (what DbView is to LevelDB)."""

    def __init__(self, data: dict[bytes, bytes]) -> None:
        self.data = data

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def scan(self, prefix: bytes, start: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        lo = start if start is not None else prefix
        for key in sorted(self.data):
            if key.startswith(prefix) and key >= lo:
                yield key, self.data[key]


def _key(rnd: random.Random) -> bytes:
    # Type byte + account (the indexed 5 bytes), then a short varying tail.
    return bytes([rnd.choice(b"AB"), 0, 0, 0, rnd.randrange(3)]) + rnd.randbytes(rnd.randrange(3))


@pytest.mark.parametrize("seed", range(6))
def test_overlay_scan_matches_a_reference_model_beyond_the_index_threshold(seed: int) -> None:
    rnd = random.Random(seed)
    base = {_key(rnd): b"base" for _ in range(40)}
    group = Overlay(_DictView(dict(base)))
    model = dict(base)
    for round_ in range(6):
        layer = Overlay(group)
        for _ in range(rnd.randrange(10, 60)):
            key = _key(rnd)
            if rnd.random() < 0.3:
                layer.delete(key)
                model.pop(key, None)
            else:
                value = f"v{round_}".encode()
                layer.put(key, value)
                model[key] = value
        layer.merge_into(group)
        # Scan both short prefixes (no index) and >= 5-byte ones (indexed once big enough).
        for prefix in (b"A", b"B\x00\x00\x00\x01", b"A\x00\x00\x00\x02", bytes(_key(rnd)[:6])):
            for start in (None, prefix + b"\x80"):
                lo = start if start is not None else prefix
                want = sorted((k, v) for k, v in model.items() if k.startswith(prefix) and k >= lo)
                assert list(group.scan(prefix, start)) == want
                assert group.get(prefix) == model.get(prefix)
    assert len(group.writes) > _INDEX_ABOVE, "the test must exercise the indexed path"


def test_evolve_equals_dataclasses_replace_for_every_record() -> None:
    records: list[Any] = [
        Principal(1, "individual", "a", ("a@x.org",), "s", 10, (2,), "d", ("admin",)),
        AccountState(3, 4, 5, 6, 7, 8, (("Email", 3),), 1, 2),
        Mailbox(1, "Inbox", 0, "inbox", 1, True, 99, 5, 4, 3, 2, 1000, 3),
        Email(1, 2, b"\x01" * 32, 10, 20, ("$seen",), ((1, 4),), 5, 5, "m@x", (b"h",), b"s"),
        BlobInfo(10, 1, 0),
    ]
    for record in records:
        for field in dataclasses.fields(record):
            value = getattr(record, field.name)
            changed = evolve(record, **{field.name: value})
            assert changed == record and changed is not record
        first = dataclasses.fields(record)[0].name
        assert evolve(record, **{first: 77}) == dataclasses.replace(record, **{first: 77})
        with pytest.raises(AttributeError):
            evolve(record, no_such_field=1)


def test_thread_local_packer_gives_packb_bytes_on_every_thread() -> None:
    values = [[1, "x", b"\x00", True, None, (2, 3)], {"a": 1}, 2**40, "é" * 300]
    want = [msgpack.packb(v, use_bin_type=True) for v in values]
    got: list[list[bytes]] = []

    def work() -> None:
        got.append([pack(v) for v in values])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [want] * 4
    with pytest.raises(TypeError):
        pack([object()])
    assert pack(values[0]) == want[0]  # a failed pack leaves no residue in the packer


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "db")
    s.write(
        Batch(
            (
                CreateDomain("example.org"),
                CreatePrincipal(
                    "individual",
                    "a",
                    ("a@example.org",),
                    "",
                    0,
                    mailboxes=(("In", "inbox", 1, True),),
                ),
            ),
            now=1,
        )
    )
    yield s
    s.close()


def test_directory_version_moves_with_directory_writes_only(store: Store) -> None:
    before = store.directory_version
    data = b"Subject: x\r\n\r\nbody\r\n"
    sha = hashlib.sha256(data).digest()
    store.write(
        Batch(
            (PutBlob(sha, len(data), 2), ImportEmail(1, sha, len(data), (1,), (), 2, b"")),
            now=2,
            blobs=(data,),
        )
    )
    assert store.directory_version == before
    store.write(Batch((AddAlias("alias@example.org", 1),), now=3))
    assert store.directory_version == before + 1
