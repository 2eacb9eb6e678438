"""The bench's yardstick: a bare trio + h11 server that answers every request with one fixed JSON
body (keep-alive, Content-Length), and nothing else: no routing, no auth, no JMAP.

    .venv/bin/python -m tests.bench.bare_http PORT

It is what "the HTTP layer costs nothing" would look like on this machine, so the JMAP request
path is quoted as a ratio to it, measured in the same run (DESIGN.md §8).
"""

from __future__ import annotations

import functools
import sys

import h11
import trio

BODY = b'{"methodResponses":[["Core/echo",{"hello":"world"},"0"]],"sessionState":"0"}'
_HEADERS = [
    ("content-type", "application/json"),
    ("content-length", str(len(BODY))),
    ("server", "bare-h11"),
]


async def _connection(stream: trio.SocketStream) -> None:
    conn = h11.Connection(h11.SERVER)
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                if not data:
                    return
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                continue  # the body follows
            elif isinstance(event, h11.EndOfMessage):
                out = conn.send(h11.Response(status_code=200, headers=_HEADERS)) or b""
                out += conn.send(h11.Data(data=BODY)) or b""
                out += conn.send(h11.EndOfMessage()) or b""
                await stream.send_all(out)
                if conn.our_state is not h11.DONE:
                    return
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                return
    except (h11.ProtocolError, trio.BrokenResourceError):
        return
    finally:
        await stream.aclose()


def main() -> None:
    port = int(sys.argv[1])
    trio.run(functools.partial(trio.serve_tcp, _connection, port, host="127.0.0.1"))


if __name__ == "__main__":
    main()
