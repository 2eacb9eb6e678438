"""The composition root: opens the store and the index, then runs every listener in one nursery.

Shutdown (SIGINT/SIGTERM, or cancelling :meth:`Server.run`) stops the listeners first, then the
indexer, then closes the store, which drains queued writes: a write is acknowledged to a client only
after it is durable, so no acknowledged write is lost.
"""

from __future__ import annotations

import functools
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import trio

from protocols.http import CorsPolicy, HttpLimits, HttpServer
from protocols.imap.context import ImapContext, ImapLimits
from protocols.imap.server import serve_imap
from protocols.jmap.core import CoreLimits
from protocols.lmtp import LmtpLimits
from protocols.lmtp.server import serve_lmtp
from store import ApplyResult, Batch, MailError, Store
from store.batch import CompactChanges, ExpireBlobs
from store.fts import open_index

from . import clock
from .accounts import Directory
from .auth import Authenticator
from .config import Config
from .delivery import Delivery, DeliveryOptions
from .indexer import Indexer
from .jmap_service import JmapOptions, JmapService, effective_public_url
from .lmtp_service import LmtpService
from .passwords import HashParams, Passwords, generate_password
from .push import ChangeHub, PushSender
from .storage import write
from .tls import self_signed, server_context

log = logging.getLogger(__name__)

JANITOR_INTERVAL = 3600.0


@dataclass(frozen=True, slots=True)
class Credential:
    role: str
    email: str
    password: str


def passwords_for(cfg: Config) -> Passwords:
    return Passwords(
        HashParams(
            time_cost=cfg.auth.argon2_time_cost,
            memory_cost=cfg.auth.argon2_memory_cost,
            parallelism=cfg.auth.argon2_parallelism,
        )
    )


def open_store(cfg: Config) -> Store:
    """Opens the data directory's store (raises MailError(IN_USE) if a server holds it)."""
    return Store(cfg.server.data_dir / "db", group_commit_max=cfg.store.group_commit_max)


def bootstrap(directory: Directory, domain: str) -> list[Credential]:
    """On first start: the default domain, an admin and a demo user with generated passwords."""
    created: list[Credential] = []
    directory.ensure_domain(domain)
    for role, local, roles in (("admin", "admin", ("admin",)), ("demo user", "demo", ())):
        address = f"{local}@{domain}"
        if directory.store.principal_by_address(address) is not None:
            continue
        password = generate_password()
        directory.create_account(address, password, roles=roles)
        created.append(Credential(role, address, password))
    return created


def tls_context(cfg: Config) -> ssl.SSLContext:
    if cfg.tls.cert and cfg.tls.key:
        return server_context(Path(cfg.tls.cert), Path(cfg.tls.key))
    cert, key = self_signed(cfg.server.data_dir / "tls", cfg.server.hostname)
    return server_context(cert, key)


