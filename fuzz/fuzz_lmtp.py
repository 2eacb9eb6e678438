"""Atheris fuzz target for the LMTP core (protocols.lmtp.core).

Feeds arbitrary bytes -- raw, or decoded into a sequence of LMTP-ish tokens so the fuzzer reaches
deep states quickly -- into a fresh :class:`LmtpConnection`, once whole and once split at
fuzzer-chosen points, answering every event like a well-behaved application.  Checks:

- nothing but :class:`LmtpError` subclasses is ever raised (and, since the application behaves,
  in practice nothing at all);
- the output is always a sequence of well-formed reply lines (``parse_replies`` accepts it);
- after EOF the session is CLOSED;
- whole and split feeding produce the same conversation (unless STARTTLS discarded input).

Run:  .venv/bin/python fuzz/fuzz_lmtp.py -atheris_runs=50000
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports():
    from protocols.lmtp import (
        NEED_DATA,
        ConnectionClosed,
        LmtpConnection,
        LmtpError,
        LmtpLimits,
        MessageComplete,
        RcptTo,
        Reply,
        StartTls,
        State,
        Vrfy,
    )
    from protocols.lmtp.replies import parse_replies

TOKENS = [
    b"LHLO fuzz.test\r\n",
    b"MAIL FROM:<a@b.c>\r\n",
    b"MAIL FROM:<> BODY=BINARYMIME SMTPUTF8\r\n",
    b"MAIL FROM:<a@b.c> SIZE=99999999\r\n",
    "MAIL FROM:<jörg@bücher.de> SMTPUTF8\r\n".encode(),
    b"RCPT TO:<u@b.c>\r\n",
    b'RCPT TO:<"q u"@[127.0.0.1]>\r\n',
    b"RCPT TO:<Postmaster>\r\n",
    b"DATA\r\n",
    b"..\r\n",
    b".\r\n",
    b"\r\n",
    b"\n",
    b"line\r\n",
    b"BDAT 3\r\n",
    b"BDAT 0 LAST\r\n",
    b"BDAT 4 LAST\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"VRFY u\r\n",
    b"STARTTLS\r\n",
    b"QUIT\r\n",
    b"HELO x\r\n",
    b"\x00\xff\r",
    b"x" * 70,
]
LIMITS = LmtpLimits(max_line_length=64, max_message_size=300, max_recipients=3, max_bad_commands=8)


def answer(conn: LmtpConnection, counter: list[int]) -> None:
    for _ in range(100_000):
        event = conn.next_event()
        if event is NEED_DATA or isinstance(event, ConnectionClosed):
            return
        counter[0] += 1
        if isinstance(event, RcptTo):
            if counter[0] % 3:
                conn.accept_rcpt()
            else:
                conn.reject_rcpt(Reply(550, "5.1.1", "no"))
        elif isinstance(event, MessageComplete):
            conn.send_delivery_results([Reply(250, "2.0.0", "ok")] * len(conn.recipients))
        elif isinstance(event, Vrfy):
            conn.answer_vrfy(Reply(252, "2.0.0", "maybe"))
        elif isinstance(event, StartTls):
            conn.start_tls_done()
    raise AssertionError("next_event made no progress")


def run(payload: bytes, cuts: list[int] | None) -> bytes:
    conn = LmtpConnection("mx.fuzz", LIMITS, tls_available=True)
    counter = [0]
    out = conn.data_to_send()
    try:
        if cuts is None:
            conn.receive_data(payload)
        else:
            pos = 0
            for cut in cuts:
                conn.receive_data(payload[pos : pos + cut])
                pos += cut
                answer(conn, counter)
                out += conn.data_to_send()
            conn.receive_data(payload[pos:])
        answer(conn, counter)
        conn.receive_data(b"")
        answer(conn, counter)
    except LmtpError:
        raise AssertionError("the core raised for peer input") from None
    out += conn.data_to_send()
    parse_replies(out)  # ValueError on any malformed reply line
    assert conn.state is State.CLOSED
    return out


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    structured = fdp.ConsumeBool()
    cuts = [fdp.ConsumeIntInRange(1, 24) for _ in range(fdp.ConsumeIntInRange(0, 16))]
    if structured:
        picks = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
        payload = b"".join(TOKENS[b % len(TOKENS)] for b in picks)
        payload += fdp.ConsumeBytes(fdp.remaining_bytes())
    else:
        payload = fdp.ConsumeBytes(fdp.remaining_bytes())
    whole = run(payload, None)
    split = run(payload, cuts)
    if b"STARTTLS" not in payload.upper():
        assert whole == split, (whole, split)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
