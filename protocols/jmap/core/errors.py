"""JMAP error types (RFC 8620 §3.6) and the one mapping from :class:`ErrorKind` to JMAP errors.

Three levels, as the RFC has them:

- :class:`RequestProblem` — the whole request is refused (§3.6.1): an RFC 7807 problem document
  with an HTTP status, e.g. ``urn:ietf:params:jmap:error:notJSON``.
- :class:`MethodError` — one method call fails (§3.6.2); the dispatcher answers it as
  ``["error", {"type": ..., ...}, callId]`` and carries on with the next call.
- :class:`SetError` — one object of a /set, /copy or /import fails (§5.3); it is a *value* that
  goes into ``notCreated`` / ``notUpdated`` / ``notDestroyed`` (it can also be raised inside a
  per-object helper and caught by the method).

The detail string of a :class:`MailError` is never put on the wire: it may name internal things.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any, Final

from store.errors import ErrorKind, MailError

PROBLEM_PREFIX: Final = "urn:ietf:params:jmap:error:"
PROBLEM_CONTENT_TYPE: Final = "application/problem+json"

# -- request level (§3.6.1) --------------------------------------------------------------------
UNKNOWN_CAPABILITY: Final = "unknownCapability"
NOT_JSON: Final = "notJSON"
NOT_REQUEST: Final = "notRequest"
LIMIT: Final = "limit"


class RequestProblem(Exception):
    """A request-level error (RFC 8620 §3.6.1), answered as ``application/problem+json``.

    ``type`` is the short name (``"notJSON"``); :attr:`uri` the full URN.  ``limit`` names the
    limit that was exceeded (``"maxSizeRequest"``, ``"maxCallsInRequest"``,
    ``"maxConcurrentRequests"``): the RFC requires it on ``limit`` problems.
    """

    def __init__(
        self, type: str, detail: str, *, status: int = 400, limit: str | None = None
    ) -> None:
        if type == LIMIT and not limit:
            raise ValueError("a limit problem must name its limit (RFC 8620 §3.6.1)")
        super().__init__(detail)
        self.type = type
        self.detail = detail
        self.status = status
        self.limit = limit

    @property
    def uri(self) -> str:
        return PROBLEM_PREFIX + self.type

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.uri, "status": self.status, "detail": self.detail}
        if self.limit is not None:
            out["limit"] = self.limit
        return out

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False).encode()

    def __repr__(self) -> str:
        return f"RequestProblem({self.type!r}, {self.detail!r}, limit={self.limit!r})"

    @classmethod
    def unknown_capability(cls, capability: str) -> RequestProblem:
        return cls(
            UNKNOWN_CAPABILITY,
            f"The request used capability {capability!r}, which is not supported by this server.",
        )

    @classmethod
    def not_json(cls, detail: str = "The request did not parse as I-JSON.") -> RequestProblem:
        return cls(NOT_JSON, detail)

    @classmethod
    def not_request(cls, detail: str) -> RequestProblem:
        return cls(NOT_REQUEST, detail)

    @classmethod
    def over_limit(cls, limit: str, detail: str, *, status: int = 400) -> RequestProblem:
        return cls(LIMIT, detail, limit=limit, status=status)


# -- method level (§3.6.2 and §5) --------------------------------------------------------------
SERVER_UNAVAILABLE: Final = "serverUnavailable"
SERVER_FAIL: Final = "serverFail"
SERVER_PARTIAL_FAIL: Final = "serverPartialFail"
UNKNOWN_METHOD: Final = "unknownMethod"
INVALID_ARGUMENTS: Final = "invalidArguments"
INVALID_RESULT_REFERENCE: Final = "invalidResultReference"
FORBIDDEN: Final = "forbidden"
ACCOUNT_NOT_FOUND: Final = "accountNotFound"
ACCOUNT_NOT_SUPPORTED_BY_METHOD: Final = "accountNotSupportedByMethod"
ACCOUNT_READ_ONLY: Final = "accountReadOnly"
REQUEST_TOO_LARGE: Final = "requestTooLarge"  # /get, /set (§5.1, §5.3)
STATE_MISMATCH: Final = "stateMismatch"  # /set (§5.3)
CANNOT_CALCULATE_CHANGES: Final = "cannotCalculateChanges"  # /changes, /queryChanges
ANCHOR_NOT_FOUND: Final = "anchorNotFound"  # /query (§5.5)
UNSUPPORTED_SORT: Final = "unsupportedSort"  # /query (§5.5)
UNSUPPORTED_FILTER: Final = "unsupportedFilter"  # /query (§5.5)
TOO_MANY_CHANGES: Final = "tooManyChanges"  # /queryChanges (§5.6)
FROM_ACCOUNT_NOT_FOUND: Final = "fromAccountNotFound"  # /copy (§5.4)
FROM_ACCOUNT_NOT_SUPPORTED_BY_METHOD: Final = "fromAccountNotSupportedByMethod"  # /copy (§5.4)

METHOD_ERROR_TYPES: Final = frozenset(
    {
        SERVER_UNAVAILABLE,
        SERVER_FAIL,
        SERVER_PARTIAL_FAIL,
        UNKNOWN_METHOD,
        INVALID_ARGUMENTS,
        INVALID_RESULT_REFERENCE,
        FORBIDDEN,
        ACCOUNT_NOT_FOUND,
        ACCOUNT_NOT_SUPPORTED_BY_METHOD,
        ACCOUNT_READ_ONLY,
        REQUEST_TOO_LARGE,
        STATE_MISMATCH,
        CANNOT_CALCULATE_CHANGES,
        ANCHOR_NOT_FOUND,
        UNSUPPORTED_SORT,
        UNSUPPORTED_FILTER,
        TOO_MANY_CHANGES,
        FROM_ACCOUNT_NOT_FOUND,
        FROM_ACCOUNT_NOT_SUPPORTED_BY_METHOD,
    }
)


class MethodError(Exception):
    """A method-level error (RFC 8620 §3.6.2): ``["error", {"type": ..., ...}, callId]``.

    Extra keyword arguments become further properties of the error object (e.g.
    ``MethodError("invalidArguments", "bad", arguments=["ids"])``).
    """

    def __init__(self, type: str, description: str | None = None, **props: Any) -> None:
        super().__init__(description or type)
        self.type = type
        self.description = description
        self.properties: dict[str, Any] = props

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.description is not None:
            out["description"] = self.description
        out.update(self.properties)
        return out

    def __repr__(self) -> str:
        return f"MethodError({self.type!r}, {self.description!r})"


def invalid_arguments(description: str, **props: Any) -> MethodError:
    return MethodError(INVALID_ARGUMENTS, description, **props)


# -- per object (§5.3, §5.4 and RFC 8621) ------------------------------------------------------
SET_FORBIDDEN: Final = "forbidden"
SET_OVER_QUOTA: Final = "overQuota"
SET_TOO_LARGE: Final = "tooLarge"
SET_RATE_LIMIT: Final = "rateLimit"
SET_NOT_FOUND: Final = "notFound"
SET_INVALID_PATCH: Final = "invalidPatch"
SET_WILL_DESTROY: Final = "willDestroy"
SET_INVALID_PROPERTIES: Final = "invalidProperties"
SET_SINGLETON: Final = "singleton"
SET_ALREADY_EXISTS: Final = "alreadyExists"  # /copy, Email/import (§5.4)
# RFC 8621
SET_MAILBOX_HAS_CHILD: Final = "mailboxHasChild"
SET_MAILBOX_HAS_EMAIL: Final = "mailboxHasEmail"
SET_BLOB_NOT_FOUND: Final = "blobNotFound"
SET_TOO_MANY_KEYWORDS: Final = "tooManyKeywords"
SET_TOO_MANY_MAILBOXES: Final = "tooManyMailboxes"
SET_INVALID_EMAIL: Final = "invalidEmail"
SET_TOO_MANY_RECIPIENTS: Final = "tooManyRecipients"
SET_NO_RECIPIENTS: Final = "noRecipients"
SET_INVALID_RECIPIENTS: Final = "invalidRecipients"
SET_FORBIDDEN_MAIL_FROM: Final = "forbiddenMailFrom"
SET_FORBIDDEN_FROM: Final = "forbiddenFrom"
SET_FORBIDDEN_TO_SEND: Final = "forbiddenToSend"
SET_CANNOT_UNSEND: Final = "cannotUnsend"

SET_ERROR_TYPES: Final = frozenset(
    {
        SET_FORBIDDEN,
        SET_OVER_QUOTA,
        SET_TOO_LARGE,
        SET_RATE_LIMIT,
        SET_NOT_FOUND,
        SET_INVALID_PATCH,
        SET_WILL_DESTROY,
        SET_INVALID_PROPERTIES,
        SET_SINGLETON,
        SET_ALREADY_EXISTS,
        SET_MAILBOX_HAS_CHILD,
        SET_MAILBOX_HAS_EMAIL,
        SET_BLOB_NOT_FOUND,
        SET_TOO_MANY_KEYWORDS,
        SET_TOO_MANY_MAILBOXES,
        SET_INVALID_EMAIL,
        SET_TOO_MANY_RECIPIENTS,
        SET_NO_RECIPIENTS,
        SET_INVALID_RECIPIENTS,
        SET_FORBIDDEN_MAIL_FROM,
        SET_FORBIDDEN_FROM,
        SET_FORBIDDEN_TO_SEND,
        SET_CANNOT_UNSEND,
    }
)


class SetError(Exception):
    """A per-object error (RFC 8620 §5.3): ``{"type": ..., "description"?: ..., ...}``.

    ``properties`` lists the offending properties (required by the RFC for
    ``invalidProperties``); further keyword arguments become extra members, e.g.
    ``existingId`` for ``alreadyExists`` or ``notFound`` for ``blobNotFound``.
    """

    def __init__(
        self,
        type: str,
        description: str | None = None,
        *,
        properties: list[str] | tuple[str, ...] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(description or type)
        self.type = type
        self.description = description
        self.properties = list(properties) if properties is not None else None
        self.extra: dict[str, Any] = extra

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.description is not None:
            out["description"] = self.description
        if self.properties is not None:
            out["properties"] = self.properties
        out.update(self.extra)
        return out

    def __repr__(self) -> str:
        return f"SetError({self.type!r}, {self.description!r})"


# -- the one mapping from the store's taxonomy -------------------------------------------------
# Kinds that concern one object map to a SetError; the others mean the whole method cannot go on.
_SET_BY_KIND: Final = MappingProxyType(
    {
        ErrorKind.NOT_FOUND: (SET_NOT_FOUND, "The object does not exist."),
        ErrorKind.EXPUNGED: (SET_NOT_FOUND, "The object no longer exists."),
        ErrorKind.ALREADY_EXISTS: (SET_ALREADY_EXISTS, "The object already exists."),
        ErrorKind.NO_PERMISSION: (SET_FORBIDDEN, "Not permitted."),
        ErrorKind.OVER_QUOTA: (SET_OVER_QUOTA, "The account is over quota."),
        ErrorKind.TOO_LARGE: (SET_TOO_LARGE, "The object is too large."),
        # overQuota (§5.3): "a server-defined limit on the number or total size of objects".
        ErrorKind.LIMIT: (SET_OVER_QUOTA, "A server limit on this type of object was reached."),
        ErrorKind.INVALID: (SET_INVALID_PROPERTIES, "The object is invalid."),
        ErrorKind.HAS_CHILDREN: (SET_MAILBOX_HAS_CHILD, "The mailbox has child mailboxes."),
        ErrorKind.IN_USE: (SET_FORBIDDEN, "The object is in use."),
    }
)
_METHOD_BY_KIND: Final = MappingProxyType(
    {
        ErrorKind.NOT_FOUND: (ACCOUNT_NOT_FOUND, "The account does not exist."),
        ErrorKind.EXPUNGED: (SERVER_UNAVAILABLE, "The data changed concurrently; try again."),
        ErrorKind.ALREADY_EXISTS: (INVALID_ARGUMENTS, "The object already exists."),
        ErrorKind.NO_PERMISSION: (FORBIDDEN, "Not permitted."),
        ErrorKind.OVER_QUOTA: (FORBIDDEN, "The account is over quota."),
        ErrorKind.TOO_LARGE: (REQUEST_TOO_LARGE, "The request is too large."),
        ErrorKind.LIMIT: (REQUEST_TOO_LARGE, "A server limit was reached."),
        ErrorKind.INVALID: (INVALID_ARGUMENTS, "Invalid arguments."),
        ErrorKind.HAS_CHILDREN: (FORBIDDEN, "The object has children."),
        ErrorKind.IN_USE: (SERVER_UNAVAILABLE, "The object is in use; try again later."),
        ErrorKind.TEMPORARY: (SERVER_UNAVAILABLE, "Temporary failure; try again later."),
        ErrorKind.STATE_MISMATCH: (STATE_MISMATCH, "The state does not match."),
        ErrorKind.INTERNAL: (SERVER_FAIL, "Internal error."),
        ErrorKind.UNAVAILABLE: (SERVER_UNAVAILABLE, "The server cannot write now; try again."),
        # RFC 8620 §3.6.2 serverPartialFail: changes may have happened; the client MUST
        # resynchronise (the write log could not say whether the write was applied).
        ErrorKind.UNKNOWN_OUTCOME: (
            SERVER_PARTIAL_FAIL,
            "The write may or may not have happened; resynchronise.",
        ),
    }
)


def method_error_for(error: MailError | ErrorKind) -> MethodError:
    """The method-level error for a store failure that stops the whole method call."""
    kind = error if isinstance(error, ErrorKind) else error.kind
    type_, text = _METHOD_BY_KIND[kind]
    return MethodError(type_, text)


def set_error_for(error: MailError | ErrorKind) -> SetError:
    """The SetError for a store failure concerning one object.

    Kinds that are not about one object (``TEMPORARY``, ``STATE_MISMATCH``, ``INTERNAL``) have no
    SetError: for those this *raises* the :func:`method_error_for` error, so the method call as a
    whole is answered with it.
    """
    kind = error if isinstance(error, ErrorKind) else error.kind
    entry = _SET_BY_KIND.get(kind)
    if entry is None:
        raise method_error_for(kind)
    return SetError(entry[0], entry[1])
