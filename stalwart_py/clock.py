"""The one place that reads the wall clock for batches (apply itself never does)."""

from __future__ import annotations

import time


def now() -> int:
    return int(time.time())
