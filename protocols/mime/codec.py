"""Transfer decoding (RFC 2045 §6), charset decoding and RFC 2047 encoded words.

Everything here is tolerant: garbage in gives a best-effort result, never an exception.
"""

from __future__ import annotations

import binascii
import codecs
import re
from functools import lru_cache

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_DELETE = bytes(c for c in range(256) if c not in _B64_ALPHABET and c != ord("="))

# Charset labels that promise ASCII (or promise nothing): real mail under these labels is
# usually UTF-8 or Windows-1252, so decode as UTF-8 and fall back to cp1252.
_ASCII_LIKE = frozenset(
    {
        "",
        "us-ascii",
        "ascii",
        "ansi_x3.4-1968",
        "iso646-us",
        "us",
        "unknown-8bit",
        "x-unknown",
        "unknown",
        "default",
        "none",
        "x-user-defined",
        "8bit",
        "7bit",
    }
)

_ALIASES = {
    "utf8": "utf-8",
    "x-utf-8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "x-sjis": "cp932",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-euc-jp": "euc_jp",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "windows-874": "cp874",
    "x-mac-roman": "mac_roman",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "iso_8859-1": "cp1252",
    "tis-620": "cp874",
}


_NOT_MAIL_CODECS = frozenset(
    {
        "punycode",
        "idna",
        "raw-unicode-escape",
        "unicode-escape",
        "undefined",
        "mbcs",
        "oem",
        "charmap",
        "escape-codec",
    }
)


@lru_cache(maxsize=256)
def _codec_name(label: str) -> str | None:
    """Python codec name for a MIME charset label, None for ASCII-like or unknown labels."""
    name = label.strip().strip("\"'").lower()
    if name in _ASCII_LIKE:
        return None
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # Refuse bytes-to-bytes transforms such as "base64" or "rot13" (not text encodings), and
    # Python-only codecs that no mailer uses (punycode decoding is quadratic, for one).
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_MAIL_CODECS:
        return None
    return info.name


def decode_text(data: bytes, charset: str | None) -> str:
    """Decode ``data`` from ``charset`` with replacement; unknown or ASCII-like labels decode as
    UTF-8 when valid, else cp1252 (a latin-1 superset)."""
    codec = _codec_name(charset[:64]) if charset else None
    if codec is not None:
        try:
            return data.decode(codec, "replace")
        except Exception:  # noqa: BLE001 - codecs can raise odd errors on odd input
            pass
    return decode_8bit(data)


def decode_8bit(data: bytes) -> str:
    """UTF-8 first, then cp1252 (undefined cp1252 octets map to their latin-1 characters)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def decode_header_bytes(data: bytes) -> str:
    """Raw 8-bit header text (RFC 6532 allows UTF-8): UTF-8 first, latin-1 fallback."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _base64_chunks(data: bytes) -> list[bytes]:
    filtered = data.translate(None, _B64_DELETE)
    pad = filtered.find(b"=")
    if pad < 0 or not filtered[pad:].strip(b"="):
        return [filtered[:pad] if pad >= 0 else filtered]
    return filtered.split(b"=")  # padding in the middle: concatenated base64 blocks


def base64_decoded_size(data: bytes) -> int:
    """``len(decode_base64(data))`` without decoding."""
    total = 0
    for chunk in _base64_chunks(data):
        full, rem = divmod(len(chunk), 4)
        total += full * 3 + (rem - 1 if rem > 1 else 0)
    return total


def decode_base64(data: bytes) -> bytes:
    """Tolerant base64: ignores characters outside the alphabet, repairs padding, and decodes
    concatenated padded blocks one after another."""
    chunks = _base64_chunks(data)
    out: list[bytes] = []
    for chunk in chunks:
        if not chunk:
            continue
        rem = len(chunk) % 4
        if rem == 1:
            chunk = chunk[:-1]
        elif rem:
            chunk += b"=" * (4 - rem)
        if chunk:
            try:
                out.append(binascii.a2b_base64(chunk))
            except (binascii.Error, ValueError):
                continue
    return b"".join(out)


