"""Tolerant RFC 5322 §3.4 address-list parsing (with groups and obsolete routes), message-id
lists (§3.6.4) and Date: parsing (§3.3)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from email.utils import parsedate_tz

from .codec import decode_header_value
from .model import Address, EnvelopeAddress

_SPECIALS = frozenset('<>@,;:."[]')


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "a" atom, "q" quoted-string, "c" comment, "d" domain literal, or a special char
    text: str
    ws: bool  # whitespace (or a comment) precedes the token


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
    |(?P<q>"(?P<qb>(?:[^"\\]|\\.)*)(?:"|\Z))
    |(?P<c>\()
    |(?P<d>\[[^\]]*(?:\]|\Z))
    |(?P<s>[<>@,;:.\]])
    |(?P<a>[^ \t\r\n"(<>@,;:.\[\]]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    n = len(text)
    ws = False
    match = _TOKEN_RE.match
    while pos < n:
        m = match(text, pos)
        if m is None:  # cannot happen with the alternatives above; be safe anyway
            pos += 1
            continue
        kind = m.lastgroup
        if kind == "ws":
            ws = True
        elif kind == "a":
            toks.append(_Tok("a", m.group(), ws))
            ws = False
        elif kind == "s":
            c = m.group()
            toks.append(_Tok(c, c, ws))
            ws = False
        elif kind == "q":
            body = m.group("qb")
            if "\\" in body:
                body = _QUOTED_PAIR.sub(r"\1", body)
            if "\r" in body or "\n" in body:
                body = body.replace("\r", "").replace("\n", "")
            toks.append(_Tok("q", body, ws))
            ws = False
        elif kind == "d":
            toks.append(_Tok("d", m.group(), ws))
            ws = False
        else:  # comment, possibly nested (RFC 5322 §3.2.2)
            depth = 1
            i = m.end()
            start = i
            while i < n and depth:
                ch = text[i]
                if ch == "\\":
                    i += 1
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                i += 1
            body = text[start : i - 1 if depth == 0 else n]
            if "\\" in body:  # quoted-pairs are part of ccontent (RFC 5322 §3.2.2)
                body = _QUOTED_PAIR.sub(r"\1", body)
            toks.append(_Tok("c", body.strip(), ws))
            ws = True
            pos = i
            continue
        pos = m.end()
    return toks


def _phrase(toks: list[_Tok]) -> str | None:
    """Join display-name tokens, keeping the original spacing between words."""
    out: list[str] = []
    for t in toks:
        if t.kind == "c":
            continue
        if out and t.ws:
            out.append(" ")
        out.append(t.text)
    text = "".join(out).strip()
    return text or None


def _join(toks: list[_Tok]) -> str:
    return "".join(t.text for t in toks if t.kind != "c")


@dataclass(frozen=True, slots=True)
class _Mailbox:
    name: str | None  # raw phrase (quotes removed, not RFC 2047-decoded)
    adl: str | None
    local: str
    domain: str | None
    comment: str | None


def _mailbox(toks: list[_Tok]) -> _Mailbox | None:
    if not toks:
        return None
    lt = next((i for i, t in enumerate(toks) if t.kind == "<"), -1)
    if lt >= 0:
        gt = next((i for i in range(lt + 1, len(toks)) if toks[i].kind == ">"), len(toks))
        name = _phrase(toks[:lt])
        inner = [t for t in toks[lt + 1 : gt] if t.kind != "c"]
        trailing = toks[gt + 1 :]
        if name is None:
            name = _phrase(trailing) if any(t.kind != "c" for t in trailing) else None
        adl = None
        colon = next((i for i, t in enumerate(inner) if t.kind == ":"), -1)
        if colon >= 0:  # obsolete route (RFC 5322 §4.4): <@a,@b:user@host>
            adl = _join(inner[:colon]) or None
            inner = inner[colon + 1 :]
        local, domain = _addr_spec(inner)
        comment = next((t.text for t in toks if t.kind == "c" and t.text), None)
        if not local and domain is None and name is None:
            return None
        return _Mailbox(name, adl, local, domain, comment)
    plain = [t for t in toks if t.kind != "c"]
    comment = next((t.text for t in toks if t.kind == "c" and t.text), None)
    if not plain:
        return None
    local, domain = _addr_spec(plain)
    return _Mailbox(None, None, local, domain, comment)


def _addr_spec(toks: list[_Tok]) -> tuple[str, str | None]:
    at = -1
    for i in range(len(toks) - 1, -1, -1):
        if toks[i].kind == "@":
            at = i
            break
    if at < 0:  # no domain: keep the words as written ("Recipient-List", "Someone Else")
        return (_phrase(toks) or ""), None
    return _local(toks[:at]), _join(toks[at + 1 :]).strip()


def _local(toks: list[_Tok]) -> str:
    parts: list[str] = []
    for t in toks:
        if t.kind == "q":
            text = t.text
            if any(c in text for c in ' "\\(),:;<>@[]'):
                text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
            parts.append(text)
        else:
            parts.append(t.text)
    return "".join(parts).strip()


@dataclass(frozen=True, slots=True)
class _Group:
    name: str | None
    members: list[_Mailbox]


def _parse(text: str) -> list[_Mailbox | _Group]:
    toks = _tokenize(text)
    items: list[_Mailbox | _Group] = []
    cur: list[_Tok] = []
    angle_at = -1
    group: _Group | None = None
    in_angle = False
    for t in toks:
        k = t.kind
        if k == "<":
            in_angle = True
        elif k == ">":
            in_angle = False
        if k == "<":
            angle_at = len(cur)
        if in_angle and k in ",;:" and not (k == ":" and _route_follows(cur, angle_at)):
            # Separators inside <...> are junk except an obsolete route's colon.
            cur.append(t)
            continue
        if k == "," and not in_angle:
            mb = _mailbox(cur)
            if mb is not None and group is not None:
                group.members.append(mb)
            elif mb is not None:
                items.append(mb)
            cur, angle_at = [], -1
        elif k == ":" and not in_angle and group is None and angle_at < 0:
            group = _Group(_phrase(cur), [])
            cur, angle_at = [], -1
        elif k == ";" and not in_angle:
            mb = _mailbox(cur)
            if group is not None:
                if mb is not None:
                    group.members.append(mb)
                items.append(group)
                group = None
            elif mb is not None:
                items.append(mb)
            cur, angle_at = [], -1
        else:
            cur.append(t)
    mb = _mailbox(cur)
    if group is not None:
        if mb is not None:
            group.members.append(mb)
        items.append(group)
    elif mb is not None:
        items.append(mb)
    return items


def _route_follows(cur: list[_Tok], angle_at: int) -> bool:
    """An obsolete route (RFC 5322 §4.4) starts right after "<": ``<@a,@b:user@host>``."""
    return 0 <= angle_at and angle_at + 1 < len(cur) and cur[angle_at + 1].kind == "@"


def _jmap_address(mb: _Mailbox) -> Address:
    email = mb.local if mb.domain is None else f"{mb.local}@{mb.domain}"
    name = mb.name if mb.name is not None else mb.comment
    decoded = decode_header_value(name).strip() if name is not None else None
    return Address(decoded or None, email)


AddressItems = list[_Mailbox | _Group]


_HARD = re.compile(r'["()\\:;\[\]]')
_SIMPLE_ANGLE = re.compile(r"([^<>@]*)<([^<>@\s,]+)@([^<>@\s,]+)>\s*")
_SIMPLE_BARE = re.compile(r"\s*([^<>@\s,]+)@([^<>@\s,]+)\s*")


def _parse_simple(value: str) -> AddressItems | None:
    """Fast path for the common shapes (``Name <a@b>``, ``a@b``) with no quoting, comments,
    groups or routes; None sends the value to the full parser."""
    if _HARD.search(value):
        return None
    out: AddressItems = []
    for item in value.split(","):
        if not item.strip():
            continue
        m = _SIMPLE_ANGLE.fullmatch(item)
        if m is not None:
            name = " ".join(m.group(1).split()) or None
            out.append(_Mailbox(name, None, m.group(2), m.group(3), None))
            continue
        m = _SIMPLE_BARE.fullmatch(item)
        if m is None:
            return None
        out.append(_Mailbox(None, None, m.group(1), m.group(2), None))
    return out


def parse_address_items(value: str | None) -> AddressItems:
    """Parse once; feed the result to :func:`jmap_addresses` and :func:`envelope_addresses`."""
    if not value:
        return []
    simple = _parse_simple(value)
    return simple if simple is not None else _parse(value)


def jmap_addresses(items: AddressItems) -> tuple[Address, ...]:
    out: list[Address] = []
    for item in items:
        if isinstance(item, _Group):
            out.extend(_jmap_address(m) for m in item.members)
        else:
            out.append(_jmap_address(item))
    return tuple(out)


def envelope_addresses(items: AddressItems) -> tuple[EnvelopeAddress, ...]:
    out: list[EnvelopeAddress] = []
    for item in items:
        if isinstance(item, _Group):
            out.append(EnvelopeAddress(None, None, item.name or "", None))
            out.extend(_env_address(m) for m in item.members)
            out.append(EnvelopeAddress(None, None, None, None))
        else:
            out.append(_env_address(item))
    return tuple(out)


def parse_address_list(value: str | None) -> list[Address]:
    """JMAP ``asAddresses`` (RFC 8621 §4.1.2.3): groups flattened, names RFC 2047-decoded, a
    trailing comment used as the name when there is no display name."""
    return list(jmap_addresses(parse_address_items(value)))


def _env_address(mb: _Mailbox) -> EnvelopeAddress:
    # ``user@domain (Real Name)``: with no phrase, the comment is the name, as JMAP's
    # EmailAddress has it (:func:`_jmap_address`) and as Dovecot's and most servers' ENVELOPE
    # show it (RFC 9051 §7.5.2 leaves addr-name to the server: "phrase" or NIL).
    name = mb.name if mb.name is not None else mb.comment
    return EnvelopeAddress(name, mb.adl, mb.local, mb.domain if mb.domain is not None else "")


def parse_envelope_addresses(value: str | None) -> tuple[EnvelopeAddress, ...]:
    """IMAP ENVELOPE address list with RFC 3501 §7.4.2 group markers."""
    return envelope_addresses(parse_address_items(value))


_MSG_ID = re.compile(r"<([^<>]*)>")


def parse_message_ids(value: str | None) -> tuple[str, ...]:
    """``<id> <id>`` → ids without angle brackets or whitespace (RFC 8621 asMessageIds);
    bare ids with an "@" are accepted from legacy mailers."""
    if not value:
        return ()
    ids = [re.sub(r"\s+", "", m) for m in _MSG_ID.findall(value)]
    ids = [i for i in ids if i]
    if not ids and "<" not in value:
        ids = [w for w in value.split() if "@" in w]
    return tuple(ids)


def _date_fields(value: str | None) -> tuple[int, int, int, int, int, int, int] | None:
    """(year, month, day, hour, minute, second, zone offset in seconds) of an RFC 5322 §3.3
    date-time (obsolete forms too), None when unparsable."""
    if not value:
        return None
    try:
        parsed = parsedate_tz(value)
        if parsed is None:
            return None
        year, month, day, hour, minute, second = parsed[:6]
        if not (1 <= month <= 12 and 1 <= day <= 31 and 0 <= hour <= 24 and 0 <= minute < 60):
            return None
        if not (0 <= second <= 61) or not (1 <= year <= 9999):
            return None
        return year, month, day, hour, minute, second, parsed[9] or 0
    except Exception:  # noqa: BLE001 - parsedate_tz raises assorted errors on junk
        return None


def parse_date(value: str | None) -> int | None:
    """RFC 5322 §3.3 date-time (with obsolete forms) → unix seconds, None when unparsable."""
    fields = _date_fields(value)
    if fields is None:
        return None
    year, month, day, hour, minute, second, offset = fields
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset


def parse_date_day(value: str | None) -> int | None:
    """The day of an RFC 5322 date-time *in its own zone*, as the unix time of that day's
    00:00 UTC: ``Sun, 25 Mar 2007 00:00:00 +0200`` is 25-Mar-2007 (what IMAP's SENTON compares,
    "disregarding time and timezone", RFC 3501 §6.4.4).  None when unparsable."""
    fields = _date_fields(value)
    if fields is None:
        return None
    return calendar.timegm((fields[0], fields[1], fields[2], 0, 0, 0, 0, 0, 0))
