"""The few decoded header values SEARCH compares, cached by message content.

SUBJECT, FROM, TO, CC and BCC (RFC 9051 §6.4.4) match "messages that contain the specified
string" in that field: a case-insensitive substring of the decoded field.  Sent-date keys read
the day of the (first) Date: header in its own time zone.  These are functions of the message
bytes alone, so they are cached by blob digest (content-addressed, so never stale), shared by
every session and account, and a search over a mailbox decodes each message's stored parse
once, not once per search.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from protocols.mime import Address, ParsedMessage, parse_date_day
from protocols.mime.model import EnvelopeAddress

MAX_CACHED = 50_000  # like the ENVELOPE/BODYSTRUCTURE render cache (handlers/fetch.py)


@dataclass(frozen=True, slots=True)
class HeaderInfo:
    """Case-folded search text of the envelope fields, and the Date: header's day (the unix
    time of 00:00 UTC of the date as written in the header's own zone; None when there is no
    parsable Date:)."""

    subject: str
    from_: str
    to: str
    cc: str
    bcc: str
    sent_day: int | None

    def text(self, field: str) -> str:
        """The case-folded text of ``SUBJECT``/``FROM``/``TO``/``CC``/``BCC``."""
        if field == "SUBJECT":
            return self.subject
        if field == "FROM":
            return self.from_
        if field == "TO":
            return self.to
        if field == "CC":
            return self.cc
        return self.bcc


def _address_text(name: str | None, email: str) -> str:
    return f"{name} <{email}>" if name else email


def _text(addresses: list[str], groups: list[str]) -> str:
    """``Name <local@domain>, other@domain, group``: a needle may name any part.  The envelope
    field §6.4.4 searches holds group names too (``To: undisclosed-recipients:;``)."""
    return ", ".join(addresses + groups).casefold()


def _groups(envelope_addresses: Sequence[Any]) -> list[str]:
    """Group names among ENVELOPE addresses in wire form ``[name, adl, mailbox, host]``: a group
    start has a mailbox (the group name) and no host (RFC 9051 §7.5.2)."""
    return [a[2] for a in envelope_addresses if a[3] is None and a[2] is not None]


def _addresses(addrs: tuple[Address, ...], envelope: Sequence[EnvelopeAddress]) -> str:
    return _text(
        [_address_text(a.name, a.email) for a in addrs],
        _groups([e.to_wire() for e in envelope]),
    )


def _wire_addresses(items: Sequence[Any], envelope: Sequence[Any]) -> str:
    return _text([_address_text(a[0], a[1]) for a in items], _groups(envelope))


def header_info_of(parsed: ParsedMessage) -> HeaderInfo:
    env = parsed.envelope
    return HeaderInfo(
        subject=(parsed.subject or "").casefold(),
        from_=_addresses(parsed.from_, env.from_),
        to=_addresses(parsed.to, env.to),
        cc=_addresses(parsed.cc, env.cc),
        bcc=_addresses(parsed.bcc, env.bcc),
        sent_day=parse_date_day(env.date),
    )


def header_info_of_wire(wire: Sequence[Any]) -> HeaderInfo:
    """The same from :meth:`ParsedMessage.to_wire` output (current ``WIRE_VERSION``), without
    rebuilding the MIME tree: the envelope is field 3 (from, to, cc and bcc at 2, 5, 6 and 7
    in it, the Date: header at 0); subject, from, to, cc and bcc are fields 8, 9, 12, 13 and
    14."""
    env = wire[3]
    return HeaderInfo(
        subject=(wire[8] or "").casefold(),
        from_=_wire_addresses(wire[9], env[2]),
        to=_wire_addresses(wire[12], env[5]),
        cc=_wire_addresses(wire[13], env[6]),
        bcc=_wire_addresses(wire[14], env[7]),
        sent_day=parse_date_day(env[0]),
    )


_cache: OrderedDict[bytes, HeaderInfo] = OrderedDict()


def header_info(blob: bytes, load: Callable[[], HeaderInfo]) -> HeaderInfo:
    """The message's :class:`HeaderInfo`; ``load`` builds it on a cache miss."""
    info = _cache.get(blob)
    if info is None:
        info = _cache[blob] = load()
        if len(_cache) > MAX_CACHED:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(blob)
    return info
