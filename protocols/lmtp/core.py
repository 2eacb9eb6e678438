"""The sans-IO LMTP server core (RFC 2033), h11-style.

Usage::

    conn = LmtpConnection("mx.example", LmtpLimits(), tls_available=True)
    send(conn.data_to_send())                    # the 220 greeting
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            send(conn.data_to_send())            # replies are batched (RFC 2920)
            conn.receive_data(recv())            # b"" means EOF
        elif isinstance(event, RcptTo):
            conn.accept_rcpt() / conn.reject_rcpt(reply)
        elif isinstance(event, MessageComplete):
            conn.send_delivery_results([...])    # one reply per accepted recipient
        ...

The core answers everything it can on its own (syntax, sequence, limits, NOOP, RSET, QUIT) and
only asks the application about recipients, delivery, VRFY and the TLS handshake.  While such a
question is pending, ``next_event`` refuses to run: pipelined commands stay buffered so that the
replies go out in command order (RFC 2920 §3.1).  Every state change goes through the table in
:mod:`protocols.lmtp.state`.  The core never raises for anything the peer sends; it raises
:class:`LocalProtocolError` only when the application misuses it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import replies as R
from .errors import LocalProtocolError
from .events import (
    NEED_DATA,
    BodyType,
    ConnectionClosed,
    Event,
    Lhlo,
    MailFrom,
    MailParams,
    MessageComplete,
    Quit,
    RcptTo,
    Reset,
    StartTls,
    Vrfy,
    _NeedData,
)
from .paths import Mailbox, PathSyntaxError, parse_path, split_path
from .replies import Reply
from .state import State, Trigger, next_state

Step = Event | _NeedData | None

# While reading DATA, a line longer than this without a newline is passed on in pieces.
_FROM_RE = re.compile(r"FROM:[ ]*", re.IGNORECASE)
_TO_RE = re.compile(r"TO:[ ]*", re.IGNORECASE)
_KEYWORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
# esmtp-value = 1*(%d33-60 / %d62-126)  (RFC 5321 §4.1.2)
_VALUE_RE = re.compile(r"[\x21-\x3c\x3e-\x7e]+")
_SIZE_RE = re.compile(r"[0-9]{1,18}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_BODY_TYPES: dict[str, BodyType] = {
    "7BIT": "7BIT",
    "8BITMIME": "8BITMIME",
    "BINARYMIME": "BINARYMIME",
}
_NOT_IMPLEMENTED = frozenset(
    {"EXPN", "HELP", "TURN", "ETRN", "AUTH", "ATRN", "SEND", "SOML", "SAML"}
)


@dataclass(frozen=True, slots=True)
class LmtpLimits:
    max_line_length: int = 4096  # octets of a command line, CRLF included
    max_message_size: int = 50 * 1024 * 1024
    max_recipients: int = 100  # accepted recipients per transaction
    max_bad_commands: int = 20  # the next error after this many closes the session (421)


# Replies and paths repeat from one transaction to the next (the same "250 2.1.0", the same
# recipients); both functions are pure, so their results are memoised in small bounded tables.
_CACHE_MAX = 512
_REPLY_BYTES: dict[Reply, bytes] = {}
_PATHS: dict[tuple[str, bool], tuple[str, Mailbox | None]] = {}


def _reply_bytes(reply: Reply) -> bytes:
    data = _REPLY_BYTES.get(reply)
    if data is None:
        data = reply.to_bytes()
        if len(_REPLY_BYTES) < _CACHE_MAX:
            _REPLY_BYTES[reply] = data
    return data


def _parse_path_arg(text: str, allow_null: bool) -> tuple[str, Mailbox | None]:
    """``split_path`` + ``parse_path`` of a MAIL/RCPT argument: (parameters, mailbox); raises
    :class:`PathSyntaxError` (errors are not memoised)."""
    key = (text, allow_null)
    got = _PATHS.get(key)
    if got is None:
        path, param_text = split_path(text)
        got = (param_text, parse_path(path, allow_null=allow_null))
        if len(_PATHS) >= _CACHE_MAX:
            _PATHS.clear()
        _PATHS[key] = got
    return got


class _Pending(enum.Enum):
    NONE = "none"
    RCPT = "RcptTo"
    DELIVERY = "MessageComplete"
    VRFY = "Vrfy"
    TLS = "StartTls"


class _Mode(enum.Enum):
    COMMAND = "command"
    DATA = "data"  # reading dot-stuffed DATA lines
    CHUNK = "chunk"  # reading the octets of one BDAT chunk


class LmtpConnection:
    """One LMTP session, server side."""

    def __init__(
        self,
        hostname: str,
        limits: LmtpLimits | None = None,
        *,
        tls_available: bool = False,
        tls_active: bool = False,
        vrfy_enabled: bool = True,
    ) -> None:
        self.hostname = hostname
        self.limits = limits if limits is not None else LmtpLimits()
        self.tls_available = tls_available
        self._tls_active = tls_active
        self._vrfy_enabled = vrfy_enabled
        self._state = State.CONNECTED
        self._mode = _Mode.COMMAND
        self._pending = _Pending.NONE
        self._buf = bytearray()
        self._out = bytearray()
        self._eof = False
        self._closed_reported = False
        self._discarding_line = False
        self._bad_commands = 0
        self._lhlo_host: str | None = None
        self._pending_rcpt = ""
        # transaction
        self._mail_from: str | None = None
        self._mail_params = MailParams()
        self._recipients: list[str] = []
        self._chunks: list[bytes] = []
        self._size = 0
        self._oversize = False
        self._line_start = True
        self._chunk_remaining = 0
        self._chunk_size = 0
        self._chunk_last = False
        self._chunk_refusal: Reply | None = None
        # RFC 2034 §3: the greeting carries no enhanced status code.
        self._emit(Reply(220, "", f"{hostname} LMTP service ready"))

    # ---------------------------------------------------------------- inspection

    @property
    def state(self) -> State:
        return self._state

    @property
    def tls_active(self) -> bool:
        return self._tls_active

    @property
    def lhlo_host(self) -> str | None:
        return self._lhlo_host

    @property
    def mail_from(self) -> str | None:
        return self._mail_from

    @property
    def mail_params(self) -> MailParams:
        return self._mail_params

    @property
    def recipients(self) -> tuple[str, ...]:
        """The recipients accepted so far in this transaction, in order."""
        return tuple(self._recipients)

    @property
    def bad_commands(self) -> int:
        return self._bad_commands

    # ---------------------------------------------------------------- bytes in / out

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` signals EOF.  Ignored once the session is closed."""
        if self._state is State.CLOSED:
            return
        if self._eof:
            if data:
                raise LocalProtocolError("receive_data called after EOF")
            return
        if not data:
            self._eof = True
        else:
            self._buf += data

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_event(self) -> Event | _NeedData:
        if self._pending is not _Pending.NONE:
            raise LocalProtocolError(f"answer the pending {self._pending.value} event first")
        while True:
            if self._state is State.CLOSED:
                return ConnectionClosed()
            if self._mode is _Mode.DATA:
                step = self._read_data()
            elif self._mode is _Mode.CHUNK:
                step = self._read_chunk()
            else:
                step = self._read_command()
            if step is not None:
                return step

    # ---------------------------------------------------------------- application answers

    def accept_rcpt(self, reply: Reply | None = None) -> None:
        self._require(_Pending.RCPT)
        reply = reply if reply is not None else R.RECIPIENT_OK
        if reply.code // 100 != 2:
            raise LocalProtocolError(f"accept_rcpt needs a 2xx reply, got {reply.code}")
        self._pending = _Pending.NONE
        self._recipients.append(self._pending_rcpt)
        self._go(Trigger.RCPT_ACCEPTED)
        self._emit(reply)

    def reject_rcpt(self, reply: Reply) -> None:
        self._require(_Pending.RCPT)
        if reply.code < 400:
            raise LocalProtocolError(f"reject_rcpt needs a 4xx/5xx reply, got {reply.code}")
        self._pending = _Pending.NONE
        self._emit(reply)

    def send_delivery_results(self, results: Sequence[Reply]) -> None:
        """One reply per accepted recipient, in RCPT order (RFC 2033 §4.2)."""
        self._require(_Pending.DELIVERY)
        if len(results) != len(self._recipients):
            raise LocalProtocolError(
                f"{len(results)} delivery results for {len(self._recipients)} recipients"
            )
        for reply in results:
            if reply.code // 100 not in (2, 4, 5):
                raise LocalProtocolError(f"not a final reply: {reply.code}")
        self._pending = _Pending.NONE
        for reply in results:
            self._emit(reply)
        self._go(Trigger.DATA_DONE)
        self._reset_transaction()

    def answer_vrfy(self, reply: Reply) -> None:
        self._require(_Pending.VRFY)
        self._pending = _Pending.NONE
        self._emit(reply)

    def start_tls_done(self) -> None:
        """The TLS handshake succeeded: the session restarts, before LHLO (RFC 3207 §4.2)."""
        self._require(_Pending.TLS)
        self._pending = _Pending.NONE
        self._tls_active = True

    def abort(self, reply: Reply | None = None) -> None:
        """End the session now, optionally with a last reply (e.g. 421 4.4.2 idle timeout)."""
        if self._state is State.CLOSED:
            return
        self._pending = _Pending.NONE
        if reply is not None:
            self._emit(reply)
        self._go(Trigger.CLOSE)

    # ---------------------------------------------------------------- helpers

    def _require(self, pending: _Pending) -> None:
        if self._pending is not pending:
            raise LocalProtocolError(
                f"no pending {pending.value} event (pending: {self._pending.value})"
            )

    def _emit(self, reply: Reply) -> None:
        self._out += _reply_bytes(reply)

    def _allowed(self, trigger: Trigger) -> bool:
        return next_state(self._state, trigger) is not None

    def _go(self, trigger: Trigger) -> None:
        new = next_state(self._state, trigger)
        if new is None:  # a bug in this module, never the peer's doing
            raise LocalProtocolError(f"no transition {self._state.value} --{trigger.value}-->")
        self._state = new
        if new is State.CLOSED:
            self._buf.clear()
            self._mode = _Mode.COMMAND

    def _close(self) -> ConnectionClosed:
        self._go(Trigger.CLOSE)
        return ConnectionClosed()

    def _error(self, reply: Reply) -> Step:
        """Answer a peer error; too many of them end the session (421)."""
        self._bad_commands += 1
        if self._bad_commands > self.limits.max_bad_commands:
            self._emit(R.TOO_MANY_ERRORS)
            return self._close()
        self._emit(reply)
        return None

    def _bad_sequence(self, text: str | None = None) -> Step:
        return self._error(R.BAD_SEQUENCE if text is None else Reply(503, "5.5.1", text))

    def _reset_transaction(self) -> None:
        self._mail_from = None
        self._mail_params = MailParams()
        self._recipients = []
        self._chunks = []
        self._size = 0
        self._oversize = False
        self._line_start = True
        self._mode = _Mode.COMMAND
        self._chunk_remaining = 0
        self._chunk_refusal = None

    def _add_data(self, piece: bytes) -> None:
        if self._oversize:
            return
        self._size += len(piece)
        if self._size > self.limits.max_message_size:
            # RFC 1870 §6.3: keep reading to the end of the data, then answer 552.
            self._oversize = True
            self._chunks = []
        else:
            self._chunks.append(piece)

    def _finish_message(self) -> Step:
        self._mode = _Mode.COMMAND
        if self._oversize:
            # RFC 2033 §4.2: still exactly one reply per accepted recipient.
            for _ in self._recipients:
                self._emit(R.MESSAGE_TOO_LARGE)
            self._go(Trigger.DATA_DONE)
            self._reset_transaction()
            return None
        data = b"".join(self._chunks)
        self._chunks = []
        self._pending = _Pending.DELIVERY
        return MessageComplete(data)

    # ---------------------------------------------------------------- readers

    def _read_command(self) -> Step:
        buf = self._buf
        nl = buf.find(b"\n")
        if nl < 0:
            if len(buf) > self.limits.max_line_length:
                self._discarding_line = True
                buf.clear()
            if self._eof:
                return self._close()
            return NEED_DATA
        raw = bytes(buf[: nl + 1])
        del buf[: nl + 1]
        if self._discarding_line or len(raw) > self.limits.max_line_length:
            self._discarding_line = False
            return self._error(R.LINE_TOO_LONG)
        line = raw[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        return self._dispatch(line)

    def _read_data(self) -> Step:
        """Dot-unstuff DATA until <CRLF>.<CRLF> (RFC 5321 §4.1.1.4, §4.5.2).

        A line only starts after CRLF; a bare LF does not start one, so "<LF>.<CRLF>" neither
        ends the message nor gets unstuffed (this closes the "SMTP smuggling" ambiguity).
        Only a "." at a line start is special, so the scan jumps from one "<CRLF>." to the
        next and hands everything between over in one piece.
        """
        buf = self._buf
        n = len(buf)
        pos = seg = 0
        line_start = self._line_start
        finished = False
        while True:
            if line_start and pos < n and buf[pos] == 0x2E:  # "." at a line start
                if n - pos < 3 and buf[pos:] in (b".", b".\r"):
                    break  # cannot tell the end marker from stuffing yet
                if buf[pos : pos + 3] == b".\r\n":
                    if pos > seg:
                        self._add_data(bytes(buf[seg:pos]))
                    pos += 3
                    seg = pos
                    finished = True
                    break
                if pos > seg:
                    self._add_data(bytes(buf[seg:pos]))
                pos += 1  # drop the stuffed dot
                seg = pos
            elif line_start and pos >= n:
                break
            j = buf.find(b"\r\n.", pos)
            if j >= 0:
                pos = j + 2
                line_start = True
                continue
            # No dot-line left in the buffer; keep a trailing CR that may begin a CRLF.
            if buf.endswith(b"\r\n"):
                pos, line_start = n, True
            elif buf.endswith(b"\r"):
                pos, line_start = n - 1, False
            else:
                pos, line_start = n, False
            pos = max(pos, seg)
            break
        if pos > seg:
            self._add_data(bytes(buf[seg:pos]))
        del buf[:pos]
        self._line_start = line_start
        if finished:
            return self._finish_message()
        if self._eof:
            return self._close()
        return NEED_DATA

    def _read_chunk(self) -> Step:
        take = min(self._chunk_remaining, len(self._buf))
        if take:
            if self._chunk_refusal is None:
                self._add_data(bytes(self._buf[:take]))
            del self._buf[:take]
            self._chunk_remaining -= take
        if self._chunk_remaining:
            return self._close() if self._eof else NEED_DATA
        self._mode = _Mode.COMMAND
        if self._chunk_refusal is not None:
            refusal, self._chunk_refusal = self._chunk_refusal, None
            return self._error(refusal)
        if self._chunk_last:
            self._go(Trigger.BDAT_LAST)
            return self._finish_message()
        if self._oversize:
            # RFC 3030 §2: after a failed chunk the transaction is over; the client sends RSET.
            self._emit(R.MESSAGE_TOO_LARGE)
            self._go(Trigger.TXN_FAILED)
            self._reset_transaction()
            return None
        self._go(Trigger.BDAT)
        self._emit(Reply(250, "2.0.0", f"{self._chunk_size} octets received"))
        return None

    # ---------------------------------------------------------------- commands

    def _dispatch(self, line: bytes) -> Step:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return self._error(R.BAD_ENCODING)
        if _CONTROL_RE.search(text):
            return self._error(R.BAD_ENCODING)
        verb, _, arg = text.partition(" ")
        verb = verb.upper()
        handler = _HANDLERS.get(verb)
        if handler is not None:
            return handler(self, arg)
        if verb in ("HELO", "EHLO"):
            return self._error(R.USE_LHLO)  # RFC 2033 §4.1: LMTP has only LHLO
        if verb in _NOT_IMPLEMENTED:
            return self._error(R.NOT_IMPLEMENTED)
        return self._error(R.UNKNOWN_COMMAND)

    def _capabilities(self) -> Reply:
        caps = [
            self.hostname,
            "PIPELINING",  # RFC 2920
            "ENHANCEDSTATUSCODES",  # RFC 2034
            "8BITMIME",  # RFC 6152
            "SMTPUTF8",  # RFC 6531
            f"SIZE {self.limits.max_message_size}",  # RFC 1870
            "CHUNKING",  # RFC 3030
            "BINARYMIME",  # RFC 3030
        ]
        if self.tls_available and not self._tls_active:
            caps.append("STARTTLS")  # RFC 3207
        # RFC 2034 §3: no enhanced status code on the LHLO (EHLO) reply.
        return Reply(250, "", "\n".join(caps))

    def _cmd_lhlo(self, arg: str) -> Step:
        if not self._allowed(Trigger.LHLO):
            return self._bad_sequence()
        host = arg.strip(" ")
        if not host or " " in host:
            return self._error(R.syntax_error("Syntax: LHLO <domain>"))
        self._reset_transaction()
        self._go(Trigger.LHLO)
        self._lhlo_host = host
        self._emit(self._capabilities())
        return Lhlo(host)

    def _cmd_mail(self, arg: str) -> Step:
        if not self._allowed(Trigger.MAIL):
            if self._state in (State.MAIL, State.RCPT, State.BDAT):
                return self._bad_sequence("Nested MAIL command")
            return self._bad_sequence("Send LHLO first")
        m = _FROM_RE.match(arg)
        if m is None:
            return self._error(R.syntax_error("Syntax: MAIL FROM:<address> [parameters]"))
        try:
            param_text, mailbox = _parse_path_arg(arg[m.end() :], True)
        except PathSyntaxError as exc:
            return self._error(R.syntax_error(f"Bad sender address syntax: {exc}", "5.1.7"))
        params = self._parse_mail_params(param_text)
        if isinstance(params, Reply):
            return self._error(params)
        if mailbox is not None and not mailbox.is_ascii and not params.smtputf8:
            return self._error(R.NON_ASCII_ADDRESS)  # RFC 6531 §3.4
        if params.size is not None and params.size > self.limits.max_message_size:
            self._emit(R.MESSAGE_TOO_LARGE)  # RFC 1870 §6.1
            return None
        self._go(Trigger.MAIL)
        self._mail_from = mailbox.address if mailbox is not None else ""
        self._mail_params = params
        self._emit(R.SENDER_OK)
        return MailFrom(self._mail_from, params)

    def _parse_mail_params(self, text: str) -> MailParams | Reply:
        body: BodyType | None = None
        smtputf8 = False
        size: int | None = None
        seen: set[str] = set()
        for token in text.split(" "):
            if not token:
                continue
            key, eq, value = token.partition("=")
            if not _KEYWORD_RE.fullmatch(key) or (eq and not _VALUE_RE.fullmatch(value)):
                return R.syntax_error("Malformed MAIL parameter")
            key = key.upper()
            if key in seen:
                return R.syntax_error(f"Duplicate MAIL parameter {key}")
            seen.add(key)
            if key == "SIZE":
                if not _SIZE_RE.fullmatch(value):
                    return R.syntax_error("Syntax: SIZE=<octets>")
                size = int(value)
            elif key == "BODY":
                found = _BODY_TYPES.get(value.upper())
                if found is None:
                    return R.syntax_error("Syntax: BODY=7BIT|8BITMIME|BINARYMIME")
                body = found
            elif key == "SMTPUTF8":
                if eq:
                    return R.syntax_error("SMTPUTF8 takes no value")
                smtputf8 = True
            else:
                return R.UNSUPPORTED_PARAM  # RFC 5321 §4.1.1.11: 555
        return MailParams(body=body, smtputf8=smtputf8, size=size)

    def _cmd_rcpt(self, arg: str) -> Step:
        if not self._allowed(Trigger.RCPT):
            if self._state in (State.CONNECTED, State.READY):
                return self._bad_sequence("Need MAIL command")
            return self._bad_sequence()
        m = _TO_RE.match(arg)
        if m is None:
            return self._error(R.syntax_error("Syntax: RCPT TO:<address> [parameters]"))
        try:
            param_text, mailbox = _parse_path_arg(arg[m.end() :], False)
        except PathSyntaxError as exc:
            return self._error(R.syntax_error(f"Bad recipient address syntax: {exc}", "5.1.3"))
        if param_text:
            return self._error(R.UNSUPPORTED_PARAM)
        assert mailbox is not None
        if not mailbox.is_ascii and not self._mail_params.smtputf8:
            return self._error(R.NON_ASCII_ADDRESS)  # RFC 6531 §3.4
        if len(self._recipients) >= self.limits.max_recipients:
            self._emit(R.TOO_MANY_RECIPIENTS)  # RFC 5321 §4.5.3.1.10
            return None
        self._go(Trigger.RCPT)
        self._pending = _Pending.RCPT
        self._pending_rcpt = mailbox.address
        return RcptTo(mailbox.address)

    def _cmd_data(self, arg: str) -> Step:
        if not self._allowed(Trigger.DATA):
            if self._state is State.MAIL:
                return self._error(R.NO_VALID_RECIPIENTS)  # RFC 2033 §4.2
            return self._bad_sequence()
        if arg.strip(" "):
            return self._error(R.syntax_error("DATA takes no arguments"))
        if self._mail_params.body == "BINARYMIME":
            return self._bad_sequence("BODY=BINARYMIME requires BDAT")  # RFC 3030 §3
        self._go(Trigger.DATA)
        self._mode = _Mode.DATA
        self._line_start = True
        self._chunks, self._size, self._oversize = [], 0, False
        self._emit(R.START_DATA)
        return None

    def _cmd_bdat(self, arg: str) -> Step:
        parts = arg.split(" ")
        if not 1 <= len(parts) <= 2 or not _SIZE_RE.fullmatch(parts[0]):
            return self._error(R.syntax_error("Syntax: BDAT <size> [LAST]"))
        if len(parts) == 2 and parts[1].upper() != "LAST":
            return self._error(R.syntax_error("Syntax: BDAT <size> [LAST]"))
        last = len(parts) == 2
        # RFC 3030 §2: the chunk octets follow the command whatever the answer, so they are
        # always read (and discarded when the command is refused) to stay in sync.
        refusal: Reply | None = None
        if not self._allowed(Trigger.BDAT_LAST if last else Trigger.BDAT):
            refusal = R.NO_VALID_RECIPIENTS if self._state is State.MAIL else R.BAD_SEQUENCE
        self._mode = _Mode.CHUNK
        self._chunk_size = self._chunk_remaining = int(parts[0])
        self._chunk_last = last
        self._chunk_refusal = refusal
        return None

    def _cmd_rset(self, arg: str) -> Step:
        if arg.strip(" "):
            return self._error(R.syntax_error("RSET takes no arguments"))
        self._go(Trigger.RSET)
        self._reset_transaction()
        self._emit(R.RESET_OK)
        return Reset()

    def _cmd_noop(self, arg: str) -> Step:
        self._go(Trigger.NOOP)  # RFC 5321 §4.1.1.9: any argument is ignored
        self._emit(R.OK)
        return None

    def _cmd_quit(self, arg: str) -> Step:
        if arg.strip(" "):
            return self._error(R.syntax_error("QUIT takes no arguments"))
        self._emit(R.BYE)
        self._go(Trigger.QUIT)
        return Quit()

    def _cmd_vrfy(self, arg: str) -> Step:
        if not self._allowed(Trigger.VRFY):
            return self._bad_sequence()
        target = arg.strip(" ")
        if not target:
            return self._error(R.syntax_error("Syntax: VRFY <address>"))
        if not self._vrfy_enabled:
            self._emit(R.CANNOT_VRFY)  # RFC 5321 §3.5.3
            return None
        self._pending = _Pending.VRFY
        return Vrfy(target)

    def _cmd_starttls(self, arg: str) -> Step:
        if arg.strip(" "):
            return self._error(R.syntax_error("STARTTLS takes no arguments"))
        if self._tls_active:
            return self._bad_sequence("TLS already active")
        if not self.tls_available:
            self._emit(R.TLS_UNAVAILABLE)  # RFC 3207 §4: 454
            return None
        if not self._allowed(Trigger.STARTTLS):
            return self._bad_sequence()
        self._emit(R.READY_TLS)
        self._go(Trigger.STARTTLS)
        # RFC 3207 §4.2: forget everything learnt before TLS.  Anything pipelined after
        # STARTTLS arrived in plaintext and is dropped (CVE-2011-0411 command injection).
        self._buf.clear()
        self._lhlo_host = None
        self._reset_transaction()
        self._pending = _Pending.TLS
        return StartTls()


_HANDLERS: dict[str, Callable[[LmtpConnection, str], Step]] = {
    "LHLO": LmtpConnection._cmd_lhlo,
    "MAIL": LmtpConnection._cmd_mail,
    "RCPT": LmtpConnection._cmd_rcpt,
    "DATA": LmtpConnection._cmd_data,
    "BDAT": LmtpConnection._cmd_bdat,
    "RSET": LmtpConnection._cmd_rset,
    "NOOP": LmtpConnection._cmd_noop,
    "QUIT": LmtpConnection._cmd_quit,
    "VRFY": LmtpConnection._cmd_vrfy,
    "STARTTLS": LmtpConnection._cmd_starttls,
}
