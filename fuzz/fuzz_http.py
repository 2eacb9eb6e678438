"""Atheris fuzz target for our HTTP request handling above h11 (protocols.http).

h11 is the parser; what is ours is what happens to a request head h11 accepted: target splitting,
routing with percent-decoded parameters, ``Authorization`` parsing, ``Accept-Encoding``
negotiation and CORS.  Arbitrary bytes are fed to an h11 server connection; every request head
that comes out goes through those steps.  Checks:

- h11 raises only ``RemoteProtocolError``; our code raises nothing but
  ``MalformedAuthorization`` from ``parse_authorization``;
- routing answers an :class:`Admitted` or a 204/400/404/405 :class:`Response`; a 405 carries
  ``Allow``; route parameters are ``str`` and never contain ``/`` except a ``{...:path}`` one;
- parsed Basic credentials contain no control characters and the user-id no ``:``.

Run:  .venv/bin/python fuzz/fuzz_http.py -atheris_runs=50000
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports():
    import h11

    from protocols.http import (
        Admitted,
        BasicCredentials,
        CorsPolicy,
        Headers,
        MalformedAuthorization,
        Request,
        Response,
        Router,
        accepts_gzip,
        parse_authorization,
    )
    from protocols.http.target import split_target

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


async def _handler(request: Request) -> Response:
    return Response.text("ok")


ROUTER = Router()
ROUTER.add("/.well-known/jmap", _handler)
ROUTER.add("/jmap/", _handler, ("POST",))
ROUTER.add("/jmap/upload/{accountId}/", _handler, ("POST",), max_body=1000)
ROUTER.add("/jmap/download/{accountId}/{blobId}/{name}", _handler)
ROUTER.add("/jmap/eventsource/", _handler)
ROUTER.prefix("/admin/", _handler, ("GET", "POST", "DELETE"))
CORS = CorsPolicy(origins=("https://mail.example.com",))

METHODS = [b"GET", b"POST", b"HEAD", b"OPTIONS", b"DELETE", b"PUT"]
PREFIXES = [
    b"/jmap/download/a/b/",
    b"/jmap/upload/",
    b"/admin/",
    b"/.well-known/jmap",
    b"/jmap/",
    b"http://h/jmap/download/",
    b"",
]
FIELDS = [
    b"Authorization: Basic ",
    b"Authorization: Bearer ",
    b"Accept-Encoding: ",
    b"Origin: https://mail.example.com",
    b"Access-Control-Request-Method: ",
    b"Sec-WebSocket-Protocol: ",
    b"X-Request-Id: ",
]


def check_request(event: h11.Request) -> None:
    headers = Headers.from_raw(event.headers)
    target = event.target.decode("latin-1")
    path, query = split_target(target)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in query)
    request = Request(event.method.decode("ascii"), target, path, query, headers)
    got = ROUTER.admit(request)
    if isinstance(got, Admitted):
        for name, value in got.path_params.items():
            assert isinstance(value, str)
            assert name == "path" or "/" not in value or "%2f" in path.lower(), (name, value)
    else:
        assert isinstance(got, Response), got
        assert got.status in (204, 400, 404, 405), got.status
        if got.status == 405:
            assert got.headers.get("allow")
    try:
        creds = parse_authorization(request)
    except MalformedAuthorization:
        creds = None
    if isinstance(creds, BasicCredentials):
        assert ":" not in creds.username
        assert not _CONTROL.search(creds.username + creds.password)
    accepts_gzip(headers.get("accept-encoding"))
    CORS.response_headers(headers, request.method, 204, Headers())


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        payload = fdp.ConsumeBytes(fdp.remaining_bytes())  # anything at all
    else:
        # A mostly well-formed head so that fuzzing reaches our code past h11.
        method = METHODS[fdp.ConsumeIntInRange(0, len(METHODS) - 1)]
        prefix = PREFIXES[fdp.ConsumeIntInRange(0, len(PREFIXES) - 1)]
        target = prefix + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40))
        lines = [method + b" " + target + b" HTTP/1.1", b"Host: x"]
        for _ in range(fdp.ConsumeIntInRange(0, 4)):
            field = FIELDS[fdp.ConsumeIntInRange(0, len(FIELDS) - 1)]
            lines.append(field + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40)))
        payload = b"\r\n".join(lines) + b"\r\n\r\n"
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
    conn.receive_data(payload)
    conn.receive_data(b"")
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError:
        return
    if isinstance(event, h11.Request):
        check_request(event)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
