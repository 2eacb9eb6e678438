"""The first start as a newcomer meets it, with real ``stalwart-py serve`` processes.

User-visible rules (issue 8, "a newcomer's first hour", item 1):
- a listener that cannot bind stops the start with ONE line naming the listener, the address, the
  port and the setting to change, a non-zero exit status and no traceback, before any account
  is created (so no generated password is lost);
- the generated passwords are kept in ``data/initial-passwords`` (mode 0600 whatever the umask)
  until each account's first login, and every start says where they are while it exists;
- an account's line goes at its first successful login (IMAP or JMAP), the file with the last.
"""

from __future__ import annotations

import base64
import imaplib
import os
import socket
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from stalwart_py.accounts import Directory
from stalwart_py.config import load_config
from stalwart_py.initial_passwords import Credential, InitialPasswords
from stalwart_py.server import bootstrap, open_store, passwords_for
from tests.e2e.cli_support import TIMEOUT, Serve, account_rows, clean_env, ok, write_config

LISTENERS = [
    # (name in messages, config section, key, the env var the message names)
    ("LMTP", "lmtp", "port", "STALWART_LMTP_PORT"),
    ("IMAP", "imap", "port", "STALWART_IMAP_PORT"),
    ("IMAPS", "imap", "tls_port", "STALWART_IMAP_TLS_PORT"),
    ("HTTP", "http", "port", "STALWART_HTTP_PORT"),
    ("HTTPS", "http", "tls_port", "STALWART_HTTP_TLS_PORT"),
]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path / "stalwart.toml", tmp_path / "data")
    text = path.read_text().replace("[imap]\n", "[imap]\nallow_plaintext_auth = true\n")
    path.write_text(text)
    return path


