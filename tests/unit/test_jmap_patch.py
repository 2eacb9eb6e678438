"""The PatchObject rule for unchanged server-set values (RFC 8620 §5.3), sans-IO."""

from __future__ import annotations

from typing import Any

from protocols.jmap.core import drop_unchanged, json_equal


def test_drop_unchanged_keeps_only_changed_fixed_values_rfc8620_5_3() -> None:
    """RFC 8620 §5.3: server-set (or immutable) properties "MAY be included in the patch if
    their value is identical to the current server value"; JSON equality, so true is not 1."""
    current = {"id": "m1", "total": 1, "rights": {"mayDelete": True}, "flag": True}
    seen: list[set[str]] = []

    def shown(names: set[str]) -> dict[str, Any]:
        seen.append(names)
        return {k: v for k, v in current.items() if k in names}

    patch = {
        "id": "m1",
        "name": "new",
        "total": True,  # 1 is not true
        "rights/mayDelete": True,
        "flag": 1,
        "unknown": 5,
    }
    assert drop_unchanged(patch, {"name"}, shown) == {
        "name": "new",
        "total": True,
        "flag": 1,
        "unknown": 5,
    }
    assert seen == [{"id", "total", "rights", "flag", "unknown"}]
    assert drop_unchanged({"name": "x"}, {"name"}, shown) == {"name": "x"}
    assert len(seen) == 1  # nothing fixed in the patch: no rendering at all
    assert drop_unchanged("junk", {"name"}, shown) == "junk"


def test_json_equal_is_json_equality() -> None:
    """JSON values: booleans are not numbers, 1 is 1.0, arrays (lists or stored tuples)."""
    assert json_equal([1, {"a": (True, None)}], [1.0, {"a": [True, None]}])
    assert not json_equal(True, 1) and not json_equal(0, False) and not json_equal("1", 1)
    assert not json_equal({"a": 1}, {"a": 1, "b": 2}) and not json_equal([1], [1, 1])
