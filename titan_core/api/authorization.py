"""Who may call which route: the middleware that authenticates every request (through the
`titan_authenticate` hook) and checks its role and the scopes of the twins named in its path.

Rules (docs/security.md): GET and HEAD need the reader role, every other method the writer role; a
handler marked with `titan_core.auth.public` or `requires_role` says otherwise. `/health`, `/ready`,
`/description` and `/openapi.json` are public. With authentication off the middleware is not
installed at all and every caller is `ANONYMOUS`.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from titan_core.api.context import PRINCIPAL
from titan_core.api.middleware import error_response
from titan_core.auth import (
    ACCESS_ATTRIBUTE,
    ALL_ROLES,
    PUBLIC,
    ROLE_READER,
    ROLE_WRITER,
    UNAUTHENTICATED,
    Principal,
)
from titan_core.credentials.api_keys import API_KEYS, ApiKeyTable
from titan_core.credentials.jwt_bearer import JWT_VERIFIER, JwtVerifier, close_jwks
from titan_core.errors import Forbidden, TitanError, Unauthorized
from titan_core.keys import HOOKS
from titan_core.logsafe import loggable
from titan_core.model.identifiers import decode_identifier
from titan_core.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# Path parameters that name a twin: a scoped principal must be allowed every one of them.
IDENTIFIER_PARAMETERS = ("aasIdentifier", "submodelIdentifier", "cdIdentifier")
PUBLIC_PATHS = ("/health", "/ready", "/description", "/openapi.json")
API_KEY_HEADER = "X-API-Key"
_READ_METHODS = frozenset({hdrs.METH_GET, hdrs.METH_HEAD})


def install_access_control(app: web.Application, settings: Settings) -> list[Middleware]:
    """Check the access settings, store the credentials on `app`, and return the middlewares to use.

    Raises `SettingsError` for settings Titan cannot use. Called by `create_app` before the plugins
    are installed, so the built-in credential plugins find their tables.
    """
    unknown = sorted(set(settings.auth_anonymous_roles) - ALL_ROLES)
    if unknown:
        raise SettingsError(
            f"setting 'auth_anonymous_roles': unknown role(s) {', '.join(unknown)}; roles: "
            f"{', '.join(sorted(ALL_ROLES))}"
        )
    keys = ApiKeyTable(settings.api_keys)
    verifier = JwtVerifier.from_settings(settings)
    # Installed even with authentication off: a transport may still ask for credentials (the
    # WebSocket plugin's `require_auth`).
    app[API_KEYS] = keys
    if verifier is not None:
        app[JWT_VERIFIER] = verifier
        app.cleanup_ctx.append(close_jwks)
    configured = bool(len(keys)) or verifier is not None
    if not settings.auth_enabled:
        if configured:
            log.warning("API keys or JWT settings are configured but auth_enabled is off: every REST "
                        "caller is anonymous with all roles (set TITAN_AUTH_ENABLED=true)")  # fmt: skip
        return []
    if not configured:
        log.warning("authentication is on but neither API keys nor a JWT key are configured: callers "
                    "get only the anonymous roles (%s) unless a titan_authenticate plugin lets them in",
                    ", ".join(settings.auth_anonymous_roles) or "none")  # fmt: skip
    return [access_middleware(settings)]


def access_middleware(settings: Settings) -> Middleware:
    """The middleware for `settings` (authentication on)."""
    anonymous = Principal(subject="anonymous", roles=frozenset(settings.auth_anonymous_roles))
    public_paths = frozenset(PUBLIC_PATHS) | {settings.api_prefix + "/description"}
    required_roles: dict[tuple[int, str], str] = {}

    def required_role(request: web.Request) -> str | None:
        """The role this request's route needs; PUBLIC ("") for open routes; None for no route (404, 405)."""
        match_info = request.match_info
        if match_info.http_exception is not None:
            return None
        route = match_info.route
        # One dict lookup per request once the route has been seen (a "*" route serves every method).
        key = (id(route), request.method)
        found = required_roles.get(key)
        if found is None:
            found = required_roles[key] = _route_role(route, request.method, public_paths)
        return found

    @web.middleware
    async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
        role = required_role(request)
        if role is None:  # no such route: its 404 or 405 follows
            request[PRINCIPAL] = UNAUTHENTICATED
            return await handler(request)
        if role == PUBLIC:
            request[PRINCIPAL] = await _optional_principal(request)
            return await handler(request)
        try:
            principal = await _authenticate(request, anonymous)
            if principal is anonymous and not principal.has_role(role):
                raise Unauthorized(
                    f"{request.method} {request.path} needs a credential: send `Authorization: Bearer "
                    f"<token>` or `{API_KEY_HEADER}: <key>`"
                )
            _check(principal, role, request)
        except TitanError as error:
            response = error_response(error)
            if error.status == 401:
                response.headers[hdrs.WWW_AUTHENTICATE] = 'Bearer realm="titan"'
            return response
        request[PRINCIPAL] = principal
        return await handler(request)

    return authorize


