"""Value encoding for the store: msgpack, deterministic for equal inputs.

Keys are raw bytes built in :mod:`store.keys`; values are msgpack.  Arrays decode as tuples so that
decoded values compare equal to the frozen dataclasses' tuple fields.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import msgpack

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, use_list=False, strict_map_key=False)


def u32(n: int) -> bytes:
    return _U32.pack(n)


def u64(n: int) -> bytes:
    return _U64.pack(n)


def read_u32(data: bytes, offset: int = 0) -> int:
    return int(_U32.unpack_from(data, offset)[0])


def read_u64(data: bytes, offset: int = 0) -> int:
    return int(_U64.unpack_from(data, offset)[0])


def short_hash(text: str, size: int = 8) -> bytes:
    """A stable short digest used in index keys (Message-IDs, subjects)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size).digest()
