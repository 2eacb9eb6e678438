"""``[http]``: the HTTP listeners serving JMAP and its push channels (protocols/http,
protocols/jmap)."""

from __future__ import annotations

from dataclasses import dataclass

from .checks import ORIGINS, PORT, POSITIVE, PUBLIC_URL, at_least
from .kinds import ADDRESS, BOOL, INT, SIZE, STR, STR_LIST
from .schema import setting


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """HTTP: JMAP (RFC 8620, RFC 8621) with its push channels, EventSource and WebSocket
    (RFC 8887)."""

    enabled: bool = setting(BOOL, True, "Run the HTTP listeners.")
    bind: str = setting(ADDRESS, "127.0.0.1", "Address both HTTP listeners bind to.")
    port: int = setting(
        INT,
        8080,
        "Port for plain HTTP. Put a TLS-terminating reverse proxy in front of it, or let "
        "clients use `tls_port`.",
        PORT,
    )
    tls_port: int = setting(INT, 8443, "Port for HTTPS, using the certificate from `[tls]`.", PORT)
    public_url: str = setting(
        STR,
        "",
        "Base URL clients use to reach this server, such as `https://mail.example.com`; the "
        "URLs in the JMAP session object (apiUrl, downloadUrl, uploadUrl, eventSourceUrl and the "
        "WebSocket `url`) are built from it. Set it when the server runs behind a reverse proxy. "
        "Empty: each session names the scheme the request came in on (`https`/`wss` on "
        "`tls_port`, `http`/`ws` on `port`) and the request's `Host` header.",
        PUBLIC_URL,
    )
    max_request_size: int = setting(
        SIZE,
        "10M",
        "Largest JMAP API request body (`maxSizeRequest` in the session, RFC 8620 §2), also "
        "the largest JMAP message over WebSocket. A larger one is refused with the "
        "`urn:ietf:params:jmap:error:limit` problem (`limit: maxSizeRequest`, HTTP 413).",
        POSITIVE,
    )
    max_upload_size: int = setting(
        SIZE,
        "50M",
        "Largest blob upload (`maxSizeUpload` in the session, RFC 8620 §2, §6.1); a larger one "
        "gets HTTP 413 with the `limit` problem (`limit: maxSizeUpload`).",
        POSITIVE,
    )
    max_concurrent_requests: int = setting(
        INT,
        4,
        "Most API requests one user may have in progress at once (`maxConcurrentRequests`, "
        "RFC 8620 §2); one more is refused with the `limit` problem.",
        at_least(1),
    )
    max_concurrent_uploads: int = setting(
        INT,
        4,
        "Most uploads one user may have in progress at once (`maxConcurrentUpload`, RFC 8620 §2).",
        at_least(1),
    )
    max_calls_in_request: int = setting(
        INT,
        16,
        "Most method calls in one API request (`maxCallsInRequest`, RFC 8620 §2).",
        at_least(1),
    )
    max_objects_in_get: int = setting(
        INT,
        500,
        "Most objects one /get may fetch (`maxObjectsInGet`, RFC 8620 §2, §5.1: "
        "`requestTooLarge` beyond it).",
        at_least(1),
    )
    max_objects_in_set: int = setting(
        INT,
        500,
        "Most objects one /set may create, update and destroy together (`maxObjectsInSet`, "
        "RFC 8620 §2, §5.3: `requestTooLarge` beyond it).",
        at_least(1),
    )
    cors_origins: tuple[str, ...] = setting(
        STR_LIST,
        (),
        "Origins whose web pages may call the API from a browser (CORS), for example "
        '`["https://webmail.example.com"]`; `["*"]` allows every origin. Empty: no '
        "cross-origin access.",
        ORIGINS,
    )
    answer_cache_entries: int = setting(
        INT,
        1024,
        "Most encoded JMAP answers kept for repeated identical read-only requests (a polling "
        "client's inbox request: Mailbox/get, Email/query without text search, Email/get ...). "
        "An entry is answered again only while no account the requester sees has changed "
        "(RFC 8620 §1.6 states), so a hit is the very bytes the request would produce. "
        "0 turns the cache off: every request is computed.",
        at_least(0),
    )
    answer_cache_size: int = setting(
        SIZE,
        "64M",
        "Most bytes of encoded answers the answer cache keeps (oldest out first); an answer "
        "larger than 1M is never kept.",
        at_least(0),
    )
    access_log: bool = setting(
        BOOL,
        False,
        "Log one line per HTTP request (peer, method, target, status, duration, request id) at "
        "`info` level, under the logger `protocols.http.access`. Off by default: under API load "
        "it costs about 5 % of the server's CPU. Failures are logged either way.",
    )
