"""The built-in credentials: static API keys and JWT bearer tokens, each a `titan_authenticate`
implementation registered as a built-in plugin; `build_credentials` checks their settings once.
"""

from __future__ import annotations

AUTH_SCHEMES = ("bearer ", "apikey ")


def bare_token(token: str | None) -> str | None:
    """The credential without its scheme: `Bearer x`, `ApiKey x` and a bare `x` all give `x`.

    The token reaches `titan_authenticate` as the `Authorization` header value, the `X-API-Key`
    header value, or (WebSocket) as sent in `?token=` or an `auth` message.
    """
    if token is None:
        return None
    stripped = token.strip()
    lowered = stripped[:7].lower()
    for scheme in AUTH_SCHEMES:
        if lowered.startswith(scheme):
            stripped = stripped[len(scheme) :].strip()
            break
    return stripped or None
