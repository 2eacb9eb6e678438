"""What JMAP method handlers get from the application (``MethodCall.context``).

`JmapServices` is built once per server; `JmapContext` once per authenticated request, with the
request's :class:`AccessToken`.  Handlers write through the mail service
(``services.mail.begin(ctx.access)``: rights-checked operations committed on the
group-committed store path that delivery and IMAP use), so IMAP and JMAP always show the same
state; they read through the service where a read depends on rights, and the store otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Hashable
from dataclasses import dataclass, field

from protocols.mail import AccessToken, MailService, Right, Writer
from store import MailError, Store
from store.fts import Query
from store.ids import object_id, parse_object_id
from store.models import Principal

from .core.args import GetArgs, parse_get
from .core.dispatch import MethodCall
from .core.errors import MethodError


@dataclass(frozen=True, slots=True)
class JmapLimits:
    max_objects_in_get: int = 500
    max_objects_in_set: int = 500
    max_size_upload: int = 50 * 1024 * 1024
    max_query_limit: int = 1000  # a /query without a limit returns at most this many ids
    max_body_value_bytes: int = 1024 * 1024  # cap when the client asks for no limit
    upload_ttl: int = 86400  # seconds an unreferenced upload stays usable


@dataclass(frozen=True, slots=True)
class SubmissionRecipient:
    address: str
    status: str  # "delivered" or "failed" (every recipient is an address of this server)
    error: MailError | None = None


@dataclass
class JmapServices:
    store: Store
    write: Writer
    # Full-text search over one account (read-your-writes: indexes pending changes first).
    search_text: Callable[[int, Query], Awaitable[set[int]]]
    # (subject_html, preview_html) with <mark> highlights, for SearchSnippet/get (RFC 8621 §5).
    snippet: Callable[[int, int, Query], Awaitable[tuple[str | None, str | None]]]
    # Delivers a message to addresses of this server through the delivery path used by LMTP
    # (there is no outbound relay: EmailSubmission refuses other recipients before calling it).
    submit: Callable[[int, str, tuple[str, ...], bytes], Awaitable[list[SubmissionRecipient]]]
    now: Callable[[], int]
    hostname: str = "localhost"
    limits: JmapLimits = field(default_factory=JmapLimits)
    # Every mail operation goes through the mail service (built from store, write and now).
    mail: MailService = field(init=False)

    def __post_init__(self) -> None:
        self.mail = MailService(self.store, self.write, self.now)


@dataclass
class JmapContext:
    services: JmapServices
    principal: Principal
    # Who acts, and on which accounts (owner rights in its own today; grants after sharing).
    token: AccessToken | None = None

    def __post_init__(self) -> None:
        if self.token is None:
            self.token = AccessToken.for_owner(self.principal)

    @property
    def access(self) -> AccessToken:
        assert self.token is not None
        return self.token

    @property
    def store(self) -> Store:
        return self.services.store

    def account(self, account_id: object) -> int:
        """The numeric account of an ``accountId`` argument the user may use (§3.6.2)."""
        if not isinstance(account_id, str):
            raise MethodError("invalidArguments", "accountId must be a string")
        number = parse_object_id("account", account_id)
        if number is None or not self.access.may_see(number) or self.store.account(number) is None:
            raise MethodError("accountNotFound")
        return number

    @property
    def account_id(self) -> str:
        return object_id("account", self.access.account_id)

    def view(self, acct: int) -> Hashable:
        """What a cached answer about ``acct`` depends on besides the account's state: who
        asks, with which rights there.  Caches of method results put it in their keys, so one
        token is never answered with another's view or ``myRights``."""
        return (self.access.principal_id, self.access.rights_in(acct))

    def may_read(self, acct: int) -> bool:
        """Whether the token may read the account's emails (RFC 4314 ``r``).  Rights are per
        account today (``protocols.mail.rights``), so the email reads check this once per
        method instead of once per email; when grants reach single mailboxes, they filter by
        the readable mailboxes instead."""
        return Right.READ in self.services.mail.account_rights(self.access, acct)


def get_call(
    call: MethodCall,
    known_properties: Collection[str] | None = None,
    extra: Collection[str] = (),
) -> tuple[JmapContext, GetArgs, int]:
    """A /get call (RFC 8620 §5.1): its context, its arguments checked against the server's
    ``maxObjectsInGet``, and the account it names (``accountNotFound`` unless the token sees
    it)."""
    ctx = call.context
    if not isinstance(ctx, JmapContext):
        raise MethodError("serverFail", "No JMAP context for this request.")
    args = parse_get(
        call.args,
        max_objects=ctx.services.limits.max_objects_in_get,
        created_ids=call.created_ids,
        known_properties=known_properties,
        extra=extra,
    )
    return ctx, args, ctx.account(args.account_id)
