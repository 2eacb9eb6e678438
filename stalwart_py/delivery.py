"""Local delivery: recipient resolution, trace headers, parse once, one batch per transaction.

Used by LMTP now and by JMAP EmailSubmission for local recipients later.  Results are per
recipient address, as protocol-neutral :class:`MailError` values (or ``None`` for delivered).
"""

from __future__ import annotations

import email.utils
import logging
from dataclasses import dataclass, replace

import trio

from protocols.mail import AccessToken, MailService, NewMessage, Ref, Writer
from protocols.mime import ParsedMessage, canonical_line_ends, has_bare_line_ends, parse_message
from store import MailError, Store
from store.errors import ErrorKind
from store.models import GROUP, INDIVIDUAL, LIST, Principal

from . import clock

log = logging.getLogger(__name__)

# Parse large messages off the event loop.
PARSE_IN_THREAD_ABOVE = 256 * 1024
MAX_EXPANSION_DEPTH = 8


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    hostname: str = "localhost"
    duplicate_window: int = 86400
    add_delivered_to: bool = True
    plus_separator: str = "+"
    max_parse_size: int = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Envelope:
    mail_from: str  # "" for the null reverse-path
    recipients: tuple[str, ...]
    helo: str = ""
    peer: str = ""
    protocol: str = "LMTP"  # for the Received header's "with" clause (RFC 3848)


class Delivery:
    def __init__(self, store: Store, write: Writer, options: DeliveryOptions) -> None:
        self.store = store
        self.options = options
        # Delivery stores mail as the server itself (the POST right, RFC 4314 §4, everywhere).
        self.mail = MailService(store, write, clock.now)
        self.token = AccessToken.for_system("delivery")
        # account -> id of its inbox; checked against the stored mailbox on every use, so a
        # renamed role or a destroyed mailbox only costs the one scan that finds the new one.
        self._inboxes: dict[int, int] = {}
        # address -> (accounts, quota of the single account or 0), valid while the store's
        # directory_version is unchanged (RCPT and DATA resolve every address twice).
        self._resolved: dict[str, tuple[tuple[int, ...], int]] = {}
        self._resolved_version = -1

    def inbox(self, acct: int) -> int | None:
        """The id of the account's inbox (role "inbox"), or None."""
        cached = self._inboxes.get(acct)
        if cached is not None:
            mb = self.store.mailbox(acct, cached)
            if mb is not None and mb.role == "inbox":
                return cached
        found = self.store.mailbox_by_role(acct, "inbox")
        if found is None:
            self._inboxes.pop(acct, None)
            return None
        if len(self._inboxes) >= 65536:
            self._inboxes.clear()
        self._inboxes[acct] = found.id
        return found.id

    # -- resolution --------------------------------------------------------------------------
    def _resolve_cached(self, address: str) -> tuple[tuple[int, ...], int]:
        version = self.store.directory_version
        if version != self._resolved_version:
            self._resolved.clear()
            self._resolved_version = version
        hit = self._resolved.get(address)
        if hit is None:
            accounts = tuple(self._resolve(address))  # errors are not cached
            quota = 0
            if len(accounts) == 1:
                principal = self.store.principal(accounts[0])
                quota = principal.quota if principal is not None else 0
            hit = (accounts, quota)
            if len(self._resolved) >= 65536:
                self._resolved.clear()
            self._resolved[address] = hit
        return hit

    def resolve(self, address: str) -> list[int]:
        """Account ids an address delivers to; raises MailError(NOT_FOUND) for unknown ones
        (see :meth:`_resolve`)."""
        return list(self._resolve_cached(address)[0])

    def _resolve(self, address: str) -> list[int]:
        """Account ids an address delivers to; raises MailError(NOT_FOUND) for unknown ones.

        Order: the exact address (aliases included), then the address without its
        ``+detail`` part, then the domain's catch-all.  Groups and lists expand to their members.
        """
        addr = address.strip().lower()
        local, sep, domain = addr.rpartition("@")
        if not sep or not local or not domain:
            raise MailError(ErrorKind.INVALID, f"invalid address {address!r}")
        principal = self.store.principal_by_address(addr)
        plus = self.options.plus_separator
        if principal is None and plus and plus in local:
            principal = self.store.principal_by_address(local.split(plus, 1)[0] + "@" + domain)
        if principal is None:
            dom = self.store.domain(domain)
            if dom is None:
                raise MailError(ErrorKind.NOT_FOUND, f"{domain} is not a local domain")
            if dom.catch_all:
                principal = self.store.principal(dom.catch_all)
        if principal is None:
            raise MailError(ErrorKind.NOT_FOUND, f"no mailbox here by the name {addr}")
        accounts = self._expand(principal, 0, set())
        if not accounts:
            raise MailError(ErrorKind.NOT_FOUND, f"{addr} has no members")
        return accounts

    def _expand(self, p: Principal, depth: int, seen: set[int]) -> list[int]:
        if p.id in seen or depth > MAX_EXPANSION_DEPTH:
            return []
        seen.add(p.id)
        if p.kind == INDIVIDUAL:
            return [p.id]
        if p.kind in (GROUP, LIST):
            out: list[int] = []
            for member_id in p.members:
                member = self.store.principal(member_id)
                if member is not None:
                    out.extend(a for a in self._expand(member, depth + 1, seen) if a not in out)
            return out
        return []

    def check_recipient(self, address: str) -> MailError | None:
        """RCPT-time check: unknown address, or an account already at its quota."""
        try:
            accounts, quota = self._resolve_cached(address)
        except MailError as err:
            return err
        if quota:
            state = self.store.account(accounts[0])
            if state and state.used_bytes >= quota:
                return MailError(ErrorKind.OVER_QUOTA, "mailbox is full")
        return None

    # -- delivery ----------------------------------------------------------------------------
    def _trace_headers(self, env: Envelope, rcpt: str, now: int) -> bytes:
        date = _rfc5322_date(now)
        peer = f" ({env.peer})" if env.peer else ""
        helo = env.helo or "unknown"
        lines = [f"Return-Path: <{env.mail_from}>"]
        if self.options.add_delivered_to:
            lines.append(f"Delivered-To: {rcpt}")
        # RFC 5321 §4.4 trace field; "for" names the one recipient of this copy.
        lines.append(
            f"Received: from {helo}{peer}\r\n\tby {self.options.hostname} (stalwart-py)"
            f" with {env.protocol}\r\n\tfor <{rcpt}>; {date}"
        )
        return ("\r\n".join(lines) + "\r\n").encode("utf-8", "surrogateescape")

    async def deliver(self, env: Envelope, data: bytes) -> list[MailError | None]:
        """Delivers ``data`` to every recipient; one result per recipient, in order.

        Every copy is written in one batch (one sync).  An account reached through several
        recipient addresses receives one copy; every such address shares its result.
        """
        now = clock.now()
        results: list[MailError | None] = [None] * len(env.recipients)
        account_of: dict[int, list[int]] = {}  # account -> recipient indexes
        first_rcpt: dict[int, str] = {}
        for i, rcpt in enumerate(env.recipients):
            try:
                accounts = self.resolve(rcpt)
            except MailError as err:
                results[i] = err
                continue
            for acct in accounts:
                account_of.setdefault(acct, []).append(i)
                first_rcpt.setdefault(acct, rcpt)
        if not account_of:
            return results
        if has_bare_line_ends(data):
            # RFC 5322 §2.3: stored with CRLF line ends where the message is made of lines;
            # above max_parse_size only the top-level header is read (binary stays as is).
            limit = self.options.max_parse_size
            data = await trio.to_thread.run_sync(canonical_line_ends, data, limit)
        txn = self.mail.begin(self.token, now)
        refs: dict[int, Ref] = {}
        for acct, rcpt in first_rcpt.items():
            inbox = self.inbox(acct)
            if inbox is None:
                for i in account_of[acct]:
                    results[i] = MailError(ErrorKind.NOT_FOUND, "account has no inbox")
                continue
            raw = self._trace_headers(env, rcpt, now) + data
            refs[acct] = txn.import_message(acct, await self._new_message(inbox, raw, now))
        targets = list(refs)
        if not targets:
            return results
        try:
            committed = await txn.commit()
        except MailError as write_error:
            log.error("delivery write failed: %s", write_error)
            for acct in targets:
                for i in account_of[acct]:
                    results[i] = MailError(ErrorKind.TEMPORARY, "storage unavailable")
            return results
        failures: dict[int, MailError] = {}
        for acct, ref in refs.items():
            failed = committed[ref].error
            if failed is not None:
                failures[acct] = failed
        # An address succeeds when at least one of its accounts got the message (a group
        # with one full member still delivers to the others); otherwise it reports the error.
        for i in range(len(env.recipients)):
            if results[i] is not None:
                continue
            mine = [a for a, idx in account_of.items() if i in idx and a in targets]
            if mine and all(a in failures for a in mine):
                results[i] = failures[mine[0]]
            elif not mine:
                results[i] = MailError(ErrorKind.NOT_FOUND, "no deliverable account")
        return results

    async def _new_message(self, mailbox_id: int, raw: bytes, now: int) -> NewMessage:
        limit = self.options.max_parse_size
        if len(raw) > PARSE_IN_THREAD_ABOVE:
            parsed = await trio.to_thread.run_sync(parse_bounded, raw, limit)
        else:
            parsed = parse_bounded(raw, limit)
        return NewMessage(
            raw,
            parsed,
            (mailbox_id,),
            received_at=now,
            dedupe_window=self.options.duplicate_window,
            delivery=True,
        )


