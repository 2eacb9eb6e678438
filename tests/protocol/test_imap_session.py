"""IMAP connection-level transcripts over real sockets: greeting, CAPABILITY, authentication
(LOGIN, AUTHENTICATE PLAIN/LOGIN with and without SASL-IR), STARTTLS, implicit TLS, COMPRESS,
ENABLE, ID, NAMESPACE, the state table, and the limits (bad commands, idle timeout, LIMIT)."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import pytest

from .imap_support import PASSWORD, Env, ImapWire, running_server

R = re.compile


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_greeting_and_capability(env: Env) -> None:
    w = env.connect()
    assert w.greeting.startswith("* OK [CAPABILITY IMAP4rev2 IMAP4rev1 ")
    caps = w.greeting.split("]", 1)[0].split()[2:]
    for cap in ("STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR", "LITERAL+", "IDLE", "ID"):
        assert cap in caps
    assert "COMPRESS=DEFLATE" not in caps  # only once authenticated
    r = w.cmd("a1 CAPABILITY")
    r.expect(
        [R(r"\* CAPABILITY IMAP4rev2 IMAP4rev1 .* STARTTLS AUTH=PLAIN .*")],
        "a1 OK CAPABILITY completed",
    )
    w.cmd("a2 NOOP").expect([], "a2 OK NOOP completed")
    w.cmd("a3 LOGOUT").expect(["* BYE Logging out"], "a3 OK LOGOUT completed")
    assert w.closed()


def test_login_and_capabilities_after(env: Env) -> None:
    user = env.user()
    w = env.connect()
    r = w.cmd(f'a1 LOGIN {user} "{PASSWORD}"')
    r.expect([], R(r"a1 OK \[CAPABILITY IMAP4rev2 .*COMPRESS=DEFLATE\] Logged in"))
    assert "STARTTLS" not in r.tagged and "AUTH=PLAIN" not in r.tagged
    # LOGIN is not valid once authenticated (RFC 9051 §6.2.3, §3 state table).
    w.cmd(f'a2 LOGIN {user} "{PASSWORD}"').expect(
        [], "a2 BAD Command not valid in the authenticated state"
    )


def test_login_wrong_password(env: Env) -> None:
    user = env.user()
    w = env.connect()
    w.cmd(f"a1 LOGIN {user} wrong").expect([], "a1 NO [AUTHENTICATIONFAILED] Authentication failed")
    w.cmd("a2 LOGIN nobody@example.org wrong").expect(
        [], "a2 NO [AUTHENTICATIONFAILED] Authentication failed"
    )
    w.login(user, tag="a3")


def test_login_with_literals(env: Env) -> None:
    user = env.user()
    w = env.connect()
    r = w.cmd_literals("a1 LOGIN ", user, " ", PASSWORD, "")
    assert r.status == "OK", str(r)
    w2 = env.connect()
    r = w2.cmd_literals("b1 LOGIN ", user, " ", PASSWORD, "", plus=True)  # LITERAL+
    assert r.status == "OK", str(r)


def test_authenticate_plain_sasl_ir(env: Env) -> None:
    user = env.user()
    w = env.connect()
    r = w.cmd(f"a1 AUTHENTICATE PLAIN {b64(f'{chr(0)}{user}{chr(0)}{PASSWORD}'.encode())}")
    r.expect([], R(r"a1 OK \[CAPABILITY IMAP4rev2 .*\] Logged in"))
    w.cmd("a2 SELECT INBOX").expect(
        [
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] "
            "Flags permitted",
            "* 0 EXISTS",
            "* 0 RECENT",
            R(r"\* OK \[UIDVALIDITY \d+\] UIDs valid"),
            "* OK [UIDNEXT 1] Predicted next UID",
            R(r"\* OK \[HIGHESTMODSEQ \d+\] Highest"),
            R(r"\* OK \[MAILBOXID \(\S+\)\] Ok"),
        ],
        "a2 OK [READ-WRITE] SELECT completed",
    )


def test_authenticate_plain_with_continuation(env: Env) -> None:
    user = env.user()
    w = env.connect()
    w.send("a1 AUTHENTICATE PLAIN\r\n")
    assert w.read_line() == "+ "
    w.send(b64(f"\0{user}\0{PASSWORD}".encode()) + "\r\n")
    r = w.read_until_tagged("a1")
    r.expect([], R(r"a1 OK \[CAPABILITY .*\] Logged in"))


def test_authenticate_plain_authzid(env: Env) -> None:
    user = env.user()
    w = env.connect()
    r = w.cmd(f"a1 AUTHENTICATE PLAIN {b64(f'{user}{chr(0)}{user}{chr(0)}{PASSWORD}'.encode())}")
    assert r.status == "OK"
    w2 = env.connect()
    r = w2.cmd(f"b1 AUTHENTICATE PLAIN {b64(f'other@x{chr(0)}{user}{chr(0)}{PASSWORD}'.encode())}")
    r.expect([], "b1 NO [AUTHORIZATIONFAILED] Not authorized to act as that user")


def test_authenticate_wrong_password_and_garbage(env: Env) -> None:
    user = env.user()
    w = env.connect()
    w.cmd(f"a1 AUTHENTICATE PLAIN {b64(f'{chr(0)}{user}{chr(0)}nope'.encode())}").expect(
        [], "a1 NO [AUTHENTICATIONFAILED] Authentication failed"
    )
    w.cmd("a2 AUTHENTICATE PLAIN !!!notbase64").expect([], R(r"a2 BAD .*"))
    w.send("a3 AUTHENTICATE PLAIN\r\n")
    w.read_continuation()
    w.send("%%%\r\n")
    w.read_until_tagged("a3").expect([], "a3 BAD Invalid base64 data")
    w.cmd("a4 AUTHENTICATE CRAM-MD5").expect(
        [], "a4 NO [CANNOT] Unsupported authentication mechanism CRAM-MD5"
    )
    w.login(user, tag="a5")


def test_authenticate_cancel(env: Env) -> None:
    user = env.user()
    w = env.connect()
    w.send("a1 AUTHENTICATE PLAIN\r\n")
    w.read_continuation()
    w.send("*\r\n")  # RFC 9051 §6.2.2: the client cancels with "*"
    w.read_until_tagged("a1").expect([], "a1 BAD Authentication cancelled")
    w.cmd("a2 NOOP").expect([], "a2 OK NOOP completed")
    w.login(user, tag="a3")


def test_authenticate_login_mechanism(env: Env) -> None:
    user = env.user()
    w = env.connect()
    w.send("a1 AUTHENTICATE LOGIN\r\n")
    assert w.read_line() == "+ " + b64(b"Username:")
    w.send(b64(user.encode()) + "\r\n")
    assert w.read_line() == "+ " + b64(b"Password:")
    w.send(b64(PASSWORD.encode()) + "\r\n")
    w.read_until_tagged("a1").expect([], R(r"a1 OK \[CAPABILITY .*\] Logged in"))
    # With an initial response (the user name), only the password is asked.
    w2 = env.connect()
    w2.send(f"b1 AUTHENTICATE LOGIN {b64(user.encode())}\r\n")
    assert w2.read_line() == "+ " + b64(b"Password:")
    w2.send(b64(b"wrong") + "\r\n")
    w2.read_until_tagged("b1").expect([], "b1 NO [AUTHENTICATIONFAILED] Authentication failed")


def test_state_table_errors(env: Env) -> None:
    user = env.user()
    w = env.connect()
    for i, command in enumerate(
        [
            "SELECT INBOX",
            'LIST "" *',
            "FETCH 1 FLAGS",
            "ENABLE IMAP4rev2",
            "IDLE",
            "STATUS INBOX (MESSAGES)",
        ]
    ):
        w.cmd(f"n{i} {command}").expect(
            [], f"n{i} BAD Command not valid in the not authenticated state"
        )
    w.login(user)
    for i, command in enumerate(
        [
            "FETCH 1 FLAGS",
            "STORE 1 +FLAGS (\\Seen)",
            "SEARCH ALL",
            "EXPUNGE",
            "CLOSE",
            "UNSELECT",
            "CHECK",
        ]
    ):
        w.cmd(f"s{i} {command}").expect(
            [], f"s{i} BAD Command not valid in the authenticated state"
        )
    w.cmd("t1 STARTTLS").expect([], "t1 BAD Command not valid in the authenticated state")


def test_garbage_gets_bad_with_text(env: Env) -> None:
    w = env.connect()
    r = w.cmd("a1 FROBNICATE")
    assert re.fullmatch(r"a1 BAD .+", r.tagged), r.tagged
    assert "FROBNICATE" in r.tagged.upper() or "unknown" in r.tagged.lower()
    w.send("\r\n")
    line = w.read_line()
    assert line.startswith("* BAD "), line
    w.send("no-space-here\r\n")
    line = w.read_line()
    assert re.fullmatch(r"(\* |no-space-here )BAD .+", line), line
    w.cmd("a2 NOOP").expect([], "a2 OK NOOP completed")


def test_too_many_bad_commands_bye(env: Env) -> None:
    w = env.connect()
    lines = []
    for i in range(25):
        try:
            w.send(f"x{i} BOGUS\r\n")
            lines.append(w.read_line())
        except (EOFError, OSError):
            break
        if lines[-1].startswith("* BYE"):
            break
    assert lines[-1] == "* BYE Too many invalid commands", lines[-3:]
    assert all(ln.startswith("x") and " BAD " in ln for ln in lines[:-1])
    assert w.closed()


def test_id_namespace_and_enable(env: Env) -> None:
    user = env.user()
    w = env.connect()
    w.cmd('a1 ID ("name" "pytest" "version" "1")').expect(
        ['* ID ("name" "stalwart-py" "version" "0.1.0")'], "a1 OK ID completed"
    )
    w.cmd("a2 ID NIL").expect([R(r"\* ID \(.*\)")], "a2 OK ID completed")
    w.login(user)
    w.cmd("a3 NAMESPACE").expect(['* NAMESPACE (("" "/")) NIL NIL'], "a3 OK NAMESPACE completed")
    w.cmd("a4 ENABLE IMAP4rev2 UTF8=ACCEPT X-UNKNOWN").expect(
        ["* ENABLED IMAP4rev2 UTF8=ACCEPT"], "a4 OK ENABLE completed"
    )
    # Enabling again reports nothing new (RFC 5161 §3.1).
    w.cmd("a5 ENABLE IMAP4rev2").expect(["* ENABLED"], "a5 OK ENABLE completed")
    w.cmd("a6 ENABLE QRESYNC").expect(["* ENABLED QRESYNC"], "a6 OK ENABLE completed")


def test_starttls(env: Env) -> None:
    user = env.user()
    w = env.connect()
    w.cmd("a1 STARTTLS").expect([], "a1 OK Begin TLS negotiation now")
    w.starttls()
    r = w.cmd("a2 CAPABILITY")
    caps = r.untagged[0].split()
    assert "STARTTLS" not in caps and "AUTH=PLAIN" in caps
    w.cmd("a3 STARTTLS").expect([], "a3 BAD TLS is already active")
    w.login(user, tag="a4")
    w.cmd("a5 SELECT INBOX")
    w.cmd("a6 LOGOUT").expect(["* BYE Logging out"], "a6 OK LOGOUT completed")


def test_implicit_tls(env: Env) -> None:
    user = env.user()
    w = env.connect(tls=True)
    assert w.greeting.startswith("* OK [CAPABILITY IMAP4rev2")
    assert "STARTTLS" not in w.greeting and "AUTH=PLAIN" in w.greeting
    w.login(user)
    w.cmd("a1 NOOP").expect([], "a1 OK NOOP completed")


def test_compress_deflate(env: Env) -> None:
    user = env.user()
    env.deliver(user, b"Subject: zipped\r\n\r\nbody " + b"x" * 5000 + b"\r\n")
    w = env.session(user)
    w.cmd("a1 COMPRESS DEFLATE").expect([], "a1 OK DEFLATE active")
    w.start_deflate()
    w.cmd("a2 SELECT INBOX")
    r = w.cmd("a3 FETCH 1 (BODY.PEEK[TEXT])")
    assert r.lines == ["* 1 FETCH (BODY[TEXT] {5007}\r\nbody " + "x" * 5000 + "\r\n)"]
    r = w.cmd("a4 CAPABILITY")
    assert "COMPRESS=DEFLATE" not in r.untagged[0]
    w.cmd("a5 COMPRESS DEFLATE").expect(
        [], "a5 NO [COMPRESSIONACTIVE] Compression is already active"
    )
    w.cmd("a6 LOGOUT").expect(["* BYE Logging out"], "a6 OK LOGOUT completed")


def test_compress_unknown_mechanism(env: Env) -> None:
    user = env.user()
    w = env.session(user)
    w.cmd("a1 COMPRESS LZMA").expect([], "a1 NO [CANNOT] Unsupported compression mechanism")
    w.cmd("a2 NOOP").expect([], "a2 OK NOOP completed")


def test_connection_limit_per_user(tmp_path: Path) -> None:
    with running_server(tmp_path / "d", {"STALWART_IMAP_MAX_CONNECTIONS_PER_USER": "2"}) as srv:
        env = Env(srv)
        user = env.user()
        env.session(user)
        w2 = env.session(user)
        w3 = env.connect()
        w3.cmd(f'a1 LOGIN {user} "{PASSWORD}"').expect(
            [], "a1 NO [LIMIT] Too many connections for this user"
        )
        w2.cmd("z LOGOUT")
        assert w2.closed()
        # The slot is released when the connection ends.
        deadline = time.monotonic() + 5
        while True:
            r = w3.cmd(f'a2 LOGIN {user} "{PASSWORD}"')
            if r.status == "OK" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert r.status == "OK", str(r)
        env.close_all()


def test_idle_timeout_bye(tmp_path: Path) -> None:
    with running_server(tmp_path / "d", {"STALWART_IMAP_IDLE_TIMEOUT": "0.5s"}) as srv:
        env = Env(srv)
        w = env.connect()
        started = time.monotonic()
        assert w.read_line() == "* BYE Idle timeout, closing connection"
        assert time.monotonic() - started < 5
        assert w.closed()
        env.close_all()


def test_plaintext_auth_disabled(tmp_path: Path) -> None:
    with running_server(tmp_path / "d", {"STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "false"}) as srv:
        env = Env(srv)
        user = env.user()
        w = env.connect()
        assert "LOGINDISABLED" in w.greeting and "AUTH=PLAIN" not in w.greeting
        w.cmd(f'a1 LOGIN {user} "{PASSWORD}"').expect(
            [], "a1 NO [PRIVACYREQUIRED] Authentication requires TLS (STARTTLS)"
        )
        w.cmd(f"a2 AUTHENTICATE PLAIN {b64(f'{chr(0)}{user}{chr(0)}{PASSWORD}'.encode())}").expect(
            [], "a2 NO [PRIVACYREQUIRED] Authentication requires TLS (STARTTLS)"
        )
        w.cmd("a3 STARTTLS").expect([], "a3 OK Begin TLS negotiation now")
        w.starttls()
        r = w.cmd("a4 CAPABILITY")
        assert "LOGINDISABLED" not in r.untagged[0] and "AUTH=PLAIN" in r.untagged[0]
        w.login(user, tag="a5")
        # Implicit TLS allows authentication too.
        w2 = env.connect(tls=True)
        assert "LOGINDISABLED" not in w2.greeting
        w2.login(user)
        env.close_all()


def test_session_never_drops_without_bye(env: Env) -> None:
    """A command line over the limit, odd literals and binary junk: replies, never a silent drop."""
    user = env.user()
    w = env.session(user)
    w.send(b"a1 NOOP \x00\xff\xfe\r\n")
    line = w.read_line()
    assert re.fullmatch(r"(a1|\*) BAD .+", line), line
    w.send("a2 LOGIN {99999999999999999999}\r\n")
    line = w.read_line()
    assert re.fullmatch(r"(a2|\*) (BAD|NO) .+", line), line
    w.cmd("a3 NOOP").expect([], "a3 OK NOOP completed")
    w.cmd("a4 LOGOUT")
    assert "Traceback" not in w.text()


def test_imaps_raw_bytes(env: Env) -> None:
    """A plain-text client on the implicit-TLS port just gets disconnected; the server lives on."""
    w = ImapWire.connect(env.tls_port, greeting=False)
    w.send("a1 CAPABILITY\r\n")
    w.set_timeout(5)
    assert w.closed()
    w.close()
    user = env.user()
    env.connect(tls=True).login(user)


def test_server_shutdown_sends_bye(tmp_path: Path) -> None:
    with running_server(tmp_path / "d") as srv:
        env = Env(srv)
        user = env.user()
        plain = env.session(user)
        idler = env.session(user)
        idler.cmd("a1 SELECT INBOX")
        idler.send("a2 IDLE\r\n")
        assert idler.read_line().startswith("+ ")
        tls = env.connect(tls=True)
    # The server stopped: every connection was told why (RFC 9051 §7.1.5).
    for wire in (plain, idler, tls):
        assert wire.read_line() == "* BYE Server shutting down"
        assert wire.closed()
    env.close_all()


def test_disconnect_during_idle_is_quiet(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    user = env.user()
    w = env.session(user)
    w.cmd("a1 SELECT INBOX")
    w.send("a2 IDLE\r\n")
    assert w.read_line().startswith("+ ")
    w.close()
    env.deliver(user, b"Subject: wake the idler\r\n\r\nx\r\n")  # news for a closed socket
    w2 = env.session(user)
    w2.cmd("b1 NOOP").expect([], "b1 OK NOOP completed")
    time.sleep(0.2)
    errors = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert errors == [], [r.getMessage() for r in errors]


def test_idle_timeout_during_idle(tmp_path: Path) -> None:
    overrides = {"STALWART_IMAP_IDLE_TIMEOUT": "0.6s", "STALWART_IMAP_IDLE_KEEPALIVE": "0.2s"}
    with running_server(tmp_path / "d", overrides) as srv:
        env = Env(srv)
        w = env.session(env.user())
        w.send("a1 IDLE\r\n")
        assert w.read_line().startswith("+ ")
        lines: list[str] = []
        while not lines or not lines[-1].startswith("* BYE"):
            lines.append(w.read_line())
        assert set(lines[:-1]) <= {"* OK Still here"} and len(lines) >= 2, lines
        assert lines[-1] in ("* BYE Idle timeout, closing connection", "* BYE IDLE timeout")
        assert w.closed()
        env.close_all()


def test_starttls_discards_pipelined_commands(env: Env) -> None:
    """Commands pipelined behind STARTTLS in clear text are not executed (RFC 9051 §6.2.1)."""
    user = env.user()
    w = env.connect()
    w.send(f'a1 STARTTLS\r\na2 LOGIN {user} "{PASSWORD}"\r\n')
    w.read_until_tagged("a1").expect([], "a1 OK Begin TLS negotiation now")
    w.starttls()
    w.cmd("a3 NOOP").expect([], "a3 OK NOOP completed")
    w.cmd("a4 SELECT INBOX").expect([], "a4 BAD Command not valid in the not authenticated state")
