"""HTTP/1.1 and WebSocket transport for JMAP: our own layer on trio + h11 + wsproto.

Handlers are async callables ``Request -> Response | StreamingResponse | WebSocketUpgrade``;
a :class:`Router` maps paths and methods to them; :func:`serve_http` (or :class:`HttpServer`
for several ports sharing limits) serves an app.
"""

from .auth import (
    BasicCredentials,
    BearerToken,
    Credentials,
    MalformedAuthorization,
    basic_challenge,
    parse_authorization,
    unauthorized,
)
from .compress import accepts_gzip
from .cors import CorsPolicy
from .errors import STATUS_FOR_KIND, response_for_error
from .headers import Headers
from .limits import HttpLimits
from .messages import (
    Admitted,
    Handler,
    HandlerApp,
    HttpApp,
    Reply,
    Request,
    Response,
    StreamingResponse,
    WebSocket,
    WebSocketHandler,
    WebSocketUpgrade,
)
from .problem import PROBLEM_TYPE, internal_error, problem
from .router import Router, choose_subprotocol
from .server import HttpServer, TrioWebSocket, serve_http
from .websocket import WebSocketCore

__all__ = [
    "PROBLEM_TYPE",
    "STATUS_FOR_KIND",
    "Admitted",
    "BasicCredentials",
    "BearerToken",
    "CorsPolicy",
    "Credentials",
    "Handler",
    "HandlerApp",
    "Headers",
    "HttpApp",
    "HttpLimits",
    "HttpServer",
    "MalformedAuthorization",
    "Reply",
    "Request",
    "Response",
    "Router",
    "StreamingResponse",
    "TrioWebSocket",
    "WebSocket",
    "WebSocketHandler",
    "WebSocketCore",
    "WebSocketUpgrade",
    "accepts_gzip",
    "basic_challenge",
    "choose_subprotocol",
    "internal_error",
    "parse_authorization",
    "problem",
    "response_for_error",
    "serve_http",
    "unauthorized",
]
