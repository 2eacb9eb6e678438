"""Stored records: frozen dataclasses encoded as msgpack arrays of their fields in order.

A record gains fields only at its end, with defaults, so that older values still decode.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from .codec import pack, unpack

R = TypeVar("R")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def encode_record(obj: Any) -> bytes:
    return pack([getattr(obj, n) for n in _names(type(obj))])


_set = object.__setattr__


def evolve(obj: R, **changes: Any) -> R:
    """``dataclasses.replace`` for records (which have no ``__post_init__``) at half its cost:
    it is called several times per applied operation.  An unknown field raises AttributeError
    (the records have slots)."""
    cls = type(obj)
    new = object.__new__(cls)
    for name in _names(cls):
        _set(new, name, getattr(obj, name))
    for name, value in changes.items():
        _set(new, name, value)
    return new


def decode_record(cls: type[R], data: bytes) -> R:
    return cls(*unpack(data))


# Principal kinds (RFC 9670 / Stalwart's directory model).
INDIVIDUAL = "individual"
GROUP = "group"
LIST = "list"
DOMAIN_KIND = "domain"
PRINCIPAL_KINDS = (INDIVIDUAL, GROUP, LIST, DOMAIN_KIND)


@dataclass(frozen=True, slots=True)
class Principal:
    id: int
    kind: str
    name: str  # login name (usually the primary address)
    emails: tuple[str, ...]  # primary first, then aliases
    secret: str  # password hash ("" = cannot log in)
    quota: int  # bytes, 0 = unlimited
    members: tuple[int, ...] = ()  # groups and lists
    description: str = ""
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    catch_all: int = 0  # principal id receiving mail for unknown local parts, 0 = none


@dataclass(frozen=True, slots=True)
class AccountState:
    """Per-account counters; ``modseq`` is the change counter behind JMAP states and IMAP MODSEQ."""

    modseq: int = 0
    next_email: int = 1
    next_mailbox: int = 1
    next_thread: int = 1
    used_bytes: int = 0
    email_count: int = 0
    # Last modseq at which each object type changed: JMAP per-type state strings.
    type_states: tuple[tuple[str, int], ...] = ()
    # Oldest modseq still answerable from the change log (older states need a full resync).
    changes_floor: int = 0
    # Ids of generic objects (Identity, EmailSubmission, PushSubscription, ...).
    next_object: int = 1

    def type_state(self, type_name: str) -> int:
        for name, value in self.type_states:
            if name == type_name:
                return value
        return 0


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: int
    name: str
    parent_id: int  # 0 = top level
    role: str  # "" = none; JMAP roles: inbox, drafts, sent, trash, junk, archive, ...
    sort_order: int
    subscribed: bool
    uidvalidity: int
    uidnext: int
    total: int = 0
    unseen: int = 0
    deleted: int = 0
    size: int = 0
    highest_modseq: int = 0


@dataclass(frozen=True, slots=True)
class Email:
    id: int
    thread_id: int
    blob: bytes  # sha256 of the raw message
    size: int
    received_at: int  # unix seconds
    keywords: tuple[str, ...]  # sorted, lower-case JMAP keywords ($seen, $flagged, ...)
    mailboxes: tuple[tuple[int, int], ...]  # (mailbox id, uid), sorted by mailbox id
    modseq: int  # last change
    created_modseq: int
    message_id: str = ""
    id_hashes: tuple[bytes, ...] = ()  # reference-index hashes this email wrote
    subject_hash: bytes = b""

    def uid_in(self, mailbox_id: int) -> int | None:
        for mid, uid in self.mailboxes:
            if mid == mailbox_id:
                return uid
        return None


@dataclass(frozen=True, slots=True)
class BlobInfo:
    size: int
    refs: int  # emails referencing the blob
    hold_until: int  # unreferenced blobs live until then (uploads), unix seconds


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """One line of an account's change log.

    ``type`` is a JMAP type name ("Email", "Mailbox", "Thread", ...) or "imap" for per-mailbox UID
    events; ``op`` is "c" (created), "u" (updated), "d" (destroyed); for "imap" entries ``id`` is
    the mailbox id, ``uid`` the UID and op "a" (appended), "f" (flags changed) or "x" (expunged).
    """

    type: str
    id: int
    op: str
    uid: int = 0


KEYWORD_SEEN = "$seen"
KEYWORD_DELETED = "$deleted"