@dataclass
class Server:
    cfg: Config
    ports: dict[str, int] = field(default_factory=dict)
    credentials: list[Credential] = field(default_factory=list)
    store: Store | None = None
    indexer: Indexer | None = None
    delivery: Delivery | None = None
    imap_context: ImapContext | None = None
    jmap: JmapService | None = None

    async def run(self, *, task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.cfg
        cfg.server.data_dir.mkdir(parents=True, exist_ok=True)
        store = self.store = open_store(cfg)
        index = indexer = None
        try:
            directory = Directory(store, passwords_for(cfg))
            self.credentials = await trio.to_thread.run_sync(
                bootstrap, directory, cfg.server.default_domain
            )
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
                store, directory.passwords, cache_ttl=cfg.auth.login_cache_ttl
            )
            async with trio.open_nursery() as nursery:
                if cfg.lmtp.enabled:
                    await self._start_lmtp(nursery, ssl_ctx)
                if cfg.imap.enabled:
                    await self._start_imap(nursery, ssl_ctx, authenticator)
                if cfg.http.enabled:
                    await self._start_http(nursery, ssl_ctx, authenticator)
                nursery.start_soon(self._janitor, store)
                task_status.started(self)
        finally:
            with trio.CancelScope(shield=True):
                if indexer is not None:
                    await trio.to_thread.run_sync(indexer.stop)
                if index is not None:
                    index.close()
                await trio.to_thread.run_sync(store.close)

    async def _start_lmtp(self, nursery: trio.Nursery, ssl_ctx: ssl.SSLContext) -> None:
        cfg = self.cfg
        assert self.delivery is not None
        service = LmtpService(self.delivery)
        limits = LmtpLimits(
            max_line_length=cfg.lmtp.max_line_length,
            max_message_size=cfg.lmtp.max_message_size,
            max_recipients=cfg.lmtp.max_recipients,
        )
        listeners = await nursery.start(
            functools.partial(
                serve_lmtp,
                service,
                limits,
                cfg.lmtp.bind,
                cfg.lmtp.port,
                ssl_context=ssl_ctx if cfg.lmtp.starttls else None,
                hostname=cfg.server.hostname,
                idle_timeout=cfg.lmtp.idle_timeout,
            )
        )
        self.ports["lmtp"] = listeners[0].socket.getsockname()[1]
        log.debug("LMTP listening on %s:%d", cfg.lmtp.bind, self.ports["lmtp"])

    async def _start_imap(
        self, nursery: trio.Nursery, ssl_ctx: ssl.SSLContext, authenticator: Authenticator
    ) -> None:
        cfg = self.cfg
        store, indexer = self.store, self.indexer
        assert store is not None and indexer is not None

        async def search_substring(account_id: int, needle: str, body_only: bool) -> set[int]:
            assert indexer is not None
            search = functools.partial(indexer.search_substring, body_only=body_only)
            return await trio.to_thread.run_sync(search, account_id, needle)

        async def store_write(batch: Batch) -> ApplyResult:
            assert store is not None
            return await write(store, batch)

        ctx = ImapContext(
            store=store,
            write=store_write,
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
            listeners = await nursery.start(
                functools.partial(
                    serve_imap,
                    ctx,
                    cfg.imap.bind,
                    port,
                    tls_context=ssl_ctx,
                    implicit_tls=implicit,
                )
            )
            self.ports[name] = listeners[0].socket.getsockname()[1]
            log.debug("%s listening on %s:%d", name.upper(), cfg.imap.bind, self.ports[name])

    async def _start_http(
        self, nursery: trio.Nursery, ssl_ctx: ssl.SSLContext, authenticator: Authenticator
    ) -> None:
        """JMAP over HTTP (``cfg.http.port``) and HTTPS (``cfg.http.tls_port``), one connection
        limit for both; the change-feed hub and the PushSubscription sender run beside them."""
        cfg = self.cfg
        store, indexer, delivery = self.store, self.indexer, self.delivery
        assert store is not None and indexer is not None and delivery is not None
        hub = ChangeHub(store)
        hub.start()
        nursery.start_soon(_stop_on_cancel, hub)
        push = PushSender(store, hub)
        await nursery.start(push.run)
        core = CoreLimits(
            max_size_upload=cfg.http.max_request_size,
            max_size_request=min(CoreLimits().max_size_request, cfg.http.max_request_size),
        )
        service = self.jmap = JmapService(
            store,
            authenticator,
            delivery,
            indexer,
            JmapOptions(public_url=cfg.http.public_url, hostname=cfg.server.hostname, core=core),
            hub,
            push,
        )
        http = HttpServer(
            service,
            limits=HttpLimits(max_body_size=cfg.http.max_request_size),
            cors=CorsPolicy(origins=tuple(cfg.http.cors_origins)),
            access_log=cfg.http.access_log,
        )
        for name, port, tls in (
            ("http", cfg.http.port, None),
            ("https", cfg.http.tls_port, ssl_ctx),
        ):
            listeners = await nursery.start(
                functools.partial(http.serve, cfg.http.bind, port, ssl_context=tls)
            )
            self.ports[name] = listeners[0].socket.getsockname()[1]
            log.debug("%s listening on %s:%d", name.upper(), cfg.http.bind, self.ports[name])
        service.public_url = effective_public_url(cfg.http.public_url, self.ports)

    async def _janitor(self, store: Store) -> None:
        """Hourly: expire unreferenced blobs and compact change logs beyond the history kept."""
        while True:
            try:
                ops: list[ExpireBlobs | CompactChanges] = [ExpireBlobs()]
                for p in store.principals():
                    state = store.account(p.id)
                    if state is not None and state.modseq - state.changes_floor > (
                        self.cfg.store.change_history
                    ):
                        ops.append(CompactChanges(p.id, self.cfg.store.change_history))
                await write(store, Batch(tuple(ops), now=clock.now()))
            except MailError as err:
                log.warning("janitor: %s", err)
            await trio.sleep(JANITOR_INTERVAL)


async def _stop_on_cancel(hub: ChangeHub) -> None:
    try:
        await trio.sleep_forever()
    finally:
        hub.stop()
