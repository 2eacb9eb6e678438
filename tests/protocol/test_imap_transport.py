"""The IMAP transport over real sockets: a literal followed by its CRLF in a second write (as
Python's imaplib sends APPEND) must not wait for the peer's delayed-ACK timer."""

from __future__ import annotations

import socket
import statistics
import time

import pytest

from .imap_support import Env, message


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux-only")
def test_literal_then_crlf_in_two_writes_is_not_delayed(env: Env) -> None:
    w = env.session(env.user())
    assert w.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0  # Nagle on
    data = message("Nagle", "x" * 3000 + "\r\n")
    times = []
    for i in range(7):
        start = time.perf_counter()
        w.send(f"a{i} APPEND INBOX {{{len(data)}}}\r\n")
        w.read_continuation()
        w.send(data)  # the literal ...
        w.send(b"\r\n")  # ... and the end of the command line, held back by Nagle until ACKed
        reply = w.read_until_tagged(f"a{i}")
        times.append(time.perf_counter() - start)
        assert reply.status == "OK", str(reply)
    # Without the immediate ACK every APPEND takes at least Linux's 40 ms delayed-ACK minimum.
    assert statistics.median(times) < 0.030, times
    w.cmd("s1 SELECT INBOX").find(r"\* 7 EXISTS")
