"""Limits on what a client may send (body size, upload framing, body time) and the headers every
answer carries: security headers, and CORS for dashboards served from other origins.

The idShortPath depth, page size and JSON nesting limits are applied where those are parsed
(`titan_core.api.params`); the idle-connection timeout is the server's `keepalive_timeout`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler, Middleware

from titan_core.api.middleware import error_response
from titan_core.errors import Forbidden, PayloadTooLarge, TitanError
from titan_core.settings import Settings, SettingsError

_POSITIVE = ("max_json_depth", "body_timeout", "keepalive_timeout")
SERVER_NAME = "titan"


@dataclass
class RequestTimeout(TitanError):
    status: int = 408
    code: str = "RequestTimeout"


@dataclass
class LengthRequired(TitanError):
    status: int = 411
    code: str = "LengthRequired"


def check_limit_settings(settings: Settings) -> None:
    """`SettingsError` for limit and header settings Titan cannot use."""
    for name in _POSITIVE:
        if getattr(settings, name) <= 0:
            raise SettingsError(f"setting {name!r} must be positive, got {getattr(settings, name)}")
    if settings.cors_max_age < 0 or settings.hsts_max_age < 0:
        raise SettingsError("settings 'cors_max_age' and 'hsts_max_age' must not be negative")
    if "*" in settings.cors_allowed_origins and settings.cors_allow_credentials:
        raise SettingsError(
            "setting 'cors_allowed_origins' is '*' while 'cors_allow_credentials' is on: browsers refuse "
            "that combination; list the dashboard origins instead"
        )


def install_hardening(app: web.Application, settings: Settings) -> list[Middleware]:
    """Add the header callback to `app` and return the outermost middlewares (CORS preflight, limits)."""
    check_limit_settings(settings)
    middlewares: list[Middleware] = []
    cors = Cors(settings) if settings.cors_allowed_origins else None
    if cors is not None:
        middlewares.append(cors.preflight)
    middlewares.append(request_limits(settings))
    headers = security_headers(settings) if settings.security_headers else {}

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        # Without versions: aiohttp's default (set before this hook runs) names Python's and its own,
        # which help only attackers.
        response.headers[hdrs.SERVER] = SERVER_NAME
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if cors is not None:
            cors.add_response_headers(request, response)

    app.on_response_prepare.append(add_headers)
    return middlewares


def security_headers(settings: Settings) -> dict[str, str]:
    """The headers every answer carries; HSTS only when `hsts_max_age` is set (served over TLS)."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "frame-ancestors 'none'",
        "Referrer-Policy": "no-referrer",
    }
    if settings.hsts_max_age:
        headers["Strict-Transport-Security"] = f"max-age={settings.hsts_max_age}; includeSubDomains"
    return headers


def request_limits(settings: Settings) -> Middleware:
    """413 for a declared body above `max_body_bytes` (before reading it), 411 for an upload without
    a length, and 408 when the body has not arrived within `body_timeout` seconds."""
    max_bytes = settings.max_body_bytes
    timeout = float(settings.body_timeout)

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists:
            return await handler(request)
        length = request.content_length
        if length is not None and length > max_bytes:
            return _closing(PayloadTooLarge(
                f"the request body ({length} bytes) is larger than the {max_bytes} bytes this server "
                "accepts (setting max_body_bytes)"
            ))  # fmt: skip
        if length is None and request.content_type.startswith("multipart/"):
            # Uploads are parsed as they stream in, past the size check of whole-body reads.
            return _closing(
                LengthRequired("an upload (multipart/form-data) must carry a Content-Length header")
            )
        return await _within_deadline(request, handler, timeout)

    return limit


async def _within_deadline(request: web.Request, handler: Handler, timeout: float) -> web.StreamResponse:
    """Run the handler; if the body is still incomplete after `timeout` s, stop it and answer 408.

    Only the arrival of the body is timed: a handler that has its body may take as long as it needs.
    """
    loop = asyncio.get_running_loop()
    expired = False
    try:
        async with asyncio.timeout(None) as deadline:

            def expire() -> None:
                nonlocal expired
                if not request.content.is_eof():
                    expired = True
                    deadline.reschedule(loop.time())

            timer = loop.call_later(timeout, expire)
            try:
                return await handler(request)
            finally:
                timer.cancel()
    except TimeoutError:
        if not expired:
            raise
        return _closing(RequestTimeout(
            f"the request body did not arrive within {timeout:g} seconds (setting body_timeout)"
        ))  # fmt: skip


def _closing(error: TitanError) -> web.Response:
    # The rest of the body is never read: the connection cannot carry another request.
    response = error_response(error)
    response.force_close()
    return response


class Cors:
    """CORS for the configured origins: answers preflights and labels the actual answers."""

    def __init__(self, settings: Settings) -> None:
        self.any_origin = "*" in settings.cors_allowed_origins
        self.origins = frozenset(origin.rstrip("/") for origin in settings.cors_allowed_origins)
        self.methods = frozenset(method.upper() for method in settings.cors_allowed_methods)
        self.allowed_headers = ", ".join(settings.cors_allowed_headers)
        self.allowed_header_names = frozenset(name.lower() for name in settings.cors_allowed_headers)
        self.exposed_headers = ", ".join(settings.cors_exposed_headers)
        self.credentials = settings.cors_allow_credentials
        self.max_age = str(settings.cors_max_age)

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin.rstrip("/") in self.origins

    @web.middleware
    async def preflight(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        wanted = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_METHOD)
        if request.method != hdrs.METH_OPTIONS or origin is None or wanted is None:
            return await handler(request)
        if not self.allows(origin):
            return error_response(
                Forbidden(f"the origin {origin!r} may not call this server (setting cors_allowed_origins)")
            )
        requested = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS, "")
        wanted_headers = {name.strip().lower() for name in requested.split(",") if name.strip()}
        if wanted.upper() not in self.methods or not wanted_headers <= self.allowed_header_names:
            return error_response(Forbidden(
                f"cross-origin {wanted} with the headers {', '.join(sorted(wanted_headers)) or 'none'} is not "
                f"allowed; methods: {', '.join(sorted(self.methods))}; headers: {self.allowed_headers} "
                "(settings cors_allowed_methods, cors_allowed_headers)"
            ))  # fmt: skip
        response = web.Response(status=204)
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = ", ".join(sorted(self.methods))
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = self.allowed_headers
        response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = self.max_age
        return response

    def add_response_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None or not self.allows(origin):
            return
        headers = response.headers
        headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = "*" if self.any_origin else origin
        if not self.any_origin:
            headers.add(hdrs.VARY, hdrs.ORIGIN)
        if self.credentials:
            headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
        if self.exposed_headers and request.method != hdrs.METH_OPTIONS:
            headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = self.exposed_headers


class MalformedRequestLogFilter(logging.Filter):
    """Logs an unparseable request (aiohttp answers it 400) as one line instead of a traceback.

    Anyone can send broken HTTP; a traceback per request would flood the log and hide real errors.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            reason = str(error.message).strip().splitlines()[0] if error.message else type(error).__name__
            record.msg, record.args = "refused a malformed HTTP request with %s: %s", (error.code, reason)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_malformed_requests() -> None:
    """Install `MalformedRequestLogFilter` on aiohttp's server logger (once per process)."""
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(existing, MalformedRequestLogFilter) for existing in logger.filters):
        logger.addFilter(MalformedRequestLogFilter())
