"""Value encoding for the store: msgpack, deterministic for equal inputs.

Keys are raw bytes built in :mod:`store.keys`; values are msgpack.  Arrays decode as tuples so that
decoded values compare equal to the frozen dataclasses' tuple fields.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from typing import Any

import msgpack

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


_local = threading.local()


def pack(value: Any) -> bytes:
    # One Packer per thread (a Packer is not thread-safe): ``msgpack.packb`` builds a new one
    # per call, which costs as much as packing a small record.  Same bytes either way.
    try:
        packer = _local.packer
    except AttributeError:
        packer = _local.packer = msgpack.Packer(use_bin_type=True)
    return packer.pack(value)  # type: ignore[no-any-return]


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
