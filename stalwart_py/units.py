"""Sizes as people write them: bytes, or a number with a binary unit (``4K``, ``500M``, ``1.5G``).

One reading for the configuration file, the environment and the command line: K = 1024 bytes,
M = 1024 K, G = 1024 M, T = 1024 G; a trailing ``B`` or ``iB`` is allowed; fractions must come to
a whole number of bytes.  :func:`format_size` writes sizes back the same way.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

# Store records encode sizes as msgpack integers (at most 2**63 - 1 as signed).
MAX_SIZE = (1 << 63) - 1

_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_LARGEST_FIRST = (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10))


def parse_size(text: str) -> int:
    """``"1.5G"`` -> 1610612736; raises ValueError with a sentence for anything else."""
    match = _SIZE_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f'expected a size such as 4096, "4K", "50M" or "1G", got {json.dumps(text)}'
        )
    amount = Decimal(match.group(1)) * _UNITS[match.group(2).lower()]
    if amount != amount.to_integral_value():
        raise ValueError(f"{json.dumps(text)} is not a whole number of bytes")
    if amount > MAX_SIZE:
        raise ValueError(f"{json.dumps(text)} is too large (at most 8388607T)")
    return int(amount)


def format_size(size: int) -> str:
    """The largest unit with up to two decimals: 2G, 1.5G, 500M, 12.34K, 100B."""
    for unit, factor in _LARGEST_FIRST:
        if size >= factor:
            text = f"{size / factor:.2f}".rstrip("0").rstrip(".")
            return text + unit
    return f"{size}B"
