"""LMTP over real sockets: serve_lmtp on port 0, driven by smtplib.LMTP and raw sockets."""

from __future__ import annotations

import datetime
import ipaddress
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
import trio
import trio.testing
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from protocols.lmtp import Envelope, LmtpLimits, Reply, reply_for_kind
from protocols.lmtp.replies import parse_replies
from protocols.lmtp.server import serve_lmtp, serve_lmtp_connection
from store.errors import ErrorKind, MailError
from tests.support import CORPUS, needs_corpus

T = TypeVar("T")


@dataclass
class RecordingBackend:
    """Records what the server asks; behaviour keyed on the local part of the address."""

    delivered: list[tuple[Envelope, bytes]] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    gate: trio.Event | None = None  # when set, deliver waits for it

    async def check_recipient(self, address: str) -> Reply | None:
        self.checked.append(address)
        local = address.split("@")[0]
        if local == "unknown":
            return reply_for_kind(ErrorKind.NOT_FOUND)
        if local == "crash":
            raise RuntimeError("secret internals in check_recipient")
        return None

    async def deliver(self, envelope: Envelope, data: bytes) -> list[Reply]:
        if self.gate is not None:
            await self.gate.wait()
        locals_ = [r.split("@")[0] for r in envelope.recipients]
        if "explode" in locals_:
            raise RuntimeError("Traceback-worthy secret in deliver")
        if "busy" in locals_:
            raise MailError(ErrorKind.TEMPORARY, "store is busy")
        self.delivered.append((envelope, data))
        return [
            reply_for_kind(ErrorKind.OVER_QUOTA)
            if local == "full"
            else Reply(250, "2.0.0", f"<{rcpt}> delivered")
            for local, rcpt in zip(locals_, envelope.recipients, strict=True)
        ]

    async def verify(self, address: str) -> Reply:
        if address == "alice":
            return Reply(250, "2.1.5", "alice@example.com")
        return Reply(252, "2.0.0", "Cannot verify, will try")


async def start(
    nursery: trio.Nursery,
    backend: RecordingBackend,
    *,
    limits: LmtpLimits | None = None,
    ssl_context: ssl.SSLContext | None = None,
    idle_timeout: float = 30.0,
) -> int:
    listeners = await nursery.start(
        partial(
            serve_lmtp,
            backend,
            limits or LmtpLimits(),
            "127.0.0.1",
            0,
            ssl_context=ssl_context,
            hostname="mx.test",
            idle_timeout=idle_timeout,
        )
    )
    port: int = listeners[0].socket.getsockname()[1]
    return port


async def in_thread(fn: Callable[[], T]) -> T:
    return await trio.to_thread.run_sync(fn)


