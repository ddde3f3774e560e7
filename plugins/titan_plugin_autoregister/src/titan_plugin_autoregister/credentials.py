"""The credential sent to the registry and the discovery: an API key header, a fixed bearer token,
or an OAuth2 access token got with the client credentials grant (RFC 6749, section 4.4), cached
until shortly before it expires and fetched anew when the service answers 401."""

from __future__ import annotations

import time

import aiohttp

from titan_plugin_autoregister.config import AutoregisterConfig, display_url

# A token is renewed this many seconds before the token endpoint said it expires (never less
# than half its lifetime), so no request goes out with a token about to run out.
_RENEW_EARLY = 30.0
# Lifetime assumed when the token endpoint gives no expires_in.
_DEFAULT_LIFETIME = 300.0


class ServiceAway(Exception):
    """The registry, discovery or token endpoint cannot take the request now; it may later."""


class Credentials:
    """Headers for one request; `refresh()` after a 401 (only OAuth2 can do anything about it)."""

    def __init__(self, config: AutoregisterConfig) -> None:
        self.config = config
        self._token: str | None = None
        self._renew_at = 0.0
        self.tokens_fetched = 0

    @property
    def refreshable(self) -> bool:
        return bool(self.config.oauth2_token_url)

    async def headers(self, session: aiohttp.ClientSession) -> dict[str, str]:
        config = self.config
        if config.api_key:
            return {config.api_key_header: config.api_key}
        if config.bearer_token:
            return {"Authorization": f"Bearer {config.bearer_token}"}
        if config.oauth2_token_url:
            if self._token is None or time.monotonic() >= self._renew_at:
                await self._fetch_token(session)
            return {"Authorization": f"Bearer {self._token}"}
        return {}

    def refresh(self) -> None:
        """Forget the cached token: the next request fetches a new one."""
        self._token = None

    async def _fetch_token(self, session: aiohttp.ClientSession) -> None:
        config = self.config
        form = {"grant_type": "client_credentials"}
        if config.oauth2_scope:
            form["scope"] = config.oauth2_scope
        # The client authenticates with HTTP Basic (RFC 6749, section 2.3.1), as every server must accept.
        headers = {
            "Accept": "application/json",
            "Authorization": aiohttp.encode_basic_auth(config.oauth2_client_id, config.oauth2_client_secret),
        }
        where = display_url(config.oauth2_token_url)
        try:
            async with session.post(config.oauth2_token_url, data=form, headers=headers) as answer:
                status = answer.status
                body = await answer.json(content_type=None) if status == 200 else await answer.text()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ServiceAway(f"token endpoint {where}: {type(exc).__name__}: {exc}") from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(token, str) or not token:
            # A refused client (400, 401) stays refused until the settings change; still, raising
            # keeps every change waiting for the day they do, instead of dropping it.
            raise ServiceAway(
                f"token endpoint {where} answered HTTP {status} without an access_token: {str(body)[:200]}"
            )
        lifetime = body.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else _DEFAULT_LIFETIME
        self._token = token
        self._renew_at = time.monotonic() + max(seconds - _RENEW_EARLY, seconds / 2)
        self.tokens_fetched += 1
