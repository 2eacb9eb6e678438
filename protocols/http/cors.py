"""Cross-Origin Resource Sharing (WHATWG Fetch §3.2) for browser-based JMAP clients.

Applied by the server to every response of a request carrying ``Origin``.  A preflight
(``OPTIONS`` with ``Access-Control-Request-Method``) that the application answered 2xx gets the
methods from its ``Allow`` field, our allowed request headers (``Authorization`` must be listed
explicitly: the ``*`` wildcard never covers it) and ``Max-Age``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .headers import Headers

DEFAULT_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept",
    "Accept-Language",
    "Cache-Control",
    "Last-Event-ID",
    "X-Request-Id",
)
DEFAULT_EXPOSE_HEADERS = ("X-Request-Id", "Location", "Content-Disposition", "WWW-Authenticate")
DEFAULT_METHODS = "GET, HEAD, POST, OPTIONS"


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """``origins``: exact origins like ``https://mail.example.com``, or ``("*",)`` for any;
    empty disables CORS (no ``Access-Control-*`` fields at all)."""

    origins: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = DEFAULT_ALLOW_HEADERS
    expose_headers: tuple[str, ...] = DEFAULT_EXPOSE_HEADERS
    max_age: int = 7200
    allow_credentials: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins

    def allows(self, origin: str) -> bool:
        if self.any_origin:
            return True
        # Origins serialise scheme and host in lowercase (RFC 6454 §6.2); be lenient anyway.
        wanted = origin.lower().rstrip("/")
        return any(o.lower().rstrip("/") == wanted for o in self.origins)

    def response_headers(
        self, request_headers: Headers, method: str, status: int, response_headers: Headers
    ) -> list[tuple[str, str]]:
        """The ``Access-Control-*`` (and ``Vary``) fields to add to a response."""
        if not self.origins:
            return []
        out: list[tuple[str, str]] = []
        echo = not self.any_origin or self.allow_credentials
        if echo:
            out.append(("vary", "Origin"))
        origin = request_headers.get("origin")
        if origin is None or not self.allows(origin):
            return out
        out.append(("access-control-allow-origin", origin if echo else "*"))
        if self.allow_credentials:
            out.append(("access-control-allow-credentials", "true"))
        preflight = method == "OPTIONS" and "access-control-request-method" in request_headers
        if preflight:
            if 200 <= status < 300:
                methods = response_headers.get("allow") or DEFAULT_METHODS
                out.append(("access-control-allow-methods", methods))
                out.append(("access-control-allow-headers", ", ".join(self.allow_headers)))
                out.append(("access-control-max-age", str(self.max_age)))
        elif self.expose_headers:
            out.append(("access-control-expose-headers", ", ".join(self.expose_headers)))
        return out