class RawClient:
    """A minimal line-oriented client on a trio stream."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buf = b""

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        client = cls(await trio.open_tcp_stream("127.0.0.1", port))
        greeting = await client.replies(1)
        assert greeting[0].code == 220
        return client

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def replies(self, count: int, timeout: float = 5.0) -> list[Reply]:
        with trio.fail_after(timeout):
            while True:
                complete = _complete_replies(self.buf)
                if len(complete) >= count:
                    break
                chunk = await self.stream.receive_some(65536)
                if not chunk:
                    raise EOFError(f"EOF after {self.buf!r}")
                self.buf += chunk
        data, self.buf = _split_replies(self.buf, count)
        return parse_replies(data)

    async def at_eof(self, timeout: float = 5.0) -> bool:
        """True when the peer closes without sending anything more."""
        with trio.fail_after(timeout):
            return await self.stream.receive_some(65536) == b""

    async def drain_to_eof(self, timeout: float = 5.0) -> bytes:
        """Everything the peer sends until it closes."""
        received = b""
        with trio.fail_after(timeout):
            while chunk := await self.stream.receive_some(65536):
                received += chunk
        return received


def _split_replies(buf: bytes, count: int) -> tuple[bytes, bytes]:
    pos = 0
    for _ in range(count):
        while True:
            end = buf.index(b"\r\n", pos) + 2
            last = buf[pos + 3 : pos + 4] == b" "
            pos = end
            if last:
                break
    return buf[:pos], buf[pos:]


def _complete_replies(buf: bytes) -> list[bytes]:
    out: list[bytes] = []
    start = pos = 0
    while (end := buf.find(b"\r\n", pos)) >= 0:
        if buf[pos + 3 : pos + 4] == b" ":
            out.append(buf[start : end + 2])
            start = end + 2
        pos = end + 2
    return out


def lmtp_client(port: int) -> smtplib.LMTP:
    client = smtplib.LMTP("127.0.0.1", port)
    client.timeout = 10
    return client


MESSAGE = b"From: a@example.org\r\nSubject: test\r\n\r\nHello\r\n.leading dot\r\n"


# ------------------------------------------------------------------ smtplib.LMTP


async def test_smtplib_delivers_a_message(nursery: trio.Nursery) -> None:
    backend = RecordingBackend()
    port = await start(nursery, backend)

    def client() -> dict[str, tuple[int, bytes]]:
        with lmtp_client(port) as lmtp:
            lmtp.ehlo("client.test")  # smtplib.LMTP sends LHLO
            assert lmtp.has_extn("pipelining") and lmtp.has_extn("chunking")
            assert not lmtp.has_extn("starttls")
            return lmtp.sendmail(
                "sender@example.org", ["rcpt@example.com"], MESSAGE, mail_options=["BODY=8BITMIME"]
            )

    refused = await in_thread(client)
    assert refused == {}
    ((envelope, data),) = backend.delivered
    assert data == MESSAGE
    assert envelope.mail_from == "sender@example.org"
    assert envelope.recipients == ("rcpt@example.com",)
    assert envelope.lhlo_host == "client.test"
    assert envelope.params.body == "8BITMIME"
    assert envelope.params.size == len(MESSAGE)  # smtplib adds SIZE= from LHLO's SIZE
    assert envelope.peer.startswith("127.0.0.1:")
    assert not envelope.tls_active


async def test_per_recipient_replies_after_data(nursery: trio.Nursery) -> None:
    backend = RecordingBackend()
    port = await start(nursery, backend)

    def client() -> list[tuple[int, bytes]]:
        with lmtp_client(port) as lmtp:
            lmtp.ehlo("client.test")
            out = [lmtp.mail("sender@example.org")]
            for rcpt in ["ok@example.com", "unknown@example.com", "full@example.com"]:
                out.append(lmtp.rcpt(rcpt))
            # RFC 2033 §4.2: one reply per accepted recipient; smtplib reads only the first.
            out.append(lmtp.data(MESSAGE))
            out.append(lmtp.getreply())
            out.append(lmtp.noop())  # still in sync
            return out

    replies = await in_thread(client)
    codes = [(code, text.split(b" ")[0]) for code, text in replies]
    assert codes == [
        (250, b"2.1.0"),
        (250, b"2.1.5"),
        (550, b"5.1.1"),
        (250, b"2.1.5"),
        (250, b"2.0.0"),
        (452, b"4.2.2"),  # over quota: transient for this recipient, the other one delivered
        (250, b"2.0.0"),
    ]
    assert backend.checked == ["ok@example.com", "unknown@example.com", "full@example.com"]
    assert backend.delivered[0][0].recipients == ("ok@example.com", "full@example.com")


async def test_backend_exceptions_never_reach_the_wire(nursery: trio.Nursery) -> None:
    backend = RecordingBackend()
    port = await start(nursery, backend)

    def client() -> list[tuple[int, bytes]]:
        with lmtp_client(port) as lmtp:
            lmtp.ehlo("client.test")
            out = [lmtp.mail("s@example.org"), lmtp.rcpt("crash@example.com")]
            out += [lmtp.rcpt("a@example.com"), lmtp.rcpt("explode@example.com")]
            out += [lmtp.data(MESSAGE), lmtp.getreply()]
            out += [lmtp.mail("s@example.org"), lmtp.rcpt("busy@example.com"), lmtp.data(b"x")]
            out.append(lmtp.noop())
            return out

    replies = await in_thread(client)
    assert [code for code, _ in replies] == [250, 451, 250, 250, 451, 451, 250, 250, 451, 250]
    for code, text in replies:
        if code == 451:
            assert text.startswith(b"4.3.0 ")
            assert b"secret" not in text and b"Traceback" not in text
    assert b"(ref " in replies[1][1] and b"(ref " in replies[4][1]
    assert backend.delivered == []


@needs_corpus
async def test_corpus_messages_arrive_byte_for_byte(nursery: trio.Nursery) -> None:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md")
    backend = RecordingBackend()
    port = await start(nursery, backend)
    normalised = []
    for path in files:
        crlf = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        normalised.append(crlf if crlf.endswith(b"\r\n") else crlf + b"\r\n")

    def client() -> None:
        with lmtp_client(port) as lmtp:
            for message in normalised:
                assert lmtp.sendmail("s@example.org", ["r@example.com"], message) == {}

    await in_thread(client)
    assert [data for _, data in backend.delivered] == normalised


async def test_starttls_with_smtplib(nursery: trio.Nursery, tls: TlsFiles) -> None:
    backend = RecordingBackend()
    port = await start(nursery, backend, ssl_context=tls.server_context())

    def client() -> tuple[bool, bool]:
        with lmtp_client(port) as lmtp:
            lmtp.ehlo("client.test")
            advertised = lmtp.has_extn("starttls")
            lmtp.starttls(context=tls.client_context())
            lmtp.ehlo("client.test")  # after TLS the session restarts (RFC 3207 §4.2)
            still_advertised = lmtp.has_extn("starttls")
            assert lmtp.sendmail("s@example.org", ["r@example.com"], MESSAGE) == {}
            return advertised, still_advertised

    advertised, still_advertised = await in_thread(client)
    assert advertised and not still_advertised
    ((envelope, data),) = backend.delivered
    assert envelope.tls_active and data == MESSAGE


# ------------------------------------------------------------------ raw sockets


async def test_pipelined_batch_with_bdat_over_a_socket(nursery: trio.Nursery) -> None:
    backend = RecordingBackend()
    port = await start(nursery, backend)
    client = await RawClient.connect(port)
    binary = bytes(range(256)) + b"\r\n.\r\n"
    await client.send(
        b"LHLO raw.test\r\nMAIL FROM:<> BODY=BINARYMIME\r\nRCPT TO:<x@example.com>\r\n"
        b"RCPT TO:<y@example.com>\r\nBDAT 100\r\n"
        + binary[:100]
        + b"BDAT %d LAST\r\n" % (len(binary) - 100)
        + binary[100:]
        + b"VRFY alice\r\nQUIT\r\n"
    )
    replies = await client.replies(9)
    assert [r.code for r in replies] == [250, 250, 250, 250, 250, 250, 250, 250, 221]
    assert replies[4].text == "100 octets received"
    assert replies[7] == Reply(250, "2.1.5", "alice@example.com")
    assert await client.at_eof()
    ((envelope, data),) = backend.delivered
    assert data == binary
    assert envelope.mail_from == "" and envelope.params.body == "BINARYMIME"


async def test_idle_timeout_sends_421(nursery: trio.Nursery) -> None:
    port = await start(nursery, RecordingBackend(), idle_timeout=0.3)
    client = await RawClient.connect(port)
    await client.send(b"LHLO raw.test\r\n")
    assert (await client.replies(1))[0].code == 250
    (reply,) = await client.replies(1, timeout=5)
    assert (reply.code, reply.enhanced) == (421, "4.4.2")
    assert await client.at_eof()


async def test_ack_only_after_deliver_returns(nursery: trio.Nursery) -> None:
    backend = RecordingBackend(gate=trio.Event())
    port = await start(nursery, backend)
    client = await RawClient.connect(port)
    await client.send(b"LHLO raw.test\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@b.c>\r\nDATA\r\n")
    assert [r.code for r in await client.replies(4)] == [250, 250, 250, 354]
    await client.send(b"body\r\n.\r\n")
    with pytest.raises(trio.TooSlowError):
        await client.replies(1, timeout=0.3)  # deliver has not returned: no acknowledgement
    assert backend.delivered == []
    assert backend.gate is not None
    backend.gate.set()
    assert (await client.replies(1))[0] == Reply(250, "2.0.0", "<x@b.c> delivered")
    assert backend.delivered[0][1] == b"body\r\n"


async def test_disconnect_mid_data_delivers_nothing(nursery: trio.Nursery) -> None:
    backend = RecordingBackend()
    port = await start(nursery, backend)
    client = await RawClient.connect(port)
    await client.send(b"LHLO r\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@b.c>\r\nDATA\r\npartial\r\n")
    await client.replies(4)
    await client.stream.aclose()
    # the server is still serving other clients
    other = await RawClient.connect(port)
    await other.send(b"NOOP\r\n")
    assert (await other.replies(1))[0].code == 250
    assert backend.delivered == []


async def test_failed_tls_handshake_closes_only_that_connection(
    nursery: trio.Nursery, tls: TlsFiles
) -> None:
    port = await start(nursery, RecordingBackend(), ssl_context=tls.server_context())
    client = await RawClient.connect(port)
    await client.send(b"LHLO r\r\nSTARTTLS\r\n")
    assert [r.code for r in await client.replies(2)] == [250, 220]
    await client.send(b"this is not a TLS ClientHello\r\n" * 10)
    leftover = await client.drain_to_eof()  # at most a TLS alert record, never LMTP text
    assert b"LMTP" not in leftover and b"\r\n" not in leftover
    other = await RawClient.connect(port)
    await other.send(b"LHLO r\r\n")
    assert "STARTTLS" in (await other.replies(1))[0].lines()


async def test_concurrent_clients(nursery: trio.Nursery) -> None:
    backend = RecordingBackend()
    port = await start(nursery, backend)

    def client(n: int) -> None:
        with lmtp_client(port) as lmtp:
            for i in range(15):
                body = b"Subject: %d/%d\r\n\r\nhi\r\n" % (n, i)
                assert lmtp.sendmail("s@example.org", [f"u{n}@example.com"], body) == {}

    async with trio.open_nursery() as clients:
        for n in range(4):
            clients.start_soon(trio.to_thread.run_sync, partial(client, n))
    assert len(backend.delivered) == 60
    subjects = {data.split(b"\r\n")[0] for _, data in backend.delivered}
    assert len(subjects) == 60


async def test_serve_connection_over_memory_streams() -> None:
    server_stream, client_stream = trio.testing.memory_stream_pair()
    backend = RecordingBackend()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            partial(
                serve_lmtp_connection,
                server_stream,
                backend,
                LmtpLimits(max_bad_commands=2),
                hostname="mem.test",
                peer="memory",
            )
        )
        client = RawClient(client_stream)
        assert (await client.replies(1))[0].text == "mem.test LMTP service ready"
        await client.send(b"EHLO x\r\nFOO\r\nBAR\r\n")
        codes = [(r.code, r.enhanced) for r in await client.replies(3)]
        assert codes == [(500, "5.5.1"), (500, "5.5.2"), (421, "4.7.0")]
        assert await client.at_eof()


# ------------------------------------------------------------------ TLS material


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files
