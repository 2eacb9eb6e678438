"""Sans-socket IMAP sessions for unit tests: a real :class:`ImapSession` and context on a real
store, fed parsed command lines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from protocols.imap.context import ImapContext
from protocols.imap.framing import Frame, ImapFramer
from protocols.imap.parser import parse_command
from protocols.imap.session import ImapSession
from stalwart_py.accounts import Directory
from stalwart_py.storage import write as store_write
from store import ApplyResult, Batch, Store
from store.models import Principal

NOW = 1_800_000_000


def frame(line: bytes) -> Frame:
    framer = ImapFramer()
    framer.receive_data(line + b"\r\n")
    out = framer.next_frame()
    assert isinstance(out, Frame)
    return out


async def run(s: ImapSession, line: bytes) -> bytes:
    """Executes one command line; the bytes the session answers."""
    return (await s.execute(parse_command(frame(line)))).data


def new_account(store: Store, user: str) -> int:
    """Creates ``user`` (any password logs in through :func:`context`); its account id."""
    directory = Directory(store, None)  # type: ignore[arg-type]  # no password: no hashing
    directory.create_domain(user.rpartition("@")[2])
    return directory.create_account(user, "")


def context(
    store: Store, write: Callable[[Batch], Awaitable[ApplyResult]] | None = None
) -> ImapContext:
    """A context on ``store``: any password logs in, no full-text hits, a fixed clock;
    writes go through the store's writer thread (or through ``write``)."""

    async def direct(batch: Batch) -> ApplyResult:
        return await store_write(store, batch)

    async def authenticate(user: str, password: str) -> Principal | None:
        return store.principal_by_name(user)

    async def search_substring(
        acct: int, needle: str, body_only: bool, emails: Collection[int] | None
    ) -> set[int]:
        return set()

    return ImapContext(
        store=store,
        write=write or direct,
        authenticate=authenticate,
        search_substring=search_substring,
        now=lambda: NOW,
        allow_plaintext_auth=True,
    )
