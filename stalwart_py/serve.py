"""``stalwart-py serve``: start the server, tell the operator what they need, stop cleanly.

Signals.  The first SIGINT or SIGTERM starts the shutdown: the listeners stop, then the indexer,
then the store drains its queued writes and closes.  Every later one only says that the shutdown
is under way; none skips or interrupts the drain, so no acknowledged write is lost however many
signals arrive, and none ends in a ``KeyboardInterrupt`` traceback.  (Acknowledged writes are
fsynced before they are acknowledged, so even ``kill -9`` loses none: it is the way to force a
shutdown that hangs.)  To get there, Python-level handlers for both signals are installed before
anything else (so trio installs no ``KeyboardInterrupt`` handler of its own); they only note a
signal that arrives before the trio loop listens, and the loop acts on it as soon as it does.
Once the server has stopped, both signals are ignored while the process exits.  Only a signal
within the first few milliseconds of the process, before ``cmd_serve`` runs, gets the default
action (nothing has been opened or written by then).

A start that cannot complete (a port in use, the data directory held by another process) prints
one line naming the cause and the setting to change, and exits with status 1.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import types
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import trio

from . import exit_status
from .admin import load
from .config import Config, ConfigError, format_problems
from .listeners import StartError

if TYPE_CHECKING:
    from .server import Server

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_early: list[int] = []  # signals that arrived before the trio loop listened


def _note(signum: int, frame: types.FrameType | None) -> None:
    _early.append(signum)


def cmd_serve(args: argparse.Namespace) -> int:
    for signum in SIGNALS:
        signal.signal(signum, _note)
    try:
        cfg = load(args)
    except ConfigError as err:
        print(format_problems(err.problems), file=sys.stderr)
        return exit_status.USAGE
    logging.basicConfig(
        level=getattr(logging, cfg.server.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    print(f"stalwart-py: starting (data in {cfg.server.data_dir})", flush=True)
    failed: BaseException | None = None
    try:
        trio.run(_serve, cfg)
    except* StartError as group:
        failed = _first(group)
    finally:
        # Everything is closed.  While the interpreter exits it resets Python-level handlers
        # to the default action, and a late SIGTERM would then kill the process (exit -15)
        # after "stopped"; an ignored signal stays ignored.
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
    if failed is not None:
        print(f"stalwart-py: {failed}", file=sys.stderr, flush=True)
        return exit_status.FAILED
    print("stalwart-py: stopped", flush=True)
    return exit_status.DONE


def _first(group: BaseExceptionGroup[StartError]) -> BaseException:
    leaf: BaseException = group
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf


async def _serve(cfg: Config) -> None:
    from .server import Server

    with trio.open_signal_receiver(*SIGNALS) as signals:
        async with trio.open_nursery() as outer:
            serving = trio.CancelScope()
            outer.start_soon(_watch_signals, signals, serving)
            with serving:
                async with trio.open_nursery() as nursery:
                    server = await nursery.start(Server(cfg).run)
                    _print_banner(server)
                    await trio.sleep_forever()
            outer.cancel_scope.cancel()  # the server has stopped: no more signals to watch


async def _watch_signals(signals: AsyncIterator[int], serving: trio.CancelScope) -> None:
    """Cancels ``serving`` on the first signal (one noted before the loop listened counts);
    the shutdown it starts is shielded, so later signals only get an answer."""

    def handle(signum: int) -> None:
        name = signal.Signals(signum).name
        if not serving.cancel_called:
            print(f"stalwart-py: {name}, shutting down", flush=True)
            serving.cancel()
        else:
            print(f"stalwart-py: {name}: already shutting down, finishing writes", flush=True)

    for signum in _early:
        handle(signum)
    _early.clear()
    async for signum in signals:
        handle(signum)


def _print_banner(server: Server) -> None:
    cfg = server.cfg
    initial = server.initial_passwords
    if server.credentials:
        print(f"stalwart-py: first start, created domain {cfg.server.default_domain}")
        for c in server.credentials:
            print(f"  {c.role:<10} {c.email:<32} password: {c.password}")
        if initial is not None:
            print(f"  Kept in {initial.path} (readable only by you) until each account's first")
            print("  login; `stalwart-py account passwd` sets another password.")
    elif initial is not None and server.awaiting_first_login:
        waiting = ", ".join(sorted(server.awaiting_first_login))
        print(f"stalwart-py: the first-start passwords of {waiting} are in {initial.path}")
        print("  (removed from there once each account has logged in)")
    for proto, port in server.ports.items():
        bind = getattr(cfg, proto.removesuffix("s")).bind
        print(f"stalwart-py: {proto.upper()} listening on {bind}:{port}")
    print(f"stalwart-py: ready (data in {cfg.server.data_dir})", flush=True)
