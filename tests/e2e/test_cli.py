"""The ``stalwart-py`` command line as a user runs it: separate processes, a config file, signals.

Every command runs as ``python -m stalwart_py`` (what the ``stalwart-py`` script calls) in a
subprocess, with ``STALWART_*`` variables removed from its environment so that only the
configuration file counts.  Results are checked in the command output and, once no process
holds the data directory, in the store itself.
"""

from __future__ import annotations

import re
import smtplib
from pathlib import Path

import pytest

from stalwart_py.config import load_config
from stalwart_py.server import open_store, passwords_for
from tests.e2e.cli_support import Row, Serve, account_rows, cli, ok, write_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "stalwart.toml", tmp_path / "data")


# -- administration ----------------------------------------------------------------------------


def test_directory_administration(config: Path) -> None:
    c = ("--config", str(config))
    assert ok("domain", "create", "example.org", *c).strip() == "created domain example.org"
    out = ok(
        "account", "create", "alice@example.org", "--password", "first",
        "--quota", "10M", "--name", "Alice Liddell", *c,
    )  # fmt: skip
    assert re.fullmatch(r"created account alice@example\.org \(id \d+\)\n", out)
    # A new domain is created on the way.
    out = ok("account", "create", "bob@other.test", "--password", "pw", *c)
    assert out.splitlines()[0] == "created domain other.test"
    assert ok("alias", "add", "al@example.org", "alice@example.org", *c).strip() == (
        "al@example.org -> alice@example.org"
    )
    out = ok(
        "group", "create", "team@example.org", "-m", "alice@example.org", "-m", "bob@other.test", *c
    )
    assert out.strip() == "created group team@example.org with 2 members"
    out = ok("domain", "catch-all", "example.org", "alice@example.org", *c)
    assert out.strip() == "catch-all of example.org: alice@example.org"
    assert ok("domain", "list", *c).splitlines() == [
        "example.org  catch-all: alice@example.org",
        "other.test",
    ]
    assert ok("account", "passwd", "alice@example.org", "--password", "second", *c).strip() == (
        "password changed for alice@example.org"
    )

    rows = account_rows(ok("account", "list", *c))
    assert set(rows) == {"alice@example.org", "bob@other.test", "team@example.org"}
    assert rows["alice@example.org"] == Row(
        "alice@example.org", "individual", "10M", "0B", 0, ("al@example.org",)
    )
    assert rows["team@example.org"].kind == "group"

    # An error: a clear message on stderr and a non-zero exit status.
    ghost = cli("account", "delete", "ghost@example.org", *c)
    assert ghost.returncode == 1
    assert ghost.stderr.startswith("stalwart-py: ") and "ghost@example.org" in ghost.stderr
    assert ghost.stdout == ""

    # Undo some of it.
    ok("account", "quota", "alice@example.org", "0", *c)
    assert ok("alias", "remove", "al@example.org", *c).strip() == "removed alias al@example.org"
    assert ok("account", "delete", "bob@other.test", *c).strip() == "deleted bob@other.test"
    assert ok("domain", "delete", "other.test", *c).strip() == "deleted domain other.test"

    cfg = load_config(config, {})
    store = open_store(cfg)
    try:
        alice = store.principal_by_address("alice@example.org")
        assert alice is not None
        assert (alice.quota, alice.emails, alice.description) == (
            0,
            ("alice@example.org",),
            "Alice Liddell",
        )
        passwords = passwords_for(cfg)
        assert passwords.verify(alice.secret, "second")
        assert not passwords.verify(alice.secret, "first")
        assert store.principal_by_address("al@example.org") is None
        assert store.principal_by_address("bob@other.test") is None
        assert [d.name for d in store.domains()] == ["example.org"]
        example = store.domain("example.org")
        assert example is not None and example.catch_all == alice.id
        team = store.principal_by_address("team@example.org")
        assert team is not None and team.members == (alice.id,)  # bob left the group
        assert store.mailbox_by_role(alice.id, "inbox") is not None
    finally:
        store.close()


# -- config check --------------------------------------------------------------------------


