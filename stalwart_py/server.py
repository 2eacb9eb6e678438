"""The composition root: opens the store and the index, then runs every listener in one nursery.

Start-up order: open the store (a running server holding it stops the start), bind every listener
(a port in use stops the start), and only then the first-start bootstrap, which writes the
generated passwords to ``initial-passwords`` before it creates the accounts; so a failed start
creates nothing, or leaves the passwords recoverable.  The listeners then serve on the sockets
bound first.

Shutdown (SIGINT/SIGTERM, or cancelling :meth:`Server.run`) stops the listeners first, then the
indexer, then closes the store, which drains queued writes: a write is acknowledged to a client only
after it is durable, so no acknowledged write is lost.
"""

from __future__ import annotations

import functools
import logging
import ssl
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import trio

from protocols.http import CorsPolicy, HttpLimits, HttpServer
from protocols.imap.context import ImapContext, ImapLimits
from protocols.imap.server import serve_imap
from protocols.jmap.context import JmapLimits, JmapServices, SubmissionRecipient
from protocols.jmap.core import CoreLimits
from protocols.jmap.push import ChangeHub, PushSender
from protocols.jmap.responses import effective_public_url
from protocols.jmap.server import JmapOptions, JmapServer
from protocols.jmap.sessions import SessionOptions
from protocols.lmtp import LmtpLimits
from protocols.lmtp.server import serve_lmtp
from store import Batch, ErrorKind, MailError, Store
from store.batch import CompactChanges, ExpireBlobs, ExpireRequests
from store.fts import Query, open_index
from store.models import INDIVIDUAL, Principal
from store.writelog import Effect, WriteLog

from . import clock
from .accounts import Directory
from .auth import Authenticator
from .config import Config
from .datadir import open_store, passwords_for
from .delivery import Delivery, DeliveryOptions, Envelope
from .indexer import Indexer
from .initial_passwords import FILE_NAME, Credential, InitialPasswords
from .listeners import StartError, bind_listeners, close_listeners, listener_specs
from .lmtp_service import LmtpService
from .passwords import generate_password
from .storage import LocalWriteLog
from .tls import self_signed, server_context

log = logging.getLogger(__name__)

JANITOR_INTERVAL = 3600.0


__all__ = ["Credential", "Server", "StartError", "bootstrap", "open_store", "passwords_for"]

# (role shown, local part, roles) of the accounts created on first start
FIRST_ACCOUNTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("admin", "admin", ("admin",)),
    ("demo user", "demo", ()),
)


def bootstrap(directory: Directory, domain: str, initial: InitialPasswords) -> list[Credential]:
    """On first start: the default domain, an admin and a demo user with generated passwords.

    The passwords are saved to ``initial`` before the accounts exist, and a password already
    saved there for a missing account (a start that failed half-way) is used again.  Only a
    store without any account is a first start (or one whose saved passwords name accounts
    still missing): an operator who deleted the demo account does not get it back."""
    saved = initial.load()
    first = not any(p.kind == INDIVIDUAL for p in directory.store.principals())
    created: list[tuple[Credential, tuple[str, ...]]] = []
    for role, local, roles in FIRST_ACCOUNTS:
        address = f"{local}@{domain}"
        if (first or address in saved) and directory.store.principal_by_address(address) is None:
            old = saved.get(address)
            password = old.password if old is not None else generate_password()
            created.append((Credential(role, address, password), roles))
    if not created:
        return []
    initial.save({**saved, **{c.email: c for c, _ in created}}.values())
    directory.ensure_domain(domain)
    for c, roles in created:
        directory.create_account(c.email, c.password, roles=roles)
    return [c for c, _ in created]


def tls_context(cfg: Config) -> ssl.SSLContext:
    if cfg.tls.cert and cfg.tls.key:
        return server_context(Path(cfg.tls.cert), Path(cfg.tls.key))
    cert, key = self_signed(cfg.server.data_dir / "tls", cfg.server.hostname)
    return server_context(cert, key)