_last_date: tuple[int, str] = (-1, "")


def _rfc5322_date(now: int) -> str:
    """``formatdate`` of ``now`` (UTC), formatted once per second rather than per copy."""
    global _last_date
    when, text = _last_date
    if when != now:
        text = email.utils.formatdate(now, localtime=False)
        _last_date = (now, text)
    return text


def parse_bounded(raw: bytes, limit: int) -> ParsedMessage:
    """Parses ``raw``; above ``limit`` bytes only the header block is analysed and the body is
    one opaque part (multipart/message bodies become application/octet-stream), so a huge
    message costs no CPU beyond its headers and is still stored and served whole."""
    if len(raw) <= limit:
        return parse_message(raw)
    crlf, lf = raw.find(b"\r\n\r\n"), raw.find(b"\n\n")
    ends = [i + 4 for i in (crlf,) if i >= 0] + [i + 2 for i in (lf,) if i >= 0]
    head_end = min(ends) if ends else len(raw)
    head = parse_message(raw[:head_end])
    root = head.root
    opaque = root.type in ("multipart", "message")
    root = replace(
        root,
        body_end=len(raw),
        parts=(),
        message=None,
        type="application" if opaque else root.type,
        subtype="octet-stream" if opaque else root.subtype,
        params=() if opaque else root.params,
        decoded_size=len(raw) - root.body_start,
        lines=0,
    )
    is_text = root.type == "text"
    return replace(
        head,
        root=root,
        size=len(raw),
        text_body=(root.part_id,) if is_text else (),
        html_body=(root.part_id,) if is_text else (),
        attachments=() if is_text else (root.part_id,),
        has_attachment=not is_text,
        preview="",
    )
