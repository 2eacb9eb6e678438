"""Sans-IO pieces of the HTTP layer: headers, routing, auth parsing, CORS, gzip negotiation,
problem details."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from protocols.http import (
    Admitted,
    BasicCredentials,
    BearerToken,
    CorsPolicy,
    Headers,
    MalformedAuthorization,
    Request,
    Response,
    Router,
    accepts_gzip,
    choose_subprotocol,
    parse_authorization,
    problem,
    unauthorized,
)
from protocols.http.compress import compressible, gzip_bytes


def make_request(method: str, path: str, headers: Headers | None = None) -> Request:
    return Request(method, path, path, (), headers or Headers())


async def ok(request: Request) -> Response:
    return Response.text("ok")


async def other(request: Request) -> Response:
    return Response.text("other")


# -- headers ----------------------------------------------------------------------------------


def test_headers_are_case_insensitive_multi_valued() -> None:
    h = Headers.of([("Accept", "a"), ("X-Thing", "1"), ("accept", "b, c")])
    assert h.get("ACCEPT") == "a"
    assert h.get_all("accept") == ("a", "b, c")
    assert h.get_list("Accept") == ("a", "b", "c")
    assert "x-thing" in h and "missing" not in h
    assert h.replace("accept", "z").get_all("accept") == ("z",)
    assert h.without("x-thing").get("x-thing") is None
    assert h.with_("Vary", "Origin").get("vary") == "Origin"
    assert len(h) == 3  # the original is unchanged (frozen)
    assert Headers.of({"Content-Type": "text/plain"}).pairs == (("content-type", "text/plain"),)
    assert Headers.from_raw([(b"x-latin", b"caf\xe9")]).get("x-latin") == "café"


# -- router -----------------------------------------------------------------------------------


def test_router_exact_parameterised_and_prefix_routes() -> None:
    router = Router()
    router.add("/.well-known/jmap", ok)
    router.add("/jmap/", ok, ("POST",))
    router.add("/jmap/upload/{accountId}/", ok, ("POST",), max_body=10)
    router.add("/jmap/download/{accountId}/{blobId}/{name}", other)
    router.prefix("/admin/", ok, ("GET", "PUT"))

    got = router.admit(make_request("GET", "/.well-known/jmap"))
    assert isinstance(got, Admitted) and got.handler is ok and got.max_body is None

    got = router.admit(make_request("POST", "/jmap/upload/A%20B/"))
    assert isinstance(got, Admitted)
    assert got.max_body == 10 and dict(got.path_params) == {"accountId": "A B"}

    got = router.admit(make_request("GET", "/jmap/download/u1/b%2F1/r%C3%A9sum%C3%A9.pdf"))
    assert isinstance(got, Admitted) and got.handler is other
    assert dict(got.path_params) == {"accountId": "u1", "blobId": "b/1", "name": "résumé.pdf"}

    got = router.admit(make_request("PUT", "/admin/a/b/c"))
    assert isinstance(got, Admitted) and dict(got.path_params) == {"path": "a/b/c"}
    got = router.admit(make_request("GET", "/admin/"))
    assert isinstance(got, Admitted) and dict(got.path_params) == {"path": ""}

    for path in ("/jmap/upload//", "/jmap/upload/a", "/jmap/download/a/b", "/jmap", "/x"):
        got = router.admit(make_request("POST" if "upload" in path else "GET", path))
        assert isinstance(got, Response) and got.status == 404, path


def test_router_methods_head_options_and_405() -> None:
    router = Router()
    router.add("/r", ok, ("GET",))
    router.add("/r", other, ("POST",))
    head = router.admit(make_request("HEAD", "/r"))
    assert isinstance(head, Admitted) and head.handler is ok
    post = router.admit(make_request("POST", "/r"))
    assert isinstance(post, Admitted) and post.handler is other
    options = router.admit(make_request("OPTIONS", "/r"))
    assert isinstance(options, Response) and options.status == 204
    assert options.headers.get("allow") == "GET, HEAD, OPTIONS, POST"
    denied = router.admit(make_request("DELETE", "/r"))
    assert isinstance(denied, Response) and denied.status == 405
    assert denied.headers.get("allow") == "GET, HEAD, OPTIONS, POST"
    assert json.loads(denied.body or b"")["status"] == 405
    star = router.admit(Request("OPTIONS", "*", "*", (), Headers()))
    assert isinstance(star, Response) and star.status == 204
    assert star.headers.get("allow") == "GET, HEAD, OPTIONS, POST"


def test_router_rejects_bad_patterns_and_duplicates() -> None:
    router = Router()
    router.add("/a/{x}", ok)
    with pytest.raises(ValueError):
        router.add("/a/{x}", other)
    with pytest.raises(ValueError):
        router.add("no-slash", ok)
    with pytest.raises(ValueError):
        router.add("/a/{rest:path}/more", ok)
    with pytest.raises(ValueError):
        router.prefix("/noslash", ok)


def test_choose_subprotocol_prefers_client_order() -> None:
    assert choose_subprotocol(["chat", "JMAP", "x"], ["x", "jmap"]) == "jmap"
    assert choose_subprotocol(["chat"], ["jmap"]) is None
    assert choose_subprotocol([], ["jmap"]) is None


# -- authentication ---------------------------------------------------------------------------


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_parse_basic_utf8_and_normalisation() -> None:
    creds = parse_authorization(_basic("jörg:pässword:with:colons".encode()))
    assert creds == BasicCredentials("jörg", "pässword:with:colons")
    # NFD input is normalised to NFC (RFC 7617 §2.1 via RFC 7613 profiles).
    nfd = parse_authorization(_basic("jo\u0308rg:x".encode()))
    assert isinstance(nfd, BasicCredentials) and nfd.username == "jörg"
    assert parse_authorization("bAsIc " + base64.b64encode(b"a:").decode()) == BasicCredentials(
        "a", ""
    )
    assert "secret" not in repr(BasicCredentials("u", "secret"))


@pytest.mark.parametrize(
    "value",
    [
        "Basic",
        "Basic !!!!",
        _basic(b"no-colon"),
        _basic(b"user:\xff\xfe"),
        _basic(b"us\x01er:pw"),
        _basic(b"user:p\nw"),
        "Bearer",
        "Bearer has space",
        "Bearer =leading",
    ],
)
def test_malformed_authorization(value: str) -> None:
    with pytest.raises(MalformedAuthorization):
        parse_authorization(value)


def test_parse_bearer_and_unknown_schemes() -> None:
    assert parse_authorization("Bearer abc.DEF-_~+/==") == BearerToken("abc.DEF-_~+/==")
    assert parse_authorization("Digest username=x") is None
    assert parse_authorization(None) is None
    req = make_request("GET", "/", Headers.of({"Authorization": "Bearer t"}))
    assert parse_authorization(req) == BearerToken("t")


def test_unauthorized_challenges() -> None:
    resp = unauthorized()
    assert resp.status == 401
    assert resp.headers.get_all("www-authenticate") == (
        'Basic realm="stalwart-py", charset="UTF-8"',
    )
    both = unauthorized(bearer=True, bearer_error="invalid_token")
    assert both.headers.get_all("www-authenticate")[1] == (
        'Bearer realm="stalwart-py", error="invalid_token"'
    )


# -- problem details --------------------------------------------------------------------------


def test_problem_json() -> None:
    resp = problem(
        400,
        "urn:ietf:params:jmap:error:limit",
        "too many calls",
        limit="maxCallsInRequest",
    )
    assert resp.status == 400
    assert resp.headers.get("content-type") == "application/problem+json"
    assert json.loads(resp.body or b"") == {
        "type": "urn:ietf:params:jmap:error:limit",
        "status": 400,
        "detail": "too many calls",
        "limit": "maxCallsInRequest",
    }
    assert json.loads(problem(404).body or b"") == {"type": "about:blank", "status": 404}


# -- CORS -------------------------------------------------------------------------------------


def test_cors_policy_headers() -> None:
    policy = CorsPolicy(origins=("https://Mail.example.com",))
    req = Headers.of({"Origin": "https://mail.example.com", "Access-Control-Request-Method": "PUT"})
    pre = dict(policy.response_headers(req, "OPTIONS", 204, Headers.of({"Allow": "GET, PUT"})))
    assert pre["access-control-allow-origin"] == "https://mail.example.com"
    assert pre["access-control-allow-methods"] == "GET, PUT"
    assert "Authorization" in pre["access-control-allow-headers"]
    assert pre["access-control-max-age"] == "7200"
    # A failed preflight grants no methods.
    failed = dict(policy.response_headers(req, "OPTIONS", 404, Headers()))
    assert "access-control-allow-methods" not in failed
    other = dict(
        policy.response_headers(Headers.of({"Origin": "https://x"}), "GET", 200, Headers())
    )
    assert other == {"vary": "Origin"}
    assert CorsPolicy().response_headers(req, "GET", 200, Headers()) == []
    cred = CorsPolicy(origins=("*",), allow_credentials=True)
    got = dict(cred.response_headers(Headers.of({"Origin": "https://y"}), "GET", 200, Headers()))
    assert got["access-control-allow-origin"] == "https://y"  # never "*" with credentials
    assert got["access-control-allow-credentials"] == "true"


# -- compression ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZIP", True),
        ("deflate, gzip;q=1.0, *;q=0.5", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("*", True),
        ("*;q=0", False),
        ("br, *;q=0.1", True),
        ("br, gzip;q=0, *", False),
        ("identity", False),
        ("gzip;q=bogus", False),
    ],
)
def test_accepts_gzip(value: str | None, expected: bool) -> None:
    assert accepts_gzip(value) is expected


def test_compressible_types_and_deterministic_gzip() -> None:
    assert compressible("application/json")
    assert compressible("text/html; charset=utf-8")
    assert compressible("message/rfc822")
    assert compressible("image/svg+xml")
    assert not compressible("image/jpeg")
    assert not compressible("application/zip")
    assert not compressible("text/event-stream")
    assert not compressible(None)
    body = b"x" * 5000
    assert gzip_bytes(body) == gzip_bytes(body)
    assert gzip.decompress(gzip_bytes(body)) == body
