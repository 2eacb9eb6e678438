"""Capability identifiers (IANA "JMAP Capabilities" registry) and the core limits (RFC 8620 §2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

CORE: Final = "urn:ietf:params:jmap:core"  # RFC 8620
MAIL: Final = "urn:ietf:params:jmap:mail"  # RFC 8621
SUBMISSION: Final = "urn:ietf:params:jmap:submission"  # RFC 8621
VACATION_RESPONSE: Final = "urn:ietf:params:jmap:vacationresponse"  # RFC 8621
WEBSOCKET: Final = "urn:ietf:params:jmap:websocket"  # RFC 8887
BLOB: Final = "urn:ietf:params:jmap:blob"  # RFC 9404
QUOTA: Final = "urn:ietf:params:jmap:quota"  # RFC 9425


@dataclass(frozen=True, slots=True)
class CoreLimits:
    """The ``urn:ietf:params:jmap:core`` capability object (RFC 8620 §2).

    ``max_concurrent_requests`` and ``max_concurrent_upload`` are enforced by the HTTP layer;
    ``max_size_request`` and ``max_calls_in_request`` by :func:`parse_request`;
    ``max_objects_in_get`` / ``max_objects_in_set`` by the /get and /set argument parsers.
    """

    max_size_upload: int = 50_000_000
    max_concurrent_upload: int = 4
    max_size_request: int = 10_000_000
    max_concurrent_requests: int = 4
    max_calls_in_request: int = 16
    max_objects_in_get: int = 500
    max_objects_in_set: int = 500
    collation_algorithms: tuple[str, ...] = ("i;ascii-casemap", "i;unicode-casemap")

    def __post_init__(self) -> None:
        for name in (
            "max_size_upload",
            "max_concurrent_upload",
            "max_size_request",
            "max_concurrent_requests",
            "max_calls_in_request",
            "max_objects_in_get",
            "max_objects_in_set",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "maxSizeUpload": self.max_size_upload,
            "maxConcurrentUpload": self.max_concurrent_upload,
            "maxSizeRequest": self.max_size_request,
            "maxConcurrentRequests": self.max_concurrent_requests,
            "maxCallsInRequest": self.max_calls_in_request,
            "maxObjectsInGet": self.max_objects_in_get,
            "maxObjectsInSet": self.max_objects_in_set,
            "collationAlgorithms": list(self.collation_algorithms),
        }
