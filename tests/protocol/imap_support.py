"""A small IMAP transcript helper: exact client lines over a raw socket, exact server lines back.

``ImapWire`` sends what a test writes (tags included), reads until the tagged reply, and hands
back every line (literals inlined).  ``Reply.expect`` compares those lines with a list of
expectations: strings must match exactly, compiled regexes must ``fullmatch``.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from stalwart_py.accounts import Directory
from stalwart_py.server import passwords_for

from ..support import ServerThread, make_config

PASSWORD = "secret-pw-123"
TIMEOUT = 10.0
Expect = str | re.Pattern[str]


@dataclass
class Reply:
    """The server lines for one command: untagged/continuation lines, then the tagged line."""

    lines: list[str] = field(default_factory=list)
    tagged: str = ""

    @property
    def status(self) -> str:
        return self.tagged.split(" ", 2)[1] if self.tagged else ""

    @property
    def untagged(self) -> list[str]:
        return [ln for ln in self.lines if ln.startswith("* ")]

    def expect(self, untagged: Sequence[Expect], tagged: Expect) -> Reply:
        """Every line, in order, exactly as given (strings) or matching (regexes)."""
        _match_all(self.lines, untagged, "untagged")
        _match_one(self.tagged, tagged, "tagged")
        return self

    def find(self, pattern: str) -> re.Match[str]:
        """The first line matching ``pattern`` (a regex, ``fullmatch``)."""
        for ln in self.lines:
            m = re.fullmatch(pattern, ln, re.DOTALL)
            if m:
                return m
        raise AssertionError(f"no line matches {pattern!r} in {self.lines!r}")

    def has(self, pattern: str) -> bool:
        return any(re.fullmatch(pattern, ln, re.DOTALL) for ln in self.lines)

    def __str__(self) -> str:
        return "\n".join([*self.lines, self.tagged])


def _match_one(line: str, want: Expect, what: str) -> None:
    if isinstance(want, re.Pattern):
        assert want.fullmatch(line), f"{what} line {line!r} does not match {want.pattern!r}"
    else:
        assert line == want, f"{what} line {line!r} != {want!r}"


def _match_all(lines: list[str], wants: Sequence[Expect], what: str) -> None:
    assert len(lines) == len(wants), f"{what}: got {len(lines)} lines {lines!r}, want {wants!r}"
    for line, want in zip(lines, wants, strict=True):
        _match_one(line, want, what)


class ImapWire:
    """A blocking raw IMAP client: sends bytes verbatim, reads CRLF lines with literals."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket | ssl.SSLSocket = sock
        self.buf = b""
        self.transcript: list[bytes] = []  # everything received, for "no Traceback" checks
        self._deflate: zlib._Compress | None = None
        self._inflate: zlib._Decompress | None = None
        self.greeting = ""

    @classmethod
    def connect(cls, port: int, *, tls: bool = False, greeting: bool = True) -> ImapWire:
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        wire = cls(sock)
        if tls:
            wire.sock = client_tls().wrap_socket(sock, server_hostname="mx.test")
        if greeting:
            wire.greeting = wire.read_line()
        return wire

    # -- transport ----------------------------------------------------------------------------
    def send(self, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        if self._deflate is not None:
            raw = self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(raw)

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError(f"connection closed; buffer {self.buf!r}")
        if self._inflate is not None:
            data = self._inflate.decompress(data)
        self.transcript.append(data)
        return data

    def starttls(self) -> None:
        assert not self.buf, f"bytes pipelined before TLS: {self.buf!r}"
        assert isinstance(self.sock, socket.socket)
        self.sock = client_tls().wrap_socket(self.sock, server_hostname="mx.test")

    def start_deflate(self) -> None:
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._inflate = zlib.decompressobj(-15)
        if self.buf:
            self.buf = self._inflate.decompress(self.buf)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def set_timeout(self, seconds: float) -> None:
        self.sock.settimeout(seconds)

    # -- reading ------------------------------------------------------------------------------
    def read_line(self) -> str:
        """One response line, literals inlined (``{n}\\r\\n`` + n octets), without the CRLF."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self.buf += self._recv()
            line, self.buf = self.buf.split(b"\r\n", 1)
            m = re.search(rb"~?\{(\d+)\}$", line)
            if not m:
                return (out + line).decode("utf-8", "replace")
            n = int(m.group(1))
            while len(self.buf) < n:
                self.buf += self._recv()
            out += line + b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]

    def read_until_tagged(self, tag: str) -> Reply:
        reply = Reply()
        while True:
            line = self.read_line()
            if line.startswith(tag + " "):
                reply.tagged = line
                return reply
            reply.lines.append(line)

    def read_continuation(self) -> str:
        line = self.read_line()
        assert line.startswith("+"), f"expected a continuation, got {line!r}"
        return line

    def closed(self) -> bool:
        """True if the server closed the connection (after reading what it still sent)."""
        try:
            while True:
                self.buf += self._recv()
        except (EOFError, ConnectionResetError):  # RST: the server closed with input unread
            return True
        except (TimeoutError, OSError):
            return False

    # -- commands -----------------------------------------------------------------------------
    def cmd(self, line: str | bytes) -> Reply:
        """Sends one command line (tag first) and reads to its tagged reply."""
        raw = line.encode() if isinstance(line, str) else line
        self.send(raw + b"\r\n")
        tag = raw.split(b" ", 1)[0].decode()
        return self.read_until_tagged(tag)

    def cmd_literals(self, *pieces: str | bytes, plus: bool = False, binary: bool = False) -> Reply:
        """A command with literals: ``pieces`` alternate text and literal data, starting and
        ending with text.  Synchronising literals wait for the server's ``+``; with ``plus``
        they are LITERAL+ (``{n+}``); with ``binary`` they are literal8 (``~{n}``)."""
        assert len(pieces) % 2 == 1, "text, literal, text, ..., text"
        first = pieces[0]
        assert isinstance(first, str)
        tag = first.split(" ", 1)[0]
        pending = first.encode()
        for i in range(1, len(pieces), 2):
            data = pieces[i]
            data = data.encode() if isinstance(data, str) else data
            marker = ("~" if binary else "") + f"{{{len(data)}{'+' if plus else ''}}}"
            self.send(pending + marker.encode() + b"\r\n")
            if not plus:
                self.read_continuation()
            text = pieces[i + 1]
            pending = data + (text.encode() if isinstance(text, str) else text)
        self.send(pending + b"\r\n")
        return self.read_until_tagged(tag)

    def login(self, user: str, password: str = PASSWORD, tag: str = "L1") -> Reply:
        reply = self.cmd(f'{tag} LOGIN "{user}" "{password}"')
        assert reply.status == "OK", str(reply)
        return reply

    def text(self) -> str:
        return b"".join(self.transcript).decode("utf-8", "replace")


def client_tls() -> ssl.SSLContext:
    """An unverified client context (the test server uses a self-signed certificate)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# -- server and accounts ------------------------------------------------------------------------

BASE_OVERRIDES = {"STALWART_IMAP_ALLOW_PLAINTEXT_AUTH": "true"}


@contextmanager
def running_server(
    data_dir: Path, overrides: dict[str, str] | None = None
) -> Iterator[ServerThread]:
    srv = ServerThread(make_config(data_dir, {**BASE_OVERRIDES, **(overrides or {})})).start()
    try:
        yield srv
    finally:
        srv.stop()


class Env:
    """A running server plus helpers to create accounts, deliver mail and open connections."""

    def __init__(self, srv: ServerThread) -> None:
        """Wraps a started server."""
        self.srv = srv
        self.directory = Directory(srv.store, passwords_for(srv.cfg))
        self._n = 0
        self.wires: list[ImapWire] = []

    @property
    def port(self) -> int:
        assert self.srv.server is not None
        return self.srv.server.ports["imap"]

    @property
    def tls_port(self) -> int:
        assert self.srv.server is not None
        return self.srv.server.ports["imaps"]

    def user(self, quota: int = 0) -> str:
        self._n += 1
        address = f"u{self._n}@example.org"
        self.directory.create_account(address, PASSWORD, quota=quota)
        return address

    def connect(self, *, tls: bool = False) -> ImapWire:
        wire = ImapWire.connect(self.tls_port if tls else self.port, tls=tls)
        self.wires.append(wire)
        return wire

    def session(self, user: str) -> ImapWire:
        wire = self.connect()
        wire.login(user)
        return wire

    def deliver(self, rcpt: str, message: bytes) -> None:
        with smtplib.LMTP("127.0.0.1", self.srv.lmtp_port) as lmtp:
            lmtp.sendmail("sender@remote.test", [rcpt], message)

    def close_all(self) -> list[str]:
        """Closes every connection; the text each one received (for Traceback checks)."""
        texts = []
        for wire in self.wires:
            texts.append(wire.text())
            wire.close()
        self.wires.clear()
        return texts


def message(
    subject: str = "Hello",
    body: str = "Hello there.\r\n",
    *,
    sender: str = "alice@remote.test",
    to: str = "bob@example.org",
    date: str = "Mon, 7 Feb 1994 21:52:25 -0800",
    message_id: str | None = None,
    extra: str = "",
) -> bytes:
    mid = message_id or f"<{abs(hash((subject, body, extra)))}@remote.test>"
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
        f"Message-ID: {mid}\r\n{extra}"
    )
    return (head + "\r\n" + body).encode()


@contextmanager
def checked_env(data_dir: Path, overrides: dict[str, str] | None = None) -> Iterator[Env]:
    """A running server's :class:`Env`; on exit every session is closed and none of their
    transcripts may hold a traceback."""
    with running_server(data_dir, overrides) as srv:
        env = Env(srv)
        yield env
        for text in env.close_all():
            assert "Traceback" not in text
