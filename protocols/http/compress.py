"""Response compression: gzip (RFC 1952) when the client accepts it (RFC 9110 §12.5.3).

Only complete responses above a minimum size are compressed, never streaming ones (EventSource
must flush each event) and never bodies that are already compressed.
"""

from __future__ import annotations

import functools
import zlib

# Media types whose content is compressed already: gzip would cost CPU for nothing.
_COMPRESSED_PREFIXES = ("image/", "audio/", "video/", "font/woff")
_COMPRESSED_TYPES = frozenset(
    {
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/zstd",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/vnd.rar",
        "application/pdf",
        "application/octet-stream",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "text/event-stream",
    }
)
_TEXTUAL_IMAGES = frozenset({"image/svg+xml", "image/bmp", "image/x-icon"})


@functools.lru_cache(maxsize=256)  # clients send the same few values on every request
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``gzip`` is acceptable by an ``Accept-Encoding`` value.

    ``gzip`` (or its alias ``x-gzip``, RFC 9110 §8.4.1.3) with a non-zero weight, or ``*`` with a
    non-zero weight when gzip is not listed; ``q=0`` means "not acceptable" (§12.4.2).
    """
    if not accept_encoding:
        return False
    star: float | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q
    return star is not None and star > 0


@functools.lru_cache(maxsize=256)
def compressible(content_type: str | None) -> bool:
    """Whether a body of this media type is worth gzipping."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _TEXTUAL_IMAGES:
        return True
    if media in _COMPRESSED_TYPES:
        return False
    return not media.startswith(_COMPRESSED_PREFIXES)


def gzip_bytes(body: bytes, level: int = 6) -> bytes:
    """A gzip member with mtime 0, so equal bodies compress to equal bytes."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 16+15: gzip container
    return compressor.compress(body) + compressor.flush()
