"""Deterministic application of batches.

``apply_batch(view, batch)`` reads through ``view`` and records every write in it.  It uses no
clock (only ``batch.now``), no randomness and no I/O beyond the view, and never raises for a domain
error: each operation's failure is returned as an :class:`OpResult` error and its writes are
discarded, while the batch's other operations still apply.  An unexpected exception inside one
operation is caught the same way (as ``INTERNAL``) so that a replica applying a replicated batch can
never stall on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import keys, requests
from .addresses import valid_address, valid_domain
from .apply_context import BatchContext as _BatchContext
from .apply_context import OpContext as _OpContext
from .apply_context import fail as _fail
from .batch import (
    UNCHANGED,
    AddAlias,
    ApplyResult,
    Batch,
    CompactChanges,
    CreateDomain,
    CreateMailbox,
    CreatePrincipal,
    DeleteDomain,
    DeletePrincipal,
    DestroyEmail,
    DestroyMailbox,
    DestroyObject,
    EmailCreated,
    ExpireBlobs,
    ExpireRequests,
    ImportEmail,
    NameKeywords,
    Op,
    OpResult,
    PutBlob,
    RemoveAlias,
    SetCatchAll,
    SetObject,
    UpdateEmail,
    UpdateMailbox,
    UpdatePrincipal,
    UploadBlob,
)
from .codec import pack, read_u32, read_u64, short_hash, u32, u64, unpack
from .errors import ErrorKind, MailError
from .keywords import check_keyword_count as _check_keyword_count
from .keywords import name_keywords
from .keywords import norm_keywords as _norm_keywords
from .models import (
    DOMAIN_KIND,
    GROUP,
    INDIVIDUAL,
    KEYWORD_DELETED,
    KEYWORD_SEEN,
    LIST,
    PRINCIPAL_KINDS,
    AccountState,
    BlobInfo,
    ChangeEntry,
    Domain,
    Email,
    Mailbox,
    Principal,
    decode_record,
    encode_record,
    evolve,
)
from .txn import Overlay, View

log = logging.getLogger(__name__)

MAX_MAILBOX_NAME = 255


# -------------------------------------------------------------------------------------------
# operations
# -------------------------------------------------------------------------------------------


def _split_address(addr: str) -> tuple[str, str]:
    if not valid_address(addr):
        raise _fail(ErrorKind.INVALID, f"invalid address {addr!r}")
    local, _, dom = addr.rpartition("@")
    return local, dom.lower()


def _create_domain(ctx: _OpContext, op: CreateDomain) -> str:
    name = op.name.lower()
    if not valid_domain(name):
        raise _fail(ErrorKind.INVALID, f"invalid domain {op.name!r}")
    if ctx.txn.get(keys.domain(name)) is not None:
        raise _fail(ErrorKind.ALREADY_EXISTS, name)
    ctx.save(keys.domain(name), Domain(name))
    return name


def _delete_domain(ctx: _OpContext, op: DeleteDomain) -> None:
    name = op.name.lower()
    if ctx.txn.get(keys.domain(name)) is None:
        raise _fail(ErrorKind.NOT_FOUND, name)
    suffix = "@" + name
    for key, _ in ctx.txn.scan(keys.ADDRESS):
        if key[1:].decode().endswith(suffix):
            raise _fail(ErrorKind.IN_USE, f"domain {name} still has addresses")
    ctx.txn.delete(keys.domain(name))


def _set_catch_all(ctx: _OpContext, op: SetCatchAll) -> None:
    dom = ctx.load(Domain, keys.domain(op.domain))
    if dom is None:
        raise _fail(ErrorKind.NOT_FOUND, op.domain)
    if op.principal_id and ctx.txn.get(keys.principal(op.principal_id)) is None:
        raise _fail(ErrorKind.NOT_FOUND, f"principal {op.principal_id}")
    ctx.save(keys.domain(op.domain), evolve(dom, catch_all=op.principal_id))


def _claim_address(ctx: _OpContext, addr: str, pid: int) -> str:
    _, dom = _split_address(addr)
    if ctx.txn.get(keys.domain(dom)) is None:
        raise _fail(ErrorKind.INVALID, f"domain {dom} does not exist")
    if ctx.txn.get(keys.address(addr)) is not None:
        raise _fail(ErrorKind.ALREADY_EXISTS, addr)
    ctx.txn.put(keys.address(addr), u32(pid))
    return addr.lower()


def _check_members(ctx: _OpContext, members: tuple[int, ...]) -> None:
    for m in members:
        if ctx.txn.get(keys.principal(m)) is None:
            raise _fail(ErrorKind.NOT_FOUND, f"member principal {m}")


def _create_principal(ctx: _OpContext, op: CreatePrincipal) -> int:
    if op.kind not in PRINCIPAL_KINDS:
        raise _fail(ErrorKind.INVALID, f"unknown principal kind {op.kind!r}")
    if not op.name or len(op.name) > 255:
        raise _fail(ErrorKind.INVALID, "invalid principal name")
    if ctx.txn.get(keys.principal_name(op.name)) is not None:
        raise _fail(ErrorKind.ALREADY_EXISTS, op.name)
    if op.quota < 0:
        raise _fail(ErrorKind.INVALID, "negative quota")
    _check_members(ctx, op.members)
    pid = ctx.counter("principal") + 1
    ctx.set_counter("principal", pid)
    emails = tuple(_claim_address(ctx, a, pid) for a in op.emails)
    if len(set(emails)) != len(emails):
        raise _fail(ErrorKind.ALREADY_EXISTS, "duplicate address")
    principal = Principal(
        pid, op.kind, op.name, emails, op.secret, op.quota, op.members, op.description, op.roles
    )
    ctx.save(keys.principal(pid), principal)
    ctx.txn.put(keys.principal_name(op.name), u32(pid))
    if op.kind in (INDIVIDUAL, GROUP):
        ctx.save(keys.account(pid), AccountState())
        for name, role, sort_order, subscribed in op.mailboxes:
            _create_mailbox(ctx, CreateMailbox(pid, name, 0, role, sort_order, subscribed))
    elif op.mailboxes:
        raise _fail(ErrorKind.INVALID, f"a {op.kind} principal has no mailboxes")
    return pid


def _update_principal(ctx: _OpContext, op: UpdatePrincipal) -> None:
    p = ctx.load(Principal, keys.principal(op.principal_id))
    if p is None:
        raise _fail(ErrorKind.NOT_FOUND, f"principal {op.principal_id}")
    if op.quota is not None and op.quota < 0:
        raise _fail(ErrorKind.INVALID, "negative quota")
    if op.members is not None:
        if p.kind not in (GROUP, LIST):
            raise _fail(ErrorKind.INVALID, "only groups and lists have members")
        _check_members(ctx, op.members)
    ctx.save(
        keys.principal(p.id),
        evolve(
            p,
            secret=p.secret if op.secret is None else op.secret,
            quota=p.quota if op.quota is None else op.quota,
            members=p.members if op.members is None else op.members,
            description=p.description if op.description is None else op.description,
            roles=p.roles if op.roles is None else op.roles,
        ),
    )


def _delete_principal(ctx: _OpContext, op: DeletePrincipal) -> None:
    pid = op.principal_id
    p = ctx.load(Principal, keys.principal(pid))
    if p is None:
        raise _fail(ErrorKind.NOT_FOUND, f"principal {pid}")
    for addr in p.emails:
        ctx.txn.delete(keys.address(addr))
    ctx.txn.delete(keys.principal_name(p.name))
    ctx.txn.delete(keys.principal(pid))
    # Forget it as a member and as a catch-all target.
    for key, value in list(ctx.txn.scan(keys.PRINCIPAL)):
        other = decode_record(Principal, value)
        if pid in other.members:
            members = tuple(m for m in other.members if m != pid)
            ctx.txn.put(key, encode_record(evolve(other, members=members)))
    for key, value in list(ctx.txn.scan(keys.DOMAIN)):
        dom = decode_record(Domain, value)
        if dom.catch_all == pid:
            ctx.txn.put(key, encode_record(evolve(dom, catch_all=0)))
    # Remove the account's data, releasing blob references.
    acct = u32(pid)
    for _key, value in list(ctx.txn.scan(keys.EMAIL + acct)):
        ctx.blob_ref(decode_record(Email, value).blob, -1)
    for prefix in keys.ACCOUNT_PREFIXES:
        for key, _ in list(ctx.txn.scan(prefix + acct)):
            ctx.txn.delete(key)
    ctx.txn.delete(keys.account(pid))
    ctx.batch.modseqs.pop(pid, None)


def _add_alias(ctx: _OpContext, op: AddAlias) -> None:
    p = ctx.load(Principal, keys.principal(op.principal_id))
    if p is None:
        raise _fail(ErrorKind.NOT_FOUND, f"principal {op.principal_id}")
    addr = _claim_address(ctx, op.address, p.id)
    ctx.save(keys.principal(p.id), evolve(p, emails=(*p.emails, addr)))


def _remove_alias(ctx: _OpContext, op: RemoveAlias) -> None:
    data = ctx.txn.get(keys.address(op.address))
    if data is None:
        raise _fail(ErrorKind.NOT_FOUND, op.address)
    p = ctx.load(Principal, keys.principal(read_u32(data)))
    addr = op.address.lower()
    if p is not None:
        if p.emails and p.emails[0] == addr:
            raise _fail(ErrorKind.IN_USE, "the primary address is not an alias")
        ctx.save(keys.principal(p.id), evolve(p, emails=tuple(a for a in p.emails if a != addr)))
    ctx.txn.delete(keys.address(addr))


# -- mailboxes -------------------------------------------------------------------------------


def _mailboxes(ctx: _OpContext, acct: int) -> list[Mailbox]:
    return [decode_record(Mailbox, v) for _, v in ctx.txn.scan(keys.MAILBOX + u32(acct))]


def _check_mailbox_name(
    ctx: _OpContext, acct: int, name: str, parent_id: int, role: str, self_id: int = 0
) -> None:
    if not name or len(name) > MAX_MAILBOX_NAME or any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise _fail(ErrorKind.INVALID, "invalid mailbox name")
    if parent_id:
        ctx.mailbox(acct, parent_id)
    folded = name.casefold()
    for mb in _mailboxes(ctx, acct):
        if mb.id == self_id:
            continue
        if mb.parent_id == parent_id and mb.name.casefold() == folded:
            raise _fail(ErrorKind.ALREADY_EXISTS, f"mailbox {name!r} exists")
        if role and mb.role == role:
            raise _fail(ErrorKind.ALREADY_EXISTS, f"role {role!r} is taken")


def _create_mailbox(ctx: _OpContext, op: CreateMailbox) -> int:
    acct = op.account_id
    state = ctx.account(acct)
    _check_mailbox_name(ctx, acct, op.name, op.parent_id, op.role)
    mbox = state.next_mailbox
    # UIDVALIDITY must differ from any earlier mailbox of the same name (RFC 9051 §2.3.1.1):
    # a global counter that never goes backwards, seeded from the batch clock.
    uidvalidity = max(ctx.counter("uidvalidity") + 1, ctx.batch.now & 0xFFFFFFFF, 1)
    ctx.set_counter("uidvalidity", uidvalidity)
    m = ctx.modseq(acct)
    ctx.save(keys.account(acct), evolve(ctx.account(acct), next_mailbox=mbox + 1))
    ctx.save(
        keys.mailbox(acct, mbox),
        Mailbox(
            mbox,
            op.name,
            op.parent_id,
            op.role,
            op.sort_order,
            op.subscribed,
            uidvalidity,
            1,
            highest_modseq=m,
        ),
    )
    ctx.change(acct, "Mailbox", mbox, "c")
    return mbox


def _update_mailbox(ctx: _OpContext, op: UpdateMailbox) -> None:
    acct = op.account_id
    mb = ctx.mailbox(acct, op.mailbox_id)
    name = mb.name if op.name is None else op.name
    parent = mb.parent_id if op.parent_id == UNCHANGED else op.parent_id
    role = mb.role if op.role is None else op.role
    if parent != mb.parent_id:
        # No cycles: the new parent may not be the mailbox itself or one of its descendants.
        p = parent
        while p:
            if p == mb.id:
                raise _fail(ErrorKind.INVALID, "a mailbox cannot be moved under itself")
            p = ctx.mailbox(acct, p).parent_id
    if name != mb.name or parent != mb.parent_id or role != mb.role:
        _check_mailbox_name(ctx, acct, name, parent, role if role != mb.role else "", mb.id)
    ctx.save(
        keys.mailbox(acct, mb.id),
        evolve(
            mb,
            name=name,
            parent_id=parent,
            role=role,
            sort_order=mb.sort_order if op.sort_order is None else op.sort_order,
            subscribed=mb.subscribed if op.subscribed is None else op.subscribed,
            highest_modseq=ctx.modseq(acct),
        ),
    )
    ctx.change(acct, "Mailbox", mb.id, "u")


def _destroy_mailbox(ctx: _OpContext, op: DestroyMailbox) -> None:
    acct = op.account_id
    mb = ctx.mailbox(acct, op.mailbox_id)
    if any(other.parent_id == mb.id for other in _mailboxes(ctx, acct)):
        raise _fail(ErrorKind.HAS_CHILDREN, mb.name)
    members = [read_u32(v) for _, v in ctx.txn.scan(keys.uid_prefix(acct, mb.id))]
    if members and not op.remove_emails:
        raise _fail(ErrorKind.IN_USE, "mailbox has emails")
    for eid in members:
        em = ctx.email(acct, eid)
        if len(em.mailboxes) == 1:
            _destroy_email(ctx, DestroyEmail(acct, eid))
        else:
            _update_email(ctx, UpdateEmail(acct, eid, mailboxes_remove=(mb.id,)))
    ctx.modseq(acct)
    ctx.txn.delete(keys.mailbox(acct, mb.id))
    for key, _value in list(ctx.txn.scan(keys.DEDUPE + u32(acct) + u32(mb.id))):
        ctx.txn.delete(key)
    # Drop the Mailbox "u" entries logged while emptying it: it is destroyed.
    ctx.entries[acct] = [
        e for e in ctx.entries.get(acct, []) if not (e.type == "Mailbox" and e.id == mb.id)
    ]
    ctx.change(acct, "Mailbox", mb.id, "d")


# -- blobs -----------------------------------------------------------------------------------


def _put_blob(ctx: _OpContext, op: PutBlob) -> bytes:
    # The bytes are in the blob store already (written before the batch was proposed); apply
    # records the reference count only, identically on every replica.
    if len(op.sha) != 32 or op.size < 0:
        raise _fail(ErrorKind.INVALID, "bad blob digest or size")
    info = ctx.load(BlobInfo, keys.blob_ref(op.sha))
    if info is None:
        ctx.save(keys.blob_ref(op.sha), BlobInfo(op.size, 0, op.hold_until))
        ctx.txn.put(keys.blob_hold(op.hold_until, op.sha), b"")
    elif op.hold_until > info.hold_until:
        ctx.save(keys.blob_ref(op.sha), evolve(info, hold_until=op.hold_until))
        ctx.txn.put(keys.blob_hold(op.hold_until, op.sha), b"")
    return op.sha


def _expire_blobs(ctx: _OpContext, op: ExpireBlobs) -> int:
    now = ctx.batch.now
    removed = 0
    stop = keys.BLOB_HOLD + u64(now + 1)
    for key, _ in list(ctx.txn.scan(keys.BLOB_HOLD)):
        if key >= stop:
            break
        sha = key[9:]
        ctx.txn.delete(key)
        info = ctx.load(BlobInfo, keys.blob_ref(sha))
        if info is not None and info.refs == 0 and info.hold_until <= now:
            ctx.txn.delete(keys.blob_ref(sha))
            removed += 1
    for key, value in list(ctx.txn.scan(keys.UPLOAD)):
        if read_u64(value) <= now:
            ctx.txn.delete(key)
    return removed


def _upload_blob(ctx: _OpContext, op: UploadBlob) -> bytes:
    ctx.account(op.account_id)
    sha = _put_blob(ctx, PutBlob(op.sha, op.size, op.hold_until))
    key = keys.upload(op.account_id, op.sha)
    data = ctx.txn.get(key)
    if data is None or read_u64(data) < op.hold_until:
        ctx.txn.put(key, u64(op.hold_until))
    return sha


# -- generic objects -------------------------------------------------------------------------


def _check_type_name(name: str) -> None:
    if not name or len(name) > 64 or not name.isascii() or "\0" in name or name == "imap":
        raise _fail(ErrorKind.INVALID, f"invalid object type {name!r}")


def _set_object(ctx: _OpContext, op: SetObject) -> int:
    _check_type_name(op.type_name)
    acct = op.account_id
    state = ctx.account(acct)
    ctx.modseq(acct)
    if op.object_id == 0:
        oid = state.next_object
        ctx.save(keys.account(acct), evolve(state, next_object=oid + 1))
        ctx.change(acct, op.type_name, oid, "c")
    else:
        oid = op.object_id
        if ctx.txn.get(keys.object_key(acct, op.type_name, oid)) is None:
            raise _fail(ErrorKind.NOT_FOUND, f"{op.type_name} {oid}")
        ctx.change(acct, op.type_name, oid, "u")
    ctx.txn.put(keys.object_key(acct, op.type_name, oid), op.value)
    return oid


def _destroy_object(ctx: _OpContext, op: DestroyObject) -> None:
    _check_type_name(op.type_name)
    key = keys.object_key(op.account_id, op.type_name, op.object_id)
    ctx.account(op.account_id)
    if ctx.txn.get(key) is None:
        raise _fail(ErrorKind.NOT_FOUND, f"{op.type_name} {op.object_id}")
    ctx.modseq(op.account_id)
    ctx.txn.delete(key)
    ctx.change(op.account_id, op.type_name, op.object_id, "d")


# -- emails ----------------------------------------------------------------------------------


def _flag_counts(keywords: set[str] | tuple[str, ...]) -> tuple[int, int]:
    return (0 if KEYWORD_SEEN in keywords else 1, 1 if KEYWORD_DELETED in keywords else 0)


def _thread_of(ctx: _OpContext, acct: int, eid: int) -> int | None:
    em = ctx.load(Email, keys.email(acct, eid))
    return None if em is None else em.thread_id


def _assign_thread(
    ctx: _OpContext, acct: int, state: AccountState, id_hashes: tuple[bytes, ...], subj: bytes
) -> tuple[int, AccountState]:
    """Threading (RFC 8621 §3, RFC 5256 spirit): an email joins the threads of the emails that
    share a Message-ID (its own, In-Reply-To or References) *and* its normalised subject; when it
    links several threads they merge into the oldest (lowest id)."""
    found: set[int] = set()
    for h in id_hashes:
        for key, value in ctx.txn.scan(keys.reference_prefix(acct, h)):
            if value == subj:
                tid = _thread_of(ctx, acct, read_u32(key, len(key) - 4))
                if tid is not None:
                    found.add(tid)
    if not found:
        tid = state.next_thread
        ctx.change(acct, "Thread", tid, "c")
        return tid, evolve(state, next_thread=tid + 1)
    target = min(found)
    m = ctx.modseq(acct)
    for other in sorted(found - {target}):
        for key, _ in list(ctx.txn.scan(keys.thread_prefix(acct, other))):
            eid = read_u32(key, len(key) - 4)
            em = ctx.email(acct, eid)
            ctx.save(keys.email(acct, eid), evolve(em, thread_id=target, modseq=m))
            ctx.txn.delete(key)
            ctx.txn.put(keys.thread(acct, target, eid), b"")
            ctx.change(acct, "Email", eid, "u")
            for mbox, _uid in em.mailboxes:  # its mailboxes' thread counts change
                ctx.change(acct, "Mailbox", mbox, "u")
        ctx.change(acct, "Thread", other, "d")
    ctx.change(acct, "Thread", target, "u")
    return target, state


def _dedupe_hit(ctx: _OpContext, op: ImportEmail, mbox: int, h: bytes) -> bool:
    data = ctx.txn.get(keys.dedupe(op.account_id, mbox, h))
    if data is None:
        return False
    eid, received = unpack(data)
    if received + op.dedupe_window < op.received_at:
        return False
    em = ctx.load(Email, keys.email(op.account_id, eid))
    return em is not None and em.uid_in(mbox) is not None


def _import_email(ctx: _OpContext, op: ImportEmail) -> EmailCreated:
    acct = op.account_id
    state = ctx.account(acct)
    info = ctx.load(BlobInfo, keys.blob_ref(op.blob))
    if info is None:
        raise _fail(ErrorKind.NOT_FOUND, "blob")
    mailbox_ids = tuple(sorted(set(op.mailbox_ids)))
    if not mailbox_ids:
        raise _fail(ErrorKind.INVALID, "an email belongs to at least one mailbox")
    boxes = {mbox: ctx.mailbox(acct, mbox) for mbox in mailbox_ids}
    msgid_hash = short_hash(op.message_id) if op.message_id else b""
    if op.dedupe_window > 0 and msgid_hash:
        fresh = tuple(m for m in mailbox_ids if not _dedupe_hit(ctx, op, m, msgid_hash))
        if not fresh:
            eid, _ = unpack(ctx.txn.get(keys.dedupe(acct, mailbox_ids[0], msgid_hash)) or b"")
            em = ctx.email(acct, eid)
            return EmailCreated(eid, em.thread_id, em.mailboxes, em.modseq, duplicate=True)
        mailbox_ids = fresh
    principal = ctx.load(Principal, keys.principal(acct))
    quota = principal.quota if principal is not None else 0
    if quota and state.used_bytes + op.size > quota:
        raise _fail(ErrorKind.OVER_QUOTA, f"quota {quota} bytes exceeded")
    keywords = tuple(sorted(_norm_keywords(op.keywords)))
    _check_keyword_count(set(), set(keywords))
    m = ctx.modseq(acct, state)
    eid = state.next_email
    ids = [op.message_id] if op.message_id else []
    ids.extend(r for r in op.references if r and r not in ids)
    id_hashes = tuple(short_hash(i) for i in ids)
    subj = short_hash(op.subject, 4)
    tid, state = _assign_thread(ctx, acct, state, id_hashes, subj)
    unseen, deleted = _flag_counts(keywords)
    uids = []
    for mbox in mailbox_ids:
        # One read and one write per mailbox: the next UID and the counters together.
        mb = boxes[mbox]
        uid = mb.uidnext
        ctx.save(
            keys.mailbox(acct, mbox),
            evolve(
                mb,
                uidnext=uid + 1,
                total=mb.total + 1,
                unseen=mb.unseen + unseen,
                deleted=mb.deleted + deleted,
                size=mb.size + op.size,
                highest_modseq=m,
            ),
        )
        ctx.change(acct, "Mailbox", mbox, "u")
        ctx.txn.put(keys.uid(acct, mbox, uid), u32(eid))
        ctx.change(acct, "imap", mbox, "a", uid)
        if msgid_hash:
            ctx.txn.put(keys.dedupe(acct, mbox, msgid_hash), pack((eid, op.received_at)))
        uids.append((mbox, uid))
    for h in id_hashes:
        ctx.txn.put(keys.reference(acct, h, eid), subj)
    ctx.txn.put(keys.thread(acct, tid, eid), b"")
    ctx.txn.put(keys.metadata(acct, eid), op.metadata)
    ctx.blob_ref(op.blob, +1, info)
    ctx.blob_link(acct, op.blob, +1)
    email = Email(
        eid,
        tid,
        op.blob,
        op.size,
        op.received_at,
        keywords,
        tuple(uids),
        m,
        m,
        op.message_id,
        id_hashes,
        subj,
    )
    ctx.save(keys.email(acct, eid), email)
    ctx.save(
        keys.account(acct),
        evolve(
            state,
            next_email=eid + 1,
            used_bytes=state.used_bytes + op.size,
            email_count=state.email_count + 1,
        ),
    )
    ctx.change(acct, "Email", eid, "c")
    if op.delivery:
        ctx.extra_types.setdefault(acct, set()).add("EmailDelivery")
    return EmailCreated(eid, tid, tuple(uids), m)


def _update_email(ctx: _OpContext, op: UpdateEmail) -> EmailCreated:
    acct = op.account_id
    em = ctx.email(acct, op.email_id)
    if op.if_modseq and em.modseq > op.if_modseq:
        raise _fail(ErrorKind.STATE_MISMATCH, f"modified at {em.modseq}")
    old_kw = set(em.keywords)
    if op.keywords_set is not None:
        new_kw = _norm_keywords(op.keywords_set)
    else:
        new_kw = (old_kw | _norm_keywords(op.keywords_add)) - _norm_keywords(op.keywords_remove)
    _check_keyword_count(old_kw, new_kw)
    old_mb = dict(em.mailboxes)
    if op.mailboxes_set is not None:
        new_ids = set(op.mailboxes_set)
    else:
        new_ids = (set(old_mb) | set(op.mailboxes_add)) - set(op.mailboxes_remove)
    if not new_ids:
        raise _fail(ErrorKind.INVALID, "an email belongs to at least one mailbox")
    for mbox in new_ids - set(old_mb):
        ctx.mailbox(acct, mbox)
    renew = set(op.mailboxes_renew) & set(old_mb) & new_ids
    if new_kw == old_kw and new_ids == set(old_mb) and not renew:
        return EmailCreated(em.id, em.thread_id, em.mailboxes, em.modseq)
    m = ctx.modseq(acct)
    old_unseen, old_deleted = _flag_counts(old_kw)
    new_unseen, new_deleted = _flag_counts(new_kw)
    mailboxes: dict[int, int] = {}
    for mbox, uid in old_mb.items():
        if mbox not in new_ids or mbox in renew:
            ctx.txn.delete(keys.uid(acct, mbox, uid))
            ctx.adjust_mailbox(
                acct, mbox, total=-1, unseen=-old_unseen, deleted=-old_deleted, size=-em.size
            )
            ctx.change(acct, "imap", mbox, "x", uid)
        else:
            mailboxes[mbox] = uid
            if new_kw != old_kw:
                ctx.adjust_mailbox(
                    acct,
                    mbox,
                    unseen=new_unseen - old_unseen,
                    deleted=new_deleted - old_deleted,
                )
                ctx.change(acct, "imap", mbox, "f", uid)
    for mbox in sorted((new_ids - set(old_mb)) | renew):
        mb = ctx.mailbox(acct, mbox)
        uid = mb.uidnext
        ctx.save(keys.mailbox(acct, mbox), evolve(mb, uidnext=uid + 1))
        ctx.adjust_mailbox(
            acct, mbox, total=1, unseen=new_unseen, deleted=new_deleted, size=em.size
        )
        ctx.txn.put(keys.uid(acct, mbox, uid), u32(em.id))
        ctx.change(acct, "imap", mbox, "a", uid)
        mailboxes[mbox] = uid
    em = evolve(
        em, keywords=tuple(sorted(new_kw)), mailboxes=tuple(sorted(mailboxes.items())), modseq=m
    )
    ctx.save(keys.email(acct, em.id), em)
    ctx.change(acct, "Email", em.id, "u")
    return EmailCreated(em.id, em.thread_id, em.mailboxes, m)


def _destroy_email(ctx: _OpContext, op: DestroyEmail) -> None:
    acct = op.account_id
    em = ctx.email(acct, op.email_id)
    ctx.modseq(acct)
    unseen, deleted = _flag_counts(em.keywords)
    msgid_hash = short_hash(em.message_id) if em.message_id else b""
    for mbox, uid in em.mailboxes:
        ctx.txn.delete(keys.uid(acct, mbox, uid))
        ctx.adjust_mailbox(acct, mbox, total=-1, unseen=-unseen, deleted=-deleted, size=-em.size)
        ctx.change(acct, "imap", mbox, "x", uid)
        if msgid_hash:
            dkey = keys.dedupe(acct, mbox, msgid_hash)
            data = ctx.txn.get(dkey)
            if data is not None and unpack(data)[0] == em.id:
                ctx.txn.delete(dkey)
    for h in em.id_hashes:
        ctx.txn.delete(keys.reference(acct, h, em.id))
    ctx.txn.delete(keys.thread(acct, em.thread_id, em.id))
    remaining = next(iter(ctx.txn.scan(keys.thread_prefix(acct, em.thread_id))), None)
    ctx.change(acct, "Thread", em.thread_id, "u" if remaining else "d")
    ctx.txn.delete(keys.metadata(acct, em.id))
    ctx.txn.delete(keys.email(acct, em.id))
    ctx.blob_ref(em.blob, -1)
    ctx.blob_link(acct, em.blob, -1)
    state = ctx.account(acct)
    ctx.save(
        keys.account(acct),
        evolve(state, used_bytes=state.used_bytes - em.size, email_count=state.email_count - 1),
    )
    ctx.change(acct, "Email", em.id, "d")


def _compact_changes(ctx: _OpContext, op: CompactChanges) -> int:
    acct = op.account_id
    state = ctx.account(acct)
    entries = [k for k, _ in ctx.txn.scan(keys.change_prefix(acct))]
    drop = entries[: max(len(entries) - max(op.keep, 0), 0)]
    for key in drop:
        ctx.txn.delete(key)
    if drop:
        floor = read_u64(drop[-1], len(drop[-1]) - 8)
        ctx.save(keys.account(acct), evolve(state, changes_floor=max(state.changes_floor, floor)))
    return len(drop)


_HANDLERS: dict[type[Op], Callable[[_OpContext, Any], Any]] = {
    CreateDomain: _create_domain,
    DeleteDomain: _delete_domain,
    SetCatchAll: _set_catch_all,
    CreatePrincipal: _create_principal,
    UpdatePrincipal: _update_principal,
    DeletePrincipal: _delete_principal,
    AddAlias: _add_alias,
    RemoveAlias: _remove_alias,
    CreateMailbox: _create_mailbox,
    UpdateMailbox: _update_mailbox,
    DestroyMailbox: _destroy_mailbox,
    PutBlob: _put_blob,
    ExpireBlobs: _expire_blobs,
    ExpireRequests: lambda ctx, op: requests.expire(ctx.txn, ctx.batch.now - requests.REQUEST_TTL),
    ImportEmail: _import_email,
    UpdateEmail: _update_email,
    NameKeywords: lambda ctx, op: name_keywords(ctx.txn, op),
    DestroyEmail: _destroy_email,
    CompactChanges: _compact_changes,
    UploadBlob: _upload_blob,
    SetObject: _set_object,
    DestroyObject: _destroy_object,
}

_ = (DOMAIN_KIND,)  # principal kinds are validated through PRINCIPAL_KINDS


def _collapse(entries: list[ChangeEntry]) -> list[tuple[str, int, str, int]]:
    """One entry per object and batch: created+updated is created, anything+destroyed is
    destroyed, created+destroyed vanishes.  UID events ("imap") are kept as they are."""
    out: dict[tuple[str, int, int, str], str] = {}
    for e in entries:
        if e.type == "imap":
            out[(e.type, e.id, e.uid, e.op)] = e.op
            continue
        key = (e.type, e.id, 0, "")
        prev = out.get(key)
        if prev is None:
            out[key] = e.op
        elif e.op == "d":
            out[key] = "gone" if prev == "c" else "d"
        elif prev == "gone" and e.op == "c":
            out[key] = "c"
    return [(t, i, op, uid) for (t, i, uid, _), op in out.items() if op != "gone"]


@dataclass(frozen=True, slots=True)
class AppliedBatch:
    result: ApplyResult
    types: tuple[tuple[int, frozenset[str]], ...]  # changed types per account, for the feed
    replayed: bool = False  # its request id was applied before: nothing written now


def apply_batch(view: View, batch: Batch) -> AppliedBatch:
    """Applies ``batch`` on top of ``view`` (an Overlay that receives the writes)."""
    assert isinstance(view, Overlay)
    bctx = _BatchContext(now=batch.now)
    results: list[OpResult] = []
    for op in batch.ops:
        ctx = _OpContext(view, bctx)
        modseqs_before = dict(bctx.modseqs)
        try:
            value = _HANDLERS[type(op)](ctx, op)
        except MailError as err:
            bctx.modseqs = modseqs_before
            results.append(OpResult(error=err))
            continue
        except Exception as exc:  # a bug must not stall replication: report it as a value
            log.exception("internal error applying %s", type(op).__name__)
            bctx.modseqs = modseqs_before
            results.append(OpResult(error=MailError(ErrorKind.INTERNAL, type(exc).__name__)))
            continue
        ctx.txn.merge_into(view)
        for acct, entries in ctx.entries.items():
            bctx.entries.setdefault(acct, []).extend(entries)
        for acct, extra in ctx.extra_types.items():
            bctx.types.setdefault(acct, set()).update(extra)
        results.append(OpResult(value=value))
    modseqs = []
    types = []
    for acct, m in sorted(bctx.modseqs.items()):
        entries = bctx.entries.get(acct, [])
        data = view.get(keys.account(acct))
        if data is None:  # the account was deleted by this batch
            continue
        changed = {e.type for e in entries if e.type != "imap"} | bctx.types.get(acct, set())
        state = decode_record(AccountState, data)
        type_states = dict(state.type_states)
        for t in changed:
            type_states[t] = m
        state = evolve(state, modseq=m, type_states=tuple(sorted(type_states.items())))
        view.put(keys.account(acct), encode_record(state))
        view.put(keys.change(acct, m), pack(_collapse(entries)))
        modseqs.append((acct, m))
        types.append((acct, frozenset(changed | ({"imap"} if entries else set()))))
    return AppliedBatch(ApplyResult(tuple(results), tuple(modseqs)), tuple(types))
