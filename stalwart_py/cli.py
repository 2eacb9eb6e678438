"""The ``stalwart-py`` command line.

Administration commands (account, alias, domain, group, index) work on the data directory directly.
LevelDB admits one process at a time, so while a server runs on that directory they say so and stop.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import trio

from store import ErrorKind, MailError

from .accounts import Directory
from .config import Config, ConfigError, check_config, format_problems, load_config

EXIT_USAGE = 2


def _load(args: argparse.Namespace) -> Config:
    return load_config(Path(args.config) if args.config else None, os.environ)


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("b")
    if t and t[-1] in units:
        return int(float(t[:-1]) * units[t[-1]])
    return int(t)


# -- serve -------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    cfg = _load(args)
    logging.basicConfig(
        level=getattr(logging, cfg.server.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .server import Server

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                server = await nursery.start(Server(cfg).run)
                _print_banner(server)
                async for signum in signals:
                    print(f"stalwart-py: {signal.Signals(signum).name}, shutting down", flush=True)
                    nursery.cancel_scope.cancel()
                    break
        print("stalwart-py: stopped", flush=True)

    trio.run(main)
    return 0


def _print_banner(server: object) -> None:
    from .server import Server

    assert isinstance(server, Server)
    cfg = server.cfg
    if server.credentials:
        print(f"stalwart-py: first start, created domain {cfg.server.default_domain}")
        for c in server.credentials:
            print(f"  {c.role:<10} {c.email:<32} password: {c.password}")
        print("  These passwords are shown only once.")
    for proto, port in server.ports.items():
        bind = getattr(cfg, proto.removesuffix("s")).bind
        print(f"stalwart-py: {proto.upper()} listening on {bind}:{port}")
    print(f"stalwart-py: ready (data in {cfg.server.data_dir})", flush=True)


# -- administration ----------------------------------------------------------------------------


def _with_directory(args: argparse.Namespace, action: Callable[[Directory], int]) -> int:
    cfg = _load(args)
    from .server import open_store, passwords_for

    try:
        store = open_store(cfg)
    except MailError as err:
        if err.kind is ErrorKind.IN_USE:
            print(
                f"stalwart-py: the data directory {cfg.server.data_dir} is in use by a running "
                "server. Stop the server first: administration commands open the data "
                "directory directly, and LevelDB allows one process at a time.",
                file=sys.stderr,
            )
            return EXIT_USAGE
        raise
    try:
        return action(Directory(store, passwords_for(cfg)))
    finally:
        store.close()


def cmd_account(args: argparse.Namespace) -> int:
    def run(d: Directory) -> int:
        if args.action == "create":
            domain = args.email.rpartition("@")[2]
            if d.ensure_domain(domain):
                print(f"created domain {domain}")
            quota = _size(args.quota) if args.quota else 0
            pid = d.create_account(args.email, args.password, quota=quota, description=args.name)
            print(f"created account {args.email} (id {pid})")
        elif args.action == "delete":
            d.delete(args.email)
            print(f"deleted {args.email}")
        elif args.action == "passwd":
            d.set_password(args.email, args.password)
            print(f"password changed for {args.email}")
        elif args.action == "quota":
            d.set_quota(args.email, _size(args.quota))
            print(f"quota of {args.email} set to {args.quota}")
        elif args.action == "list":
            print(f"{'NAME':<36} {'KIND':<10} {'QUOTA':>12} {'USED':>12} {'MESSAGES':>9}  ALIASES")
            for row in d.list():
                p = row.principal
                shown = str(p.quota) if p.quota else "-"
                print(
                    f"{p.name:<36} {p.kind:<10} {shown:>12} {row.used_bytes:>12} "
                    f"{row.messages:>9}  {' '.join(p.emails[1:])}"
                )
        return 0

    return _with_directory(args, run)


def cmd_alias(args: argparse.Namespace) -> int:
    def run(d: Directory) -> int:
        if args.action == "add":
            d.add_alias(args.alias, args.target)
            print(f"{args.alias} -> {args.target}")
        else:
            d.remove_alias(args.alias)
            print(f"removed alias {args.alias}")
        return 0

    return _with_directory(args, run)


def cmd_domain(args: argparse.Namespace) -> int:
    def run(d: Directory) -> int:
        if args.action == "create":
            d.create_domain(args.name)
            print(f"created domain {args.name}")
            if args.catch_all:
                d.set_catch_all(args.name, args.catch_all)
        elif args.action == "catch-all":
            d.set_catch_all(args.name, args.address or None)
            print(f"catch-all of {args.name}: {args.address or 'none'}")
        elif args.action == "delete":
            d.delete_domain(args.name)
            print(f"deleted domain {args.name}")
        else:
            for dom in d.store.domains():
                target = d.store.principal(dom.catch_all) if dom.catch_all else None
                print(dom.name + (f"  catch-all: {target.name}" if target else ""))
        return 0

    return _with_directory(args, run)


def cmd_group(args: argparse.Namespace) -> int:
    def run(d: Directory) -> int:
        if args.action == "create":
            d.ensure_domain(args.email.rpartition("@")[2])
            d.create_group(args.email, args.member or [], kind=args.kind)
            print(f"created {args.kind} {args.email} with {len(args.member or [])} members")
        else:
            d.set_members(args.email, args.member or [])
            print(f"{args.email} now has {len(args.member or [])} members")
        return 0

    return _with_directory(args, run)


def cmd_index(args: argparse.Namespace) -> int:
    cfg = _load(args)
    from store.fts import open_index

    from .indexer import Indexer
    from .server import open_store

    try:
        store = open_store(cfg)
    except MailError as err:
        print(f"stalwart-py: {err}; stop the server first", file=sys.stderr)
        return EXIT_USAGE
    try:
        index = open_index(
            cfg.search.backend,
            cfg.search.index_dir,
            default_language=cfg.search.default_language,
            detect_language=cfg.search.detect_language,
        )
        try:
            indexer = Indexer(store, index, batch_size=cfg.search.batch_size)
            count = indexer.rebuild()
            print(f"indexed {count} messages with {cfg.search.backend}")
        finally:
            index.close()
    finally:
        store.close()
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    problems = check_config(Path(args.file), os.environ)
    if problems:
        print(format_problems(problems), file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    return 0


# -- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", "-c", metavar="FILE", help="TOML configuration (STALWART_* env overrides)"
    )
    parser = argparse.ArgumentParser(
        prog="stalwart-py", description="A JMAP + IMAP + LMTP mail server."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", parents=[common], help="run the server")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="action", required=True)
    c = csub.add_parser("check", help="report unknown keys and bad values")
    c.add_argument("file")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("account", help="manage accounts")
    asub = p.add_subparsers(dest="action", required=True)
    a = asub.add_parser("create", parents=[common])
    a.add_argument("email")
    a.add_argument("--password", required=True)
    a.add_argument("--quota", help="bytes, or with a unit: 500M, 2G")
    a.add_argument("--name", default="", help="display name")
    a = asub.add_parser("delete", parents=[common])
    a.add_argument("email")
    a = asub.add_parser("passwd", parents=[common])
    a.add_argument("email")
    a.add_argument("--password", required=True)
    a = asub.add_parser("quota", parents=[common])
    a.add_argument("email")
    a.add_argument("quota", help="bytes, or with a unit: 500M, 2G; 0 = unlimited")
    asub.add_parser("list", parents=[common])
    p.set_defaults(func=cmd_account)

    p = sub.add_parser("alias", help="manage address aliases")
    asub = p.add_subparsers(dest="action", required=True)
    a = asub.add_parser("add", parents=[common])
    a.add_argument("alias")
    a.add_argument("target", help="the account (or group) the alias delivers to")
    a = asub.add_parser("remove", parents=[common])
    a.add_argument("alias")
    p.set_defaults(func=cmd_alias)

    p = sub.add_parser("domain", help="manage domains")
    asub = p.add_subparsers(dest="action", required=True)
    a = asub.add_parser("create", parents=[common])
    a.add_argument("name")
    a.add_argument("--catch-all", metavar="ADDRESS", help="account receiving unknown addresses")
    a = asub.add_parser("catch-all", parents=[common])
    a.add_argument("name")
    a.add_argument("address", nargs="?", default="", help="omit to remove the catch-all")
    a = asub.add_parser("delete", parents=[common])
    a.add_argument("name")
    asub.add_parser("list", parents=[common])
    p.set_defaults(func=cmd_domain)

    p = sub.add_parser("group", help="manage groups and mailing lists")
    asub = p.add_subparsers(dest="action", required=True)
    for action in ("create", "members"):
        a = asub.add_parser(action, parents=[common])
        a.add_argument("email")
        a.add_argument("--member", "-m", action="append", metavar="ADDRESS")
        if action == "create":
            a.add_argument("--kind", choices=("group", "list"), default="group")
    p.set_defaults(func=cmd_group)

    p = sub.add_parser("index", help="full-text index")
    asub = p.add_subparsers(dest="action", required=True)
    asub.add_parser("rebuild", parents=[common], help="rebuild the index from the store")
    p.set_defaults(func=cmd_index)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as err:
        print(format_problems(err.problems), file=sys.stderr)
        return EXIT_USAGE
    except MailError as err:
        print(f"stalwart-py: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
