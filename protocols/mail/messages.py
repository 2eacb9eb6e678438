"""Messages as the store keeps them: the one place that turns a parsed message into an email.

Delivery, IMAP APPEND and COPY, JMAP Email/set, Email/import and Email/copy all store mail
through :func:`new_email_ops` / :func:`copy_email_op`, so the stored metadata (the parsed MIME
tree with byte offsets, parsed once), the threading keys and the blob are the same whoever
stored the message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from protocols.mime import ParsedMessage
from store.batch import ImportEmail, PutBlob
from store.codec import pack, unpack
from store.models import Email


def encode_metadata(parsed: ParsedMessage) -> bytes:
    """The stored form of a parsed message (what FETCH and Email/get read back)."""
    return pack(parsed.to_wire())


def decode_metadata(data: bytes) -> ParsedMessage:
    return ParsedMessage.from_wire(unpack(data))


def decode_metadata_wire(data: bytes) -> object:
    """The stored metadata as plain values (for readers that index into it directly)."""
    return unpack(data)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message to store as a new email of an account."""

    raw: bytes
    parsed: ParsedMessage
    mailbox_ids: tuple[int, ...]
    keywords: tuple[str, ...] = ()
    received_at: int = 0
    dedupe_window: int = 0  # seconds; 0 = no duplicate suppression (delivery sets it)
    delivery: bool = False  # arrived by delivery (JMAP EmailDelivery push type)

    @property
    def sha(self) -> bytes:
        return hashlib.sha256(self.raw).digest()


def _threading(parsed: ParsedMessage) -> tuple[str, tuple[str, ...], str]:
    """(Message-ID, the ids it refers to, normalised subject): what threading reads."""
    message_id = parsed.message_id[0] if parsed.message_id else ""
    references = tuple(dict.fromkeys((*parsed.in_reply_to, *parsed.references)))
    return message_id, references, parsed.normalized_subject


def new_email_ops(acct: int, new: NewMessage, *, hold_until: int) -> tuple[PutBlob, ImportEmail]:
    """The blob and the email of a new message (the blob held until ``hold_until``).  The
    blob's bytes travel beside the batch (``Batch.blobs``), never in it."""
    sha = new.sha
    message_id, references, subject = _threading(new.parsed)
    return (
        PutBlob(sha, len(new.raw), hold_until=hold_until),
        ImportEmail(
            acct,
            sha,
            len(new.raw),
            new.mailbox_ids,
            new.keywords,
            new.received_at,
            encode_metadata(new.parsed),
            message_id=message_id,
            references=references,
            subject=subject,
            dedupe_window=new.dedupe_window,
            delivery=new.delivery,
        ),
    )


def copy_email_op(
    acct: int,
    original: Email,
    metadata: bytes,
    mailbox_ids: tuple[int, ...],
    keywords: tuple[str, ...],
    received_at: int,
) -> ImportEmail:
    """A new, independent email of ``acct`` sharing ``original``'s stored blob and metadata."""
    message_id, references, subject = (
        _threading(decode_metadata(metadata)) if metadata else (original.message_id, (), "")
    )
    return ImportEmail(
        acct,
        original.blob,
        original.size,
        mailbox_ids,
        keywords,
        received_at,
        metadata,
        message_id=message_id or original.message_id,
        references=references,
        subject=subject,
    )