def serve_once(config: Path, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    """Runs ``serve`` expecting it to stop by itself (a start that fails)."""
    return subprocess.run(
        [sys.executable, "-m", "stalwart_py", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=clean_env(),
        check=False,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,  # noqa: PLW1509
    )


def occupy(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


def jmap_login(port: int, user: str, password: str) -> int:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/.well-known/jmap", headers={"Authorization": f"Basic {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.parametrize(("label", "section", "key", "env"), LISTENERS)
def test_a_port_in_use_stops_the_start_with_one_line_before_any_account_exists(
    config: Path, label: str, section: str, key: str, env: str
) -> None:
    """Behaviour: the message names the listener, address, port and the setting to change."""
    port = getattr(getattr(load_config(config, {}), section), key)
    with occupy(port):
        result = serve_once(config)
    assert result.returncode == 1, result
    assert result.stderr == (
        f"stalwart-py: cannot listen for {label} on 127.0.0.1:{port}: address already in use "
        f"(set [{section}] {key} or {env})\n"
    ), result.stderr
    assert "password" not in result.stdout
    assert account_rows(ok("account", "list", "--config", str(config))) == {}
    assert not (config.parent / "data" / "initial-passwords").exists()


def test_a_bind_address_that_is_not_local_names_the_bind_setting(tmp_path: Path) -> None:
    """Behaviour: an address this machine does not have points at ``[imap] bind``."""
    config = write_config(tmp_path / "stalwart.toml", tmp_path / "data")
    config.write_text(config.read_text().replace("[imap]\n", '[imap]\nbind = "192.0.2.1"\n'))
    result = serve_once(config)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result
    assert result.stderr.startswith("stalwart-py: cannot listen for IMAP on 192.0.2.1:")
    assert result.stderr.endswith("(set [imap] bind or STALWART_IMAP_BIND)\n"), result.stderr


def test_the_first_start_passwords_survive_a_failed_start_and_go_at_first_login(
    config: Path, serve: list[Serve]
) -> None:
    """Behaviour: after a start stopped by a port in use, the next start prints the passwords,
    keeps them in an owner-only file (even under umask 0), says where on every start, and drops
    each line at that account's first login (IMAP for one, JMAP for the other)."""
    cfg = load_config(config, {})
    data = cfg.server.data_dir
    with occupy(cfg.imap.port):
        assert serve_once(config, umask=0).returncode == 1

    srv = Serve(config)
    serve.append(srv)
    printed = {m[1]: m[2] for m in (srv.until(r"^\s+admin\s+(\S+)\s+password: (\S+)$"),)}
    demo = srv.until(r"^\s+demo user\s+(\S+)\s+password: (\S+)$")
    printed[demo[1]] = demo[2]
    srv.until(rf"Kept in {data}/initial-passwords \(readable only by you\)")
    srv.until(r"ready \(data in ")
    path = data / "initial-passwords"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    from_file = {a: c.password for a, c in InitialPasswords(data).load().items()}
    assert from_file == printed
    assert [p.name for p in data.iterdir() if p.name.startswith(".initial")] == []

    # A wrong password changes nothing; the right one retires the line.
    imap = imaplib.IMAP4("127.0.0.1", cfg.imap.port)
    with pytest.raises(imaplib.IMAP4.error):
        imap.login("demo@example.org", "wrong")
    assert set(InitialPasswords(data).load()) == set(printed)
    imap.login("demo@example.org", from_file["demo@example.org"])
    imap.logout()
    assert set(InitialPasswords(data).load()) == {"admin@example.org"}
    assert srv.terminate() == 0

    srv = Serve(config)
    serve.append(srv)
    srv.until(rf"first-start passwords of admin@example\.org are in {data}/initial-passwords")
    srv.until(r"ready \(data in ")
    assert jmap_login(cfg.http.port, "admin@example.org", from_file["admin@example.org"]) == 200
    assert not path.exists()
    assert srv.terminate() == 0

    srv = Serve(config)
    serve.append(srv)
    srv.until(r"ready \(data in ")
    assert not any("password:" in s or "first-start passwords" in s for s in srv.seen), srv.seen
    assert srv.terminate() == 0


def test_changing_a_first_start_password_with_the_cli_drops_its_line(
    config: Path, serve: list[Serve]
) -> None:
    """Behaviour: `account passwd` makes the kept password useless, so its line goes too —
    however the account is named on the command line (another case, an alias)."""
    srv = Serve(config)
    serve.append(srv)
    srv.until(r"ready \(data in ")
    assert srv.terminate() == 0
    data = load_config(config, {}).server.data_dir
    ok("account", "passwd", "DEMO@Example.org", "--password", "mine", "--config", str(config))
    assert set(InitialPasswords(data).load()) == {"admin@example.org"}
    ok("alias", "add", "boss@example.org", "admin@example.org", "--config", str(config))
    ok("account", "delete", "boss@example.org", "--config", str(config))
    assert not (data / "initial-passwords").exists()


def test_bootstrap_reuses_a_password_saved_by_a_start_that_failed_half_way(
    tmp_path: Path,
) -> None:
    """Behaviour: the file is written before the accounts; a start that stopped in between
    creates the account with the password already saved, so what the file says is true."""
    cfg = load_config(write_config(tmp_path / "s.toml", tmp_path / "data"), {})
    cfg.server.data_dir.mkdir()
    initial = InitialPasswords(cfg.server.data_dir)
    initial.save([Credential("admin", "admin@example.org", "saved-before-a-crash")])
    store = open_store(cfg)
    try:
        passwords = passwords_for(cfg)
        created = bootstrap(Directory(store, passwords), "example.org", initial)
        assert [c.email for c in created] == ["admin@example.org", "demo@example.org"]
        assert created[0].password == "saved-before-a-crash"
        admin = store.principal_by_address("admin@example.org")
        assert admin is not None and passwords.verify(admin.secret, "saved-before-a-crash")
        assert {a: c.password for a, c in initial.load().items()} == {
            c.email: c.password for c in created
        }
        assert bootstrap(Directory(store, passwords), "example.org", initial) == []
    finally:
        store.close()


def test_an_account_deleted_after_the_first_start_is_not_created_again(
    config: Path, serve: list[Serve]
) -> None:
    """Behaviour: only the first start (no account yet) creates admin@ and demo@; an operator
    who deleted the demo account does not find it back, with a new password, at the next
    start."""
    srv = Serve(config)
    serve.append(srv)
    srv.until(r"ready \(data in ")
    assert srv.terminate() == 0
    ok("account", "delete", "demo@example.org", "--config", str(config))
    again = Serve(config)
    serve.append(again)
    again.until(r"ready \(data in ")
    assert again.terminate() == 0
    assert not any("demo@example.org" in line for line in again.seen), again.seen
    names = set(account_rows(ok("account", "list", "--config", str(config))))
    assert "demo@example.org" not in names and "admin@example.org" in names, names