def _route_role(route: web.AbstractRoute, method: str, public_paths: frozenset[str]) -> str:
    marked: Any = getattr(route.handler, ACCESS_ATTRIBUTE, None)
    if isinstance(marked, str):
        return marked
    resource = route.resource
    if resource is not None and resource.canonical in public_paths:
        return PUBLIC
    return ROLE_READER if method in _READ_METHODS else ROLE_WRITER


async def _optional_principal(request: web.Request) -> Principal:
    """On a route the access check does not cover: the caller of a valid credential if one was
    sent (so a public route can tell operators more, as `/ready` does), else one with no role,
    never the all-roles `ANONYMOUS` of authentication off."""
    if request.headers.get(hdrs.AUTHORIZATION) is None and request.headers.get(API_KEY_HEADER) is None:
        return UNAUTHENTICATED
    try:
        return await _authenticate(request, UNAUTHENTICATED)
    except TitanError:
        return UNAUTHENTICATED


async def _authenticate(request: web.Request, anonymous: Principal) -> Principal:
    token = request.headers.get(hdrs.AUTHORIZATION) or request.headers.get(API_KEY_HEADER)
    if token is None:
        return anonymous
    try:
        principal = await request.app[HOOKS].authenticate(request, token)
    except TitanError:
        raise
    except Exception as exc:
        # The hook's contract: raising refuses the caller. 403 when the plugin says so.
        status = getattr(exc, "status", None)
        message = str(exc) or type(exc).__name__
        if status == 403:
            raise Forbidden(f"the credential was refused: {message}") from None
        if not isinstance(exc, PermissionError | ValueError):
            # One line per refused request: anyone can send a broken token, and a traceback each
            # time would flood the log (issue 13 L3). The traceback is kept for debugging.
            log.warning("titan_authenticate raised %s for %s %s: %s", type(exc).__name__, request.method,
                        loggable(request.path), loggable(message))  # fmt: skip
            log.debug("traceback of the titan_authenticate failure", exc_info=True)
        raise Unauthorized(f"the credential was refused: {message}") from None
    if principal is None:
        raise Unauthorized("the credential was not recognised: no API key or bearer token scheme accepts it")
    return principal


def _check(principal: Principal, role: str, request: web.Request) -> None:
    if not principal.has_role(role):
        held = ", ".join(sorted(principal.roles)) or "none"
        raise Forbidden(
            f"{principal.subject!r} may not {request.method} {request.path}: that needs the role "
            f"{role!r} (roles held: {held})"
        )
    if principal.scopes:
        for name in IDENTIFIER_PARAMETERS:
            raw = request.match_info.get(name)
            if raw is None:
                continue
            identifier = decode_identifier(raw)
            if not principal.may_access(identifier):
                raise Forbidden(
                    f"{principal.subject!r} may not access {identifier!r}: it is outside its scopes "
                    f"({', '.join(principal.scopes)})"
                )