@dataclass
class Server:
    cfg: Config
    ports: dict[str, int] = field(default_factory=dict)
    credentials: list[Credential] = field(default_factory=list)  # created by this start
    initial_passwords: InitialPasswords | None = None
    awaiting_first_login: set[str] = field(default_factory=set)  # addresses in that file
    store: Store | None = None
    indexer: Indexer | None = None
    delivery: Delivery | None = None
    imap_context: ImapContext | None = None
    jmap: JmapServer | None = None
    # Where every write goes (store/writelog.py): the store's own writer unless a test or the
    # cluster gives another log.
    write_log_for: Callable[[Store], WriteLog] = LocalWriteLog
    log: WriteLog | None = None

    async def run(self, *, task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.cfg
        store = self.store = _open_store(cfg)
        write_log = self.log = self.write_log_for(store)
        index = indexer = None
        listeners: dict[str, list[trio.SocketListener]] = {}
        try:
            listeners = await bind_listeners(listener_specs(cfg))
            self.ports = {name: ls[0].socket.getsockname()[1] for name, ls in listeners.items()}
            # The first accounts are written through the log like everything else (the
            # bootstrap runs in a worker thread: it waits for each write on the trio loop).
            directory = Directory(
                store,
                passwords_for(cfg),
                lambda batch: trio.from_thread.run(write_log.propose, batch),
            )
            initial = self.initial_passwords = InitialPasswords(cfg.server.data_dir)
            try:
                if self.once_per_cluster(Effect.BOOTSTRAP):
                    self.credentials = await trio.to_thread.run_sync(
                        bootstrap, directory, cfg.server.default_domain, initial
                    )
            except MailError as err:  # one line for the operator, not a traceback
                raise StartError(f"cannot create the first accounts: {err.detail}") from None
            self.awaiting_first_login = set(initial.load())
            index = open_index(
                cfg.search.backend,
                cfg.search.index_dir,
                default_language=cfg.search.default_language,
                detect_language=cfg.search.detect_language,
            )
            indexer = self.indexer = Indexer(
                store,
                index,
                commit_interval=cfg.search.commit_interval,
                batch_size=cfg.search.batch_size,
            )
            indexer.start()
            self.delivery = Delivery(
                store,
                write_log.propose,
                DeliveryOptions(
                    hostname=cfg.server.hostname,
                    duplicate_window=int(cfg.delivery.duplicate_window),
                    add_delivered_to=cfg.delivery.add_delivered_to,
                    plus_separator=cfg.delivery.plus_separator,
                    max_parse_size=cfg.delivery.max_parse_size,
                ),
            )
            ssl_ctx = tls_context(cfg)
            # One authenticator (and login cache) for every protocol.
            authenticator = Authenticator(
                store,
                directory.passwords,
                cache_ttl=cfg.auth.login_cache_ttl,
                on_login=self._first_login,
            )
            async with trio.open_nursery() as nursery:
                if cfg.lmtp.enabled:
                    await self._start_lmtp(nursery, ssl_ctx, listeners["lmtp"])
                if cfg.imap.enabled:
                    await self._start_imap(nursery, ssl_ctx, authenticator, listeners)
                if cfg.http.enabled:
                    await self._start_http(nursery, ssl_ctx, authenticator, listeners)
                nursery.start_soon(self._janitor, store)
                task_status.started(self)
        finally:
            await close_listeners(listeners)
            with trio.CancelScope(shield=True):
                if indexer is not None:
                    await trio.to_thread.run_sync(indexer.stop)
                if index is not None:
                    index.close()
                await trio.to_thread.run_sync(store.close)

    async def _first_login(self, principal: Principal) -> None:
        """A successful password login: the account's generated password has done its job, so
        its line leaves ``initial-passwords`` (the file goes with its last line)."""
        if principal.name in self.awaiting_first_login and self.initial_passwords is not None:
            self.awaiting_first_login.discard(principal.name)
            try:
                await trio.to_thread.run_sync(self.initial_passwords.forget, principal.name)
            except OSError as err:  # the login itself stands
                log.warning("cannot update %s: %s", self.initial_passwords.path, err)
            else:
                log.info("first login of %s: removed from %s", principal.name, FILE_NAME)

    async def _start_lmtp(
        self,
        nursery: trio.Nursery,
        ssl_ctx: ssl.SSLContext,
        listeners: list[trio.SocketListener],
    ) -> None:
        cfg = self.cfg
        assert self.delivery is not None
        service = LmtpService(self.delivery)
        limits = LmtpLimits(
            max_line_length=cfg.lmtp.max_line_length,
            max_message_size=cfg.lmtp.max_message_size,
            max_recipients=cfg.lmtp.max_recipients,
        )
        await nursery.start(
            functools.partial(
                serve_lmtp,
                service,
                limits,
                cfg.lmtp.bind,
                cfg.lmtp.port,
                ssl_context=ssl_ctx if cfg.lmtp.starttls else None,
                hostname=cfg.server.hostname,
                idle_timeout=cfg.lmtp.idle_timeout,
                listeners=listeners,
            )
        )
        log.debug("LMTP listening on %s:%d", cfg.lmtp.bind, self.ports["lmtp"])

    async def _start_imap(
        self,
        nursery: trio.Nursery,
        ssl_ctx: ssl.SSLContext,
        authenticator: Authenticator,
        bound: dict[str, list[trio.SocketListener]],
    ) -> None:
        cfg = self.cfg
        store, indexer = self.store, self.indexer
        assert store is not None and indexer is not None

        scans = trio.CapacityLimiter(cfg.search.max_concurrent_scans)

        async def search_substring(
            account_id: int, needle: str, body_only: bool, emails: Collection[int] | None
        ) -> set[int]:
            """The scan in a thread under ``scans``; given up (client gone, shutdown, the
            time limit), the thread is abandoned and its scan stops at its next chunk."""
            assert indexer is not None
            cancel = threading.Event()
            search = functools.partial(
                indexer.search_substring,
                account_id,
                needle,
                body_only=body_only,
                emails=emails,
                cancel=cancel,
            )
            try:
                with trio.move_on_after(cfg.search.scan_timeout):
                    return await trio.to_thread.run_sync(
                        search, limiter=scans, abandon_on_cancel=True
                    )
            finally:
                cancel.set()
            raise MailError(ErrorKind.LIMIT, "substring search over search.scan_timeout")

        assert self.log is not None
        ctx = ImapContext(
            store=store,
            write=self.log.propose,
            authenticate=authenticator.authenticate,
            search_substring=search_substring,
            now=clock.now,
            hostname=cfg.server.hostname,
            limits=ImapLimits(
                max_line_length=cfg.imap.max_line_length,
                max_literal_size=cfg.imap.max_literal_size,
                idle_keepalive=cfg.imap.idle_keepalive,
                idle_timeout=cfg.imap.idle_timeout,
                command_timeout=cfg.imap.command_timeout,
                max_connections_per_user=cfg.imap.max_connections_per_user,
                max_connections_per_ip=cfg.imap.max_connections_per_ip,
            ),
            allow_plaintext_auth=cfg.imap.allow_plaintext_auth,
            tls_available=True,
        )
        self.imap_context = ctx
        for name, port, implicit in (
            ("imap", cfg.imap.port, False),
            ("imaps", cfg.imap.tls_port, True),
        ):
            await nursery.start(
                functools.partial(
                    serve_imap,
                    ctx,
                    cfg.imap.bind,
                    port,
                    tls_context=ssl_ctx,
                    implicit_tls=implicit,
                    listeners=bound[name],
                )
            )
            log.debug("%s listening on %s:%d", name.upper(), cfg.imap.bind, self.ports[name])

    async def _start_http(
        self,
        nursery: trio.Nursery,
        ssl_ctx: ssl.SSLContext,
        authenticator: Authenticator,
        bound: dict[str, list[trio.SocketListener]],
    ) -> None:
        """JMAP over HTTP (``cfg.http.port``) and HTTPS (``cfg.http.tls_port``), one connection
        limit for both; the change-feed hub and the PushSubscription sender run beside them."""
        cfg = self.cfg
        store, indexer, delivery = self.store, self.indexer, self.delivery
        assert store is not None and indexer is not None and delivery is not None
        hub = ChangeHub(store)
        hub.start()
        nursery.start_soon(_stop_on_cancel, hub)
        # RFC 8620 §2: the session advertises these, and the HTTP layer and the dispatcher
        # enforce the very same values.
        web = cfg.http
        core = CoreLimits(
            max_size_upload=web.max_upload_size,
            max_concurrent_upload=web.max_concurrent_uploads,
            max_size_request=web.max_request_size,
            max_concurrent_requests=web.max_concurrent_requests,
            max_calls_in_request=web.max_calls_in_request,
            max_objects_in_get=web.max_objects_in_get,
            max_objects_in_set=web.max_objects_in_set,
        )
        options = JmapOptions(
            public_url=cfg.http.public_url,
            session=SessionOptions(hostname=cfg.server.hostname, core=core),
            login_cache_ttl=cfg.auth.login_cache_ttl,
            answer_cache_entries=web.answer_cache_entries,
            answer_cache_bytes=web.answer_cache_size,
        )
        assert self.log is not None
        services = jmap_services(store, self.log, indexer, delivery, options)
        push = PushSender(
            services.mail, hub, may_deliver=lambda: self.once_per_cluster(Effect.PUSH)
        )
        await nursery.start(push.run)
        service = self.jmap = JmapServer(
            services,
            authenticator.authenticate,
            options,
            hub,
            subscription_created=push.verify,
        )
        http = HttpServer(
            service,
            limits=HttpLimits(
                max_body_size=max(web.max_request_size, web.max_upload_size),
                # Room above maxSizeRequest so that a message just over it gets the JMAP
                # `limit` RequestError; only one far over closes the socket (1009).
                websocket_max_message=2 * web.max_request_size,
            ),
            cors=CorsPolicy(origins=tuple(cfg.http.cors_origins)),
            access_log=cfg.http.access_log,
        )
        for name, port, tls in (
            ("http", cfg.http.port, None),
            ("https", cfg.http.tls_port, ssl_ctx),
        ):
            await nursery.start(
                functools.partial(
                    http.serve, cfg.http.bind, port, ssl_context=tls, listeners=bound[name]
                )
            )
            log.debug("%s listening on %s:%d", name.upper(), cfg.http.bind, self.ports[name])
        service.set_urls(effective_public_url(cfg.http.public_url, self.ports), self.ports)

    def once_per_cluster(self, effect: Effect) -> bool:
        """The one guard of effects that must happen once per cluster (store/writelog.py)."""
        return self.log is not None and self.log.once_per_cluster(effect)

    async def _janitor(self, store: Store) -> None:
        """Hourly: expire unreferenced blobs and old request ids, compact change logs beyond
        the history kept, and sweep orphan blob files (a crash between a blob's file and its
        batch)."""
        while True:
            try:
                ops: list[ExpireBlobs | ExpireRequests | CompactChanges] = [
                    ExpireBlobs(),
                    ExpireRequests(),
                ]
                for p in store.principals():
                    state = store.account(p.id)
                    if state is not None and state.modseq - state.changes_floor > (
                        self.cfg.store.change_history
                    ):
                        ops.append(CompactChanges(p.id, self.cfg.store.change_history))
                assert self.log is not None
                if self.once_per_cluster(Effect.JANITOR):
                    await self.log.propose(Batch(tuple(ops), now=clock.now()))
                # Each node sweeps its own blob files.
                swept = await trio.to_thread.run_sync(store.sweep_blobs)
                if swept:
                    log.info("janitor: removed %d orphan blob files", swept)
            except MailError as err:
                log.warning("janitor: %s", err)
            except OSError as err:
                log.warning("janitor: blob sweep: %s", err)
            await trio.sleep(JANITOR_INTERVAL)


def _open_store(cfg: Config) -> Store:
    """The store, or a StartError saying why not, in one line for the operator."""
    try:
        cfg.server.data_dir.mkdir(parents=True, exist_ok=True)
        return open_store(cfg)
    except MailError as err:
        if err.kind is ErrorKind.IN_USE:
            raise StartError(
                f"the data directory {cfg.server.data_dir} is in use by another stalwart-py "
                "process (LevelDB allows one at a time)"
            ) from None
        raise StartError(err.detail) from None
    except OSError as err:
        raise StartError(
            f"cannot open the data directory {cfg.server.data_dir}: {err.strerror or err}"
        ) from None


def jmap_services(
    store: Store, log: WriteLog, indexer: Indexer, delivery: Delivery, options: JmapOptions
) -> JmapServices:
    """What JMAP methods get from the application: the shared write log, full-text search
    through the indexer (in a worker thread), local delivery for EmailSubmission, the clock."""

    async def search_text(account_id: int, query: Query) -> set[int]:
        return await trio.to_thread.run_sync(indexer.search, account_id, query)

    async def snippet(
        account_id: int, email_id: int, query: Query
    ) -> tuple[str | None, str | None]:
        return await trio.to_thread.run_sync(indexer.snippet, account_id, email_id, query)

    async def submit(
        account_id: int, mail_from: str, rcpts: tuple[str, ...], data: bytes
    ) -> list[SubmissionRecipient]:
        """Delivery to addresses of this server through the LMTP delivery path, with each
        recipient's real outcome.  There is no outbound relay: EmailSubmission refuses remote
        recipients before it calls this (RFC 8621 §7.5 forbiddenToSend)."""
        env = Envelope(
            mail_from=mail_from, recipients=rcpts, helo=options.hostname, protocol="ESMTPA"
        )
        results = await delivery.deliver(env, data)
        return [
            SubmissionRecipient(rcpt, "delivered" if err is None else "failed", err)
            for rcpt, err in zip(rcpts, results, strict=True)
        ]

    core = options.core
    return JmapServices(
        store=store,
        write=log.propose,
        search_text=search_text,
        snippet=snippet,
        submit=submit,
        now=clock.now,
        hostname=options.hostname,
        limits=JmapLimits(
            max_objects_in_get=core.max_objects_in_get,
            max_objects_in_set=core.max_objects_in_set,
            max_size_upload=core.max_size_upload,
            upload_ttl=options.upload_ttl,
        ),
    )


async def _stop_on_cancel(hub: ChangeHub) -> None:
    try:
        await trio.sleep_forever()
    finally:
        hub.stop()