def test_config_check(tmp_path: Path, config: Path) -> None:
    good = cli("config", "check", str(config))
    assert (good.returncode, good.stdout.strip()) == (0, f"{config}: OK")

    bad = write_config(
        tmp_path / "bad.toml",
        tmp_path / "data",
        '\n[delivery]\nduplicat_window = "2d"\n\n[search]\nbackend = "elastic"\n',
    )
    text = bad.read_text().splitlines()
    typo_line = text.index('duplicat_window = "2d"') + 1
    backend_line = text.index('backend = "elastic"') + 1
    result = cli("config", "check", str(bad))
    assert result.returncode == 1
    problems = result.stderr.strip().splitlines()
    assert len(problems) == 2, problems
    typo = next(p for p in problems if "duplicat_window" in p)
    assert typo.startswith(f"{bad}:{typo_line} delivery.duplicat_window: unknown key")
    assert "did you mean 'duplicate_window'" in typo
    value = next(p for p in problems if "backend" in p)
    assert value.startswith(f"{bad}:{backend_line} search.backend:")
    assert "elastic" in value and "tantivy" in value

    # A bad value in the file stops every command, not just `config check`.
    listed = cli("account", "list", "--config", str(bad))
    assert listed.returncode == 2
    assert f"{bad}:{backend_line}" in listed.stderr

    broken = tmp_path / "broken.toml"
    broken.write_text("[server]\ndata_dir = \n", encoding="utf-8")
    result = cli("config", "check", str(broken))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{broken}:2") and "invalid TOML" in result.stderr


# -- serve ---------------------------------------------------------------------------------


def deliver(port: int, rcpt: str, subject: str) -> None:
    message = f"From: <s@remote.test>\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()
    with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
        assert client.sendmail("s@remote.test", [rcpt], message) == {}


def test_serve_first_start_delivery_sigterm_and_restart(config: Path, serve: list[Serve]) -> None:
    c = ("--config", str(config))
    srv = Serve(config)
    serve.append(srv)
    srv.until(r"first start, created domain example\.org")
    admin = srv.until(r"^\s+admin\s+(admin@example\.org)\s+password: (\S+)$")
    demo = srv.until(r"^\s+demo user\s+(demo@example\.org)\s+password: (\S+)$")
    srv.until(r"Kept in .*initial-passwords \(readable only by you\)")
    port = int(srv.until(r"LMTP listening on 127\.0\.0\.1:(\d+)")[1])
    assert port == load_config(config, {}).lmtp.port
    srv.until(r"ready \(data in ")

    # While the server runs, administration commands refuse with a clear message and a
    # non-zero status (index rebuild said "in_use: ..." before), and a second server says why.
    for args in (
        ("account", "list"),
        ("account", "create", "x@example.org", "--password", "pw"),
        ("domain", "list"),
        ("index", "rebuild"),
    ):
        busy = cli(*args, *c)
        assert busy.returncode == 2, (args, busy)
        assert "in use by a running server" in busy.stderr, (args, busy.stderr)
        assert "Stop the server first" in busy.stderr and "in_use" not in busy.stderr
    second = cli("serve", *c)
    assert second.returncode == 1 and "Traceback" not in second.stderr, second.stderr
    assert second.stderr.strip().endswith(
        "is in use by another stalwart-py process (LevelDB allows one at a time)"
    )

    deliver(port, "demo@example.org", "before restart")
    assert srv.terminate() == 0
    assert any("SIGTERM, shutting down" in line for line in srv.seen)
    assert srv.seen[-1] == "stalwart-py: stopped"

    # Second start: no passwords shown, but where they are kept (nobody has logged in yet);
    # delivery continues.
    srv = Serve(config)
    serve.append(srv)
    srv.until(r"first-start passwords of admin@example\.org, demo@example\.org are in .*")
    srv.until(r"ready \(data in ")
    assert not any("first start" in line for line in srv.seen)
    deliver(port, "demo@example.org", "after restart")
    assert srv.terminate() == 0
    assert not any(admin[2] in line or demo[2] in line for line in srv.seen)

    rows = account_rows(ok("account", "list", *c))
    assert rows["demo@example.org"].messages == 2
    assert rows["demo@example.org"].used not in ("0B", "")
    assert rows["admin@example.org"].messages == 0

    # The printed passwords are the real ones, and the admin has its role.
    cfg = load_config(config, {})
    store = open_store(cfg)
    try:
        passwords = passwords_for(cfg)
        for m in (admin, demo):
            p = store.principal_by_address(m[1])
            assert p is not None and passwords.verify(p.secret, m[2])
        assert admin[2] != demo[2]
        admin_principal = store.principal_by_address("admin@example.org")
        assert admin_principal is not None and "admin" in admin_principal.roles
    finally:
        store.close()
