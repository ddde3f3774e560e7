"""Who may connect: the Origin allowlist, and credentials checked through the core's
`titan_authenticate` hook (with the core's rules for callers without one).
"""

from __future__ import annotations

import logging

from aiohttp import hdrs, web

from titan_core.plugin_api import ANONYMOUS, BROWSER_POLICY, ROLE_READER, SETTINGS, Principal, loggable
from titan_core.plugin_api import authenticate as who_presents
from titan_plugin_ws.protocol import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED

log = logging.getLogger(__name__)

# The header REST takes API keys in (titan_core.api.authorization); programs may use it here too.
API_KEY_HEADER = "X-API-Key"


class Refused(Exception):
    """The client may not (or no longer) use the connection; `close_code` is 4401 or 4403."""

    def __init__(self, close_code: int, message: str) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.message = message


def core_requires_auth(request: web.Request) -> bool:
    """Whether the core's authentication is on (setting `auth_enabled`)."""
    return request.app[SETTINGS].auth_enabled


def presented_token(request: web.Request) -> str | None:
    """The credential on the upgrade request: `?token=`, else the `Authorization` or `X-API-Key`
    header (programs can send headers; browsers cannot on a WebSocket)."""
    token = request.query.get("token")
    if token:
        return token
    return request.headers.get(hdrs.AUTHORIZATION) or request.headers.get(API_KEY_HEADER) or None


async def authenticate(request: web.Request, token: str | None, *, required: bool) -> Principal | None:
    """The principal behind `token`; None when none was presented and one is required.

    A token no plugin claims is refused when authentication is required, and is the anonymous
    principal otherwise (as for REST). A plugin that raises refuses the token: `Refused(4401)`, or
    4403 when its exception carries HTTP status 403. A principal without the reader role is refused
    with 4403: it could not receive any event.
    """
    try:
        principal = await who_presents(request, token)
    except Exception as exc:
        status = getattr(exc, "status", None)
        message = str(getattr(exc, "message", None) or exc) or type(exc).__name__
        if not isinstance(exc, PermissionError | ValueError) and status is None:
            # One escaped line per refused connection, as for REST (issue 13 L2, L3): anyone can send
            # a token that breaks a scheme. The traceback is kept for debugging.
            log.warning("titan_authenticate raised %s on a WebSocket connection: %s",
                        type(exc).__name__, loggable(message))  # fmt: skip
            log.debug("traceback of the titan_authenticate failure", exc_info=True)
        code = CLOSE_FORBIDDEN if status == 403 else CLOSE_UNAUTHENTICATED
        raise Refused(code, f"credential refused: {message}") from None
    if principal is None:
        if required and token is not None:
            raise Refused(
                CLOSE_UNAUTHENTICATED, "credential refused: no authentication scheme accepts this token"
            )
        anonymous_roles = frozenset(request.app[SETTINGS].auth_anonymous_roles)
        if required and not anonymous_roles:
            return None
        # As for REST: without a credential, the anonymous roles the settings give (all, with auth off).
        principal = Principal("anonymous", anonymous_roles) if required else ANONYMOUS
    if not principal.has_role(ROLE_READER):
        raise Refused(CLOSE_FORBIDDEN, f"{principal.subject} lacks the reader role needed to receive events")
    return principal


def origin_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """Browsers send `Origin`; it must be one the core allows (its own origin, `allowed_origins`,
    `cors_allowed_origins`) or one listed in `allowed` (the `[ws]` setting, "*" for any).

    Never compared with the `Host` header alone: a DNS-rebinding page sets both to its own name.
    The core's own origin counts only for a Host it answers (setting `allowed_hosts`), which its
    middleware has checked before this upgrade request arrived. Programs that send no Origin
    header are not browsers and are let through: they are not the victims of cross-site WebSocket
    hijacking this check is against.
    """
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return True
    if "*" in allowed or origin.strip().rstrip("/").lower() in allowed:
        return True
    policy = request.app.get(BROWSER_POLICY)
    return policy is not None and policy.origin_allowed(origin, request.headers.get(hdrs.HOST))
