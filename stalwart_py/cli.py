"""The ``stalwart-py`` command line: the argument parser, and dispatch to the command's module.

Only the standard library is imported here; a command imports what it needs when it runs
(``stalwart_py.admin`` for the administration commands, ``stalwart_py.serve`` for ``serve``), so
``--help`` and ``account list`` start without loading trio, the protocols or the index.

Exit statuses: ``stalwart_py.exit_status``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import exit_status
from .units import parse_size

SIZE_HELP = "bytes, or with a binary unit (1K = 1024): 500M, 2G, 1.5G"


def size_argument(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{err}; sizes are {SIZE_HELP}") from None


def data_dir_argument(text: str) -> str:
    if not text.strip() or "\x00" in text:
        raise argparse.ArgumentTypeError("expected the path of a data directory")
    return text


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", "-c", metavar="FILE", help="TOML configuration (STALWART_* env overrides)"
    )
    admin = argparse.ArgumentParser(add_help=False, parents=[common])
    admin.add_argument(
        "--data-dir",
        metavar="DIR",
        type=data_dir_argument,
        help="the data directory to administer (default: [server] data_dir, ./data)",
    )
    parser = argparse.ArgumentParser(
        prog="stalwart-py",
        description="A JMAP + IMAP + LMTP mail server.",
        epilog="Administration commands work on the data directory directly: run them while "
        "the server is stopped. Each says on stderr which data directory it uses. Exit status: "
        "0 done, 1 failed (the reason is on stderr), 2 bad usage or configuration, or the data "
        "directory is in use by a running server.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", parents=[common], help="run the server")
    p.set_defaults(run="serve:cmd_serve")

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="action", required=True)
    c = csub.add_parser("check", help="report unknown keys and bad values")
    c.add_argument("file")
    p.set_defaults(run="admin:cmd_config")

    p = sub.add_parser("account", help="manage accounts")
    asub = p.add_subparsers(dest="action", required=True)
    a = asub.add_parser("create", parents=[admin], help="create an account (and its domain)")
    a.add_argument("email")
    a.add_argument("--password", required=True)
    a.add_argument("--quota", type=size_argument, default=0, help=f"{SIZE_HELP}; 0 = unlimited")
    a.add_argument("--name", default="", help="display name")
    a = asub.add_parser("delete", parents=[admin], help="delete an account and its mail")
    a.add_argument("email")
    a = asub.add_parser("passwd", parents=[admin], help="set an account's password")
    a.add_argument("email")
    a.add_argument("--password", required=True)
    a = asub.add_parser("quota", parents=[admin], help="set an account's quota")
    a.add_argument("email")
    a.add_argument("quota", type=size_argument, help=f"{SIZE_HELP}; 0 = unlimited")
    asub.add_parser("list", parents=[admin], help="list accounts, groups and lists")
    p.set_defaults(run="admin:cmd_account")

    p = sub.add_parser("alias", help="manage address aliases")
    asub = p.add_subparsers(dest="action", required=True)
    a = asub.add_parser("add", parents=[admin], help="deliver an extra address to a principal")
    a.add_argument("alias")
    a.add_argument("target", help="the account (or group) the alias delivers to")
    a = asub.add_parser("remove", parents=[admin])
    a.add_argument("alias")
    p.set_defaults(run="admin:cmd_alias")

    p = sub.add_parser("domain", help="manage domains")
    asub = p.add_subparsers(dest="action", required=True)
    a = asub.add_parser("create", parents=[admin])
    a.add_argument("name")
    a.add_argument("--catch-all", metavar="ADDRESS", help="account receiving unknown addresses")
    a = asub.add_parser("catch-all", parents=[admin], help="set or remove a catch-all")
    a.add_argument("name")
    a.add_argument("address", nargs="?", default="", help="omit to remove the catch-all")
    a = asub.add_parser("delete", parents=[admin])
    a.add_argument("name")
    asub.add_parser("list", parents=[admin])
    p.set_defaults(run="admin:cmd_domain")

    p = sub.add_parser("group", help="manage groups and mailing lists")
    asub = p.add_subparsers(dest="action", required=True)
    for action in ("create", "members"):
        helptext = "create a group (and its domain)" if action == "create" else "set the members"
        a = asub.add_parser(action, parents=[admin], help=helptext)
        a.add_argument("email")
        a.add_argument("--member", "-m", action="append", default=[], metavar="ADDRESS")
        if action == "create":
            a.add_argument("--kind", choices=("group", "list"), default="group")
    p.set_defaults(run="admin:cmd_group")

    p = sub.add_parser("index", help="full-text index")
    asub = p.add_subparsers(dest="action", required=True)
    asub.add_parser("rebuild", parents=[admin], help="rebuild the index from the store")
    p.set_defaults(run="admin:cmd_index")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        module, _, function = args.run.partition(":")
        command = getattr(importlib.import_module(f"stalwart_py.{module}"), function)
        return int(command(args))
    except KeyboardInterrupt:
        print("stalwart-py: interrupted", file=sys.stderr)
        return exit_status.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
