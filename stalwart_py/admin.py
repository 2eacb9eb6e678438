"""The administration commands: account, alias, domain, group, index and config check.

They open the data directory's store directly; LevelDB admits one process at a time, so while a
server runs on that directory they say so and stop (exit status 2).  Each names the data
directory it uses on stderr; the read-only ones (``account list``, ``domain list``) refuse to
create one where there is none.  Every refusal is one sentence on stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from store import ErrorKind, MailError, Store

from . import exit_status
from .accounts import Directory
from .config import ENV_PREFIX, Config, ConfigError, check_config, format_problems, load_config
from .datadir import has_store, open_store, passwords_for
from .initial_passwords import InitialPasswords
from .units import format_size


def load(args: argparse.Namespace) -> Config:
    """The configuration: ``--config`` (or defaults), STALWART_* variables, then ``--data-dir``."""
    env = dict(os.environ)
    if getattr(args, "data_dir", None):
        env[f"{ENV_PREFIX}SERVER_DATA_DIR"] = args.data_dir
    return load_config(Path(args.config) if args.config else None, env)


def _say(message: str) -> None:
    print(f"stalwart-py: {message}", file=sys.stderr)


def _run(
    args: argparse.Namespace, action: Callable[[Store, Config], None], *, read_only: bool = False
) -> int:
    try:
        cfg = load(args)
    except ConfigError as err:
        print(format_problems(err.problems), file=sys.stderr)
        return exit_status.USAGE
    data_dir = cfg.server.data_dir
    if has_store(cfg):
        _say(f"using the data directory {data_dir}")
    elif read_only:
        _say(
            f"there is no data directory at {data_dir}: run this in the directory that holds the "
            "server's data/, or pass --data-dir DIR (or --config FILE) to name it"
        )
        return exit_status.FAILED
    else:
        _say(f"creating a new data directory {data_dir}")
    try:
        store = open_store(cfg)
    except MailError as err:
        if err.kind is not ErrorKind.IN_USE:
            _say(err.detail)
            return exit_status.FAILED
        _say(
            f"the data directory {data_dir} is in use by a running server. Stop the server "
            "first: administration commands open the data directory directly, and LevelDB "
            "allows one process at a time."
        )
        return exit_status.USAGE
    except OSError as err:
        _say(f"cannot open the data directory {data_dir}: {err.strerror or err}")
        return exit_status.FAILED
    try:
        action(store, cfg)
    except MailError as err:
        _say(err.detail or err.kind.value.replace("_", " "))
        return exit_status.FAILED
    finally:
        store.close()
    return exit_status.DONE


def _directory(store: Store, cfg: Config) -> Directory:
    return Directory(store, passwords_for(cfg))


def _quota_text(quota: int) -> str:
    return format_size(quota) if quota else "unlimited"


def _need_password(password: str) -> None:
    if not password:
        raise MailError(ErrorKind.INVALID, "the password must not be empty")


def cmd_account(args: argparse.Namespace) -> int:
    def run(store: Store, cfg: Config) -> None:
        d = _directory(store, cfg)
        initial = InitialPasswords(cfg.server.data_dir)
        if args.action == "create":
            _need_password(args.password)
            domain = args.email.strip().lower().rpartition("@")[2]
            new_domain = store.domain(domain) is None
            pid = d.create_account(
                args.email,
                args.password,
                quota=args.quota,
                description=args.name,
                create_domain=True,
            )
            if new_domain:
                print(f"created domain {domain}")
            print(f"created account {args.email.strip().lower()} (id {pid})")
        elif args.action == "delete":
            name = d.require(args.email).name  # any spelling or alias of the account
            d.delete(args.email)
            initial.forget(name)
            print(f"deleted {name}")
        elif args.action == "passwd":
            _need_password(args.password)
            name = d.require(args.email).name
            d.set_password(args.email, args.password)
            initial.forget(name)  # the generated password no longer works
            print(f"password changed for {name}")
        elif args.action == "quota":
            d.set_quota(args.email, args.quota)
            print(f"quota of {args.email} set to {_quota_text(args.quota)}")
        else:
            print(f"{'NAME':<36} {'KIND':<10} {'QUOTA':>8} {'USED':>8} {'MESSAGES':>9}  ALIASES")
            for row in d.list():
                p = row.principal
                quota = format_size(p.quota) if p.quota else "-"
                print(
                    f"{p.name:<36} {p.kind:<10} {quota:>8} {format_size(row.used_bytes):>8} "
                    f"{row.messages:>9}  {' '.join(p.emails[1:])}"
                )

    return _run(args, run, read_only=args.action == "list")


def cmd_alias(args: argparse.Namespace) -> int:
    def run(store: Store, cfg: Config) -> None:
        d = _directory(store, cfg)
        if args.action == "add":
            d.add_alias(args.alias, args.target)
            print(f"{args.alias} -> {args.target}")
        else:
            d.remove_alias(args.alias)
            print(f"removed alias {args.alias}")

    return _run(args, run)


def cmd_domain(args: argparse.Namespace) -> int:
    def run(store: Store, cfg: Config) -> None:
        d = _directory(store, cfg)
        if args.action == "create":
            if args.catch_all:
                d.require(args.catch_all)  # checked before the domain exists
            d.create_domain(args.name)
            print(f"created domain {args.name}")
            if args.catch_all:
                d.set_catch_all(args.name, args.catch_all)
                print(f"catch-all of {args.name}: {args.catch_all}")
        elif args.action == "catch-all":
            d.set_catch_all(args.name, args.address or None)
            print(f"catch-all of {args.name}: {args.address or 'none'}")
        elif args.action == "delete":
            d.delete_domain(args.name)
            print(f"deleted domain {args.name}")
        else:
            for dom in store.domains():
                target = store.principal(dom.catch_all) if dom.catch_all else None
                print(dom.name + (f"  catch-all: {target.name}" if target else ""))

    return _run(args, run, read_only=args.action == "list")


def cmd_group(args: argparse.Namespace) -> int:
    def run(store: Store, cfg: Config) -> None:
        d = _directory(store, cfg)
        members = len(args.member)
        if args.action == "create":
            domain = args.email.strip().lower().rpartition("@")[2]
            new_domain = store.domain(domain) is None
            d.create_group(args.email, args.member, kind=args.kind, create_domain=True)
            if new_domain:
                print(f"created domain {domain}")
            print(f"created {args.kind} {args.email} with {members} members")
        else:
            d.set_members(args.email, args.member)
            print(f"{args.email} now has {members} members")

    return _run(args, run)


def cmd_index(args: argparse.Namespace) -> int:
    def run(store: Store, cfg: Config) -> None:
        from store.fts import open_index

        from .indexer import Indexer

        index = open_index(
            cfg.search.backend,
            cfg.search.index_dir,
            default_language=cfg.search.default_language,
            detect_language=cfg.search.detect_language,
        )
        try:
            count = Indexer(store, index, batch_size=cfg.search.batch_size).rebuild()
            print(f"indexed {count} messages with {cfg.search.backend}")
        finally:
            index.close()

    return _run(args, run, read_only=True)  # it writes the index, never the store


def cmd_config(args: argparse.Namespace) -> int:
    problems = check_config(Path(args.file), os.environ)
    if problems:
        print(format_problems(problems), file=sys.stderr)
        return exit_status.FAILED
    print(f"{args.file}: OK")
    return exit_status.DONE
