"""Public id strings for stored objects: JMAP ids (RFC 8620 §1.2) and IMAP OBJECTID (RFC 8474).

Both protocols show the same string for the same object, so a client using both sees one truth.
"""

from __future__ import annotations

_PREFIX = {"email": "e", "thread": "t", "mailbox": "m", "account": "a", "object": "o"}


def object_id(kind: str, number: int) -> str:
    return f"{_PREFIX[kind]}{number}"


def parse_object_id(kind: str, text: str) -> int | None:
    prefix = _PREFIX[kind]
    digits = text[1:]
    # Only the form object_id() writes: ASCII digits without a leading zero ("e0123" and
    # "e١٢٣" are not ids this server issued, though int() would read them).
    if (
        not text.startswith(prefix)
        or not digits.isascii()
        or not digits.isdigit()
        or (digits[0] == "0" and len(digits) > 1)
        or len(text) > 12
    ):
        return None
    return int(digits)


def blob_id(sha: bytes) -> str:
    """JMAP blobId of a stored blob: "b" + its sha256 in hex."""
    return "b" + sha.hex()


def parse_blob_id(text: str) -> bytes | None:
    if len(text) != 65 or not text.startswith("b"):
        return None
    try:
        return bytes.fromhex(text[1:])
    except ValueError:
        return None