# RFC 2045 §6.7, one token at a time: an "=XX" escape (rule 1; lower-case hex accepted, as the
# RFC suggests of a robust decoder); a soft line break, "=" at the end of an encoded line, which
# may be followed by whitespace a transport added (rule 5); whitespace at the end of a line,
# which "must be deleted" (rule 3).  Any other "=" is kept literally.
_QP_TOKEN = re.compile(rb"=([0-9A-Fa-f]{2})|=[ \t]*(?:\r\n|\n|\r|\Z)|[ \t]+(?=\r\n|\n|\r|\Z)")
_QP_OCTET = {
    (hi + lo).encode(): bytes((int(hi + lo, 16),))
    for hi in "0123456789abcdefABCDEF"
    for lo in "0123456789abcdefABCDEF"
}


def _qp_token(m: re.Match[bytes]) -> bytes:
    hexpair = m.group(1)
    return b"" if hexpair is None else _QP_OCTET[hexpair]


# Decoded a block of lines at a time: ``re.sub`` holds every piece of its result until the
# end, ≈11x the input for escape-dense text (278 MB for a 24 MB part), a block's worth so.
_QP_BLOCK = 1 << 18


def decode_qp(data: bytes) -> bytes:
    """Quoted-printable (RFC 2045 §6.7): escapes decoded, soft line breaks (with any whitespace
    after the ``=``) and trailing whitespace on a line removed; invalid escapes kept literally.
    Line breaks are kept as they are in the encoded text."""
    if b"=" not in data and b" " not in data and b"\t" not in data:
        return data
    if len(data) <= _QP_BLOCK:
        return _QP_TOKEN.sub(_qp_token, data)
    # Blocks end just after an LF: every token lies within one line, up to and including its
    # line break, so none spans two blocks (and CRLF is never cut).
    out = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + _QP_BLOCK)
        end = len(data) if end < 0 else end + 1
        out.append(_QP_TOKEN.sub(_qp_token, data[start:end]))
        start = end
    return b"".join(out)


def decode_transfer(data: bytes, encoding: str | None) -> bytes:
    """Undo a Content-Transfer-Encoding; 7bit/8bit/binary/unknown return the data unchanged."""
    if encoding == "base64":
        return decode_base64(data)
    if encoding == "quoted-printable":
        return decode_qp(data)
    return data


# RFC 2047 §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?="
# (charset may carry an RFC 2231 §5 "*language" suffix).  Tolerant: spaces inside the text
# are accepted, which real mailers emit.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([bBqQ])\?([^?]*)\?=")
_QP_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _q_decode(text: str) -> bytes:
    raw = text.replace("_", " ").encode("latin-1", "replace")
    return _QP_HEX.sub(lambda m: bytes((int(m.group(1), 16),)), raw)


def _word_bytes(encoding: str, text: str) -> bytes:
    if encoding in "bB":
        return decode_base64(text.encode("latin-1", "replace"))
    return _q_decode(text)


def decode_header_value(raw: str | bytes) -> str:
    """Unfold a header value and decode RFC 2047 encoded words.

    Whitespace between adjacent encoded words is dropped (RFC 2047 §6.2); adjacent words in the
    same charset are joined before charset decoding so multi-octet characters split across
    words survive.  Bytes input is decoded as UTF-8 with a latin-1 fallback.
    """
    text = decode_header_bytes(raw) if isinstance(raw, bytes) else raw
    if "\n" in text or "\r" in text:
        text = _FOLD.sub("", text).replace("\r", "").replace("\n", "")
    if "=?" not in text:
        return text
    out: list[str] = []
    pending: bytes = b""
    pending_charset: str | None = None
    pos = 0
    for m in _ENCODED_WORD.finditer(text):
        between = text[pos : m.start()]
        if between and (pending_charset is None or between.strip(" \t")):
            if pending_charset is not None:
                out.append(decode_text(pending, pending_charset))
                pending, pending_charset = b"", None
            out.append(between)
        charset = m.group(1).split("*", 1)[0].lower()
        data = _word_bytes(m.group(2), m.group(3))
        if pending_charset is not None and charset != pending_charset:
            out.append(decode_text(pending, pending_charset))
            pending = b""
        pending += data
        pending_charset = charset
        pos = m.end()
    if pending_charset is not None:
        out.append(decode_text(pending, pending_charset))
    out.append(text[pos:])
    return "".join(out)
