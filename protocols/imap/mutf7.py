"""Modified UTF-7 mailbox names (RFC 3501 §5.1.3, kept by RFC 9051 §5.1 for IMAP4rev1 clients).

Printable US-ASCII (0x20-0x7E) stands for itself, except ``&`` which is written ``&-``.  Any
other run of characters is UTF-16BE, base64-encoded with ``,`` instead of ``/`` and no padding,
between ``&`` and ``-``.
"""

from __future__ import annotations

import binascii

__all__ = ["decode", "encode"]


def _is_direct(ch: str) -> bool:
    return 0x20 <= ord(ch) <= 0x7E


def _b64(chunk: str) -> str:
    raw = chunk.encode("utf-16-be")
    return binascii.b2a_base64(raw, newline=False).decode("ascii").rstrip("=").replace("/", ",")


def encode(name: str) -> str:
    """Encode a Unicode mailbox name as modified UTF-7."""
    out: list[str] = []
    pending: list[str] = []
    for ch in name:
        if _is_direct(ch):
            if pending:
                out.append("&" + _b64("".join(pending)) + "-")
                pending.clear()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    if pending:
        out.append("&" + _b64("".join(pending)) + "-")
    return "".join(out)


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")


def decode(text: str) -> str:
    """Decode a modified UTF-7 mailbox name; :class:`ValueError` when it is malformed.

    Characters above U+007E are let through unchanged (a liberal reading: some clients send raw
    UTF-8 without having enabled UTF8=ACCEPT).  Control characters are rejected.
    """
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != "&":
            if ord(ch) < 0x20 or ord(ch) == 0x7F:
                raise ValueError("control character in mailbox name")
            out.append(ch)
            i += 1
            continue
        end = text.find("-", i + 1)
        if end < 0:
            raise ValueError("unterminated modified base64 run")
        run = text[i + 1 : end]
        i = end + 1
        if not run:
            out.append("&")
            continue
        if not set(run) <= _B64_ALPHABET:
            raise ValueError("invalid character in modified base64 run")
        if len(run) % 4 == 1:
            raise ValueError("truncated modified base64 run")
        padded = run.replace(",", "/") + "=" * (-len(run) % 4)
        try:
            raw = binascii.a2b_base64(padded, strict_mode=True)
        except binascii.Error as exc:
            raise ValueError(f"bad modified base64: {exc}") from None
        if len(raw) % 2:
            raise ValueError("odd number of octets in a UTF-16 run")
        try:
            decoded = raw.decode("utf-16-be")
        except UnicodeDecodeError:
            raise ValueError("invalid UTF-16 in modified base64 run") from None
        # RFC 3501 §5.1.3: printable US-ASCII must not be encoded in a run.
        if any(_is_direct(c) for c in decoded):
            raise ValueError("printable ASCII inside a modified base64 run")
        out.append(decoded)
    return "".join(out)
