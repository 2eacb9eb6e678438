"""Routing: exact and parameterised paths, prefix routes, per-route methods and body limits.

Patterns are ``/``-separated; a segment ``{name}`` matches one non-empty path segment, a final
``{name:path}`` matches the (possibly empty) rest of the path.  Parameters are percent-decoded per
segment after splitting, so an encoded ``%2F`` stays inside its parameter.

Method handling (RFC 9110 §9): HEAD is served by the GET handler (the server drops the body);
OPTIONS is answered 204 with ``Allow`` for every known path (the CORS layer turns that into a
preflight answer); a known path with another method gets 405 with ``Allow`` (§15.5.6); an unknown
path 404.  ``OPTIONS *`` gets 204 with every method any route accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from .headers import Headers
from .messages import (
    Admitted,
    Handler,
    Reply,
    Request,
    Response,
    WebSocketHandler,
    WebSocketUpgrade,
)
from .problem import problem


@dataclass(frozen=True, slots=True)
class _Target:
    handler: Handler
    max_body: int | None
    too_large: Response | None = None


@dataclass(slots=True)
class _Entry:
    pattern: str
    segments: tuple[str, ...]
    targets: dict[str, _Target] = field(default_factory=dict)
    allow: str = ""

    def refresh_allow(self) -> None:
        methods = set(self.targets)
        if "GET" in methods:
            methods.add("HEAD")
        methods.add("OPTIONS")
        self.allow = ", ".join(sorted(methods))

    def match(self, parts: list[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        segs = self.segments
        for i, seg in enumerate(segs):
            if seg.startswith("{") and seg.endswith(":path}"):
                params[seg[1:-6]] = unquote("/".join(parts[i:]), errors="strict")
                return params
            if i >= len(parts):
                return None
            part = parts[i]
            if seg.startswith("{"):
                if not part:
                    return None
                params[seg[1:-1]] = unquote(part, errors="strict")
            elif seg != part:
                return None
        return params if len(parts) == len(segs) else None


def _split(pattern: str) -> tuple[str, ...]:
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern must start with '/': {pattern!r}")
    segments = tuple(pattern[1:].split("/"))
    for i, seg in enumerate(segments):
        if seg.startswith("{") != seg.endswith("}"):
            raise ValueError(f"bad parameter segment {seg!r} in {pattern!r}")
        if seg.endswith(":path}") and i != len(segments) - 1:
            raise ValueError(f"a {{name:path}} segment must come last: {pattern!r}")
    return segments


def choose_subprotocol(offer: Iterable[str], supported: Iterable[str]) -> str | None:
    """The first subprotocol in the client's ``offer`` that we support (RFC 6455 §4.2.2 lets the
    server pick any offered one; the client lists them in order of preference)."""
    ours = {s.lower(): s for s in supported}
    for item in offer:
        if item.lower() in ours:
            return ours[item.lower()]
    return None


class Router:
    """Maps method + path to handlers.  Implements :class:`HttpApp`."""

    def __init__(self) -> None:
        self._static: dict[str, _Entry] = {}
        self._dynamic: list[_Entry] = []
        self._all_methods: set[str] = {"OPTIONS"}

    def add(
        self,
        pattern: str,
        handler: Handler,
        methods: Iterable[str] = ("GET",),
        *,
        max_body: int | None = None,
        too_large: Response | None = None,
    ) -> None:
        """Route ``methods`` on ``pattern`` to ``handler``.  ``max_body`` caps the request body
        (None: the server's ``max_body_size``); ``too_large`` answers a body over it (None: a
        plain 413 problem)."""
        segments = _split(pattern)
        dynamic = any(s.startswith("{") for s in segments)
        entry = self._find(pattern) if dynamic else self._static.get(pattern)
        if entry is None:
            entry = _Entry(pattern, segments)
            if dynamic:
                self._dynamic.append(entry)
            else:
                self._static[pattern] = entry
        for method in methods:
            method = method.upper()
            if method in entry.targets:
                raise ValueError(f"{method} {pattern} is already routed")
            entry.targets[method] = _Target(handler, max_body, too_large)
            self._all_methods.add(method)
            if method == "GET":
                self._all_methods.add("HEAD")
        entry.refresh_allow()

    def route(
        self, pattern: str, methods: Iterable[str] = ("GET",), *, max_body: int | None = None
    ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add`."""

        def register(handler: Handler) -> Handler:
            self.add(pattern, handler, methods, max_body=max_body)
            return handler

        return register

    def prefix(
        self,
        prefix: str,
        handler: Handler,
        methods: Iterable[str] = ("GET",),
        *,
        max_body: int | None = None,
    ) -> None:
        """Route every path under ``prefix`` (which ends with ``/``); the remainder is
        ``path_params["path"]``."""
        if not prefix.endswith("/"):
            raise ValueError(f"a prefix must end with '/': {prefix!r}")
        self.add(prefix + "{path:path}", handler, methods, max_body=max_body)

    def websocket(
        self,
        pattern: str,
        handler: WebSocketHandler,
        subprotocols: Iterable[str] = (),
        *,
        require_subprotocol: bool = False,
    ) -> None:
        """A GET route that upgrades to WebSocket, choosing from ``subprotocols`` the client's
        most preferred; with ``require_subprotocol`` a client offering none of them gets 400."""
        supported = tuple(subprotocols)

        async def upgrade(request: Request) -> Reply:
            chosen = choose_subprotocol(request.websocket_offer, supported)
            if chosen is None and require_subprotocol:
                return problem(
                    400,
                    detail=f"no supported WebSocket subprotocol offered ({', '.join(supported)})",
                )
            return WebSocketUpgrade(handler, chosen)

        self.add(pattern, upgrade, ("GET",), max_body=0)

    def _find(self, pattern: str) -> _Entry | None:
        for entry in self._dynamic:
            if entry.pattern == pattern:
                return entry
        return None

    def _lookup(self, path: str) -> tuple[_Entry, dict[str, str]] | None:
        entry = self._static.get(path)
        if entry is not None:
            return entry, {}
        parts = path[1:].split("/")
        for entry in self._dynamic:
            try:
                params = entry.match(parts)
            except UnicodeDecodeError:
                continue
            if params is not None:
                return entry, params
        return None

    def admit(self, request: Request) -> Admitted | Response:
        method = request.method
        if request.target == "*":
            if method == "OPTIONS":
                return _options(", ".join(sorted(self._all_methods)))
            return problem(400, detail="'*' is only valid with OPTIONS")
        found = self._lookup(request.path)
        if found is None:
            return problem(404, detail="no such resource")
        entry, params = found
        target = entry.targets.get(method)
        if target is None and method == "HEAD":
            target = entry.targets.get("GET")
        if target is None:
            if method == "OPTIONS":
                return _options(entry.allow)
            return problem(
                405,
                detail=f"{method} is not allowed here",
                headers=Headers((("allow", entry.allow),)),
            )
        return Admitted(target.handler, target.max_body, params, target.too_large)


def _options(allow: str) -> Response:
    return Response(204, Headers((("allow", allow),)), None)
