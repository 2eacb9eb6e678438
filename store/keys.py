"""Every key prefix of the LevelDB keyspace (documented in docs/storage.md).

Integers are big-endian so that keys sort numerically.  ``acct`` is a principal id (u32), mailbox,
email and thread ids are u32, UIDs u32, modseqs u64, blob ids are raw sha256 digests (32 bytes).
"""

from __future__ import annotations

from .codec import u32, u64

VERSION = b"V"  # store format version
COUNTER = b"c"  # c<name>                      -> u64 global counter
PRINCIPAL = b"p"  # p<pid>                     -> Principal
PRINCIPAL_NAME = b"n"  # n<login name>         -> pid
ADDRESS = b"a"  # a<address>                   -> pid
DOMAIN = b"d"  # d<domain>                     -> Domain
ACCOUNT = b"s"  # s<acct>                      -> AccountState
MAILBOX = b"M"  # M<acct><mbox>                -> Mailbox
EMAIL = b"E"  # E<acct><eid>                   -> Email
METADATA = b"m"  # m<acct><eid>                -> parsed message (wire form of protocols.mime)
UID = b"U"  # U<acct><mbox><uid>               -> eid
THREAD = b"T"  # T<acct><tid><eid>             -> b""
REFERENCE = b"R"  # R<acct><h8(msgid)><eid>    -> h4(normalised subject)
DEDUPE = b"X"  # X<acct><mbox><h8(msgid)>      -> (eid, received_at)
CHANGE = b"L"  # L<acct><modseq>               -> change entries
BLOB = b"B"  # B<sha256> -> blob bytes (format 1 only: moved to the blob store on open)
BLOB_REF = b"b"  # b<sha256>                   -> BlobInfo
BLOB_HOLD = b"h"  # h<hold_until u64><sha256>  -> b""
OBJECT = (
    b"O"  # O<acct><type>\0<id>            -> object value (msgpack, shape owned by its protocol)
)
BLOB_LINK = b"o"  # o<acct><sha256>             -> u32 emails of the account referencing the blob
UPLOAD = b"u"  # u<acct><sha256>                -> u64 hold_until of the account's upload
KEYWORD = b"K"  # K<acct><lower-case keyword>    -> the keyword as IMAP first spelled it
REQUEST = b"q"  # q<request id>                  -> u64 applied at + the batch's result
REQUEST_TIME = b"Q"  # Q<applied at u64><request id> -> b"" (expiry index)


def request(request_id: bytes) -> bytes:
    return REQUEST + request_id


def request_time(now: int, request_id: bytes) -> bytes:
    return REQUEST_TIME + u64(now) + request_id


def counter(name: str) -> bytes:
    return COUNTER + name.encode()


def principal(pid: int) -> bytes:
    return PRINCIPAL + u32(pid)


def principal_name(name: str) -> bytes:
    return PRINCIPAL_NAME + name.lower().encode()


def address(addr: str) -> bytes:
    return ADDRESS + addr.lower().encode()


def domain(name: str) -> bytes:
    return DOMAIN + name.lower().encode()


def account(acct: int) -> bytes:
    return ACCOUNT + u32(acct)


def mailbox(acct: int, mbox: int) -> bytes:
    return MAILBOX + u32(acct) + u32(mbox)


def email(acct: int, eid: int) -> bytes:
    return EMAIL + u32(acct) + u32(eid)


def metadata(acct: int, eid: int) -> bytes:
    return METADATA + u32(acct) + u32(eid)


def uid(acct: int, mbox: int, uid_: int) -> bytes:
    return UID + u32(acct) + u32(mbox) + u32(uid_)


def uid_prefix(acct: int, mbox: int) -> bytes:
    return UID + u32(acct) + u32(mbox)


def thread(acct: int, tid: int, eid: int) -> bytes:
    return THREAD + u32(acct) + u32(tid) + u32(eid)


def thread_prefix(acct: int, tid: int) -> bytes:
    return THREAD + u32(acct) + u32(tid)


def reference(acct: int, id_hash: bytes, eid: int) -> bytes:
    return REFERENCE + u32(acct) + id_hash + u32(eid)


def reference_prefix(acct: int, id_hash: bytes) -> bytes:
    return REFERENCE + u32(acct) + id_hash


def dedupe(acct: int, mbox: int, id_hash: bytes) -> bytes:
    return DEDUPE + u32(acct) + u32(mbox) + id_hash


def change(acct: int, modseq: int) -> bytes:
    return CHANGE + u32(acct) + u64(modseq)


def change_prefix(acct: int) -> bytes:
    return CHANGE + u32(acct)


def blob(sha: bytes) -> bytes:
    return BLOB + sha


def blob_ref(sha: bytes) -> bytes:
    return BLOB_REF + sha


def blob_hold(until: int, sha: bytes) -> bytes:
    return BLOB_HOLD + u64(until) + sha


def object_key(acct: int, type_name: str, oid: int) -> bytes:
    return OBJECT + u32(acct) + type_name.encode() + b"\0" + u32(oid)


def object_prefix(acct: int, type_name: str) -> bytes:
    return OBJECT + u32(acct) + type_name.encode() + b"\0"


def blob_link(acct: int, sha: bytes) -> bytes:
    return BLOB_LINK + u32(acct) + sha


def upload(acct: int, sha: bytes) -> bytes:
    return UPLOAD + u32(acct) + sha


def keyword(acct: int, lower: str) -> bytes:
    return KEYWORD + u32(acct) + lower.encode()


# Prefixes holding one account's data; DeletePrincipal removes all of them.
ACCOUNT_PREFIXES = (
    MAILBOX,
    EMAIL,
    METADATA,
    UID,
    THREAD,
    REFERENCE,
    DEDUPE,
    CHANGE,
    OBJECT,
    BLOB_LINK,
    UPLOAD,
    KEYWORD,
)
