"""The signing keys published at a JWKS URL: fetched when first needed, kept `cache_seconds`, and
fetched again for a `kid` the cached set lacks at most once per `JWKS_MIN_REFRESH_SECONDS`.

One fetch runs at a time and everyone who needs it shares it. A token whose `kid` is already known
never waits for a fetch: an expired cache is refreshed in the background while the keys fetched
before keep serving, so a slow or hostile JWKS (or a flood of tokens naming unknown keys) cannot
hold up callers whose keys are known.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt

from titan_core.errors import TitanError, Unauthorized

log = logging.getLogger(__name__)

# A token naming a key the cached JWKS lacks triggers a refetch, at most this often.
JWKS_MIN_REFRESH_SECONDS = 10.0
JWKS_FETCH_TIMEOUT_SECONDS = 5.0


@dataclass
class ServiceUnavailable(TitanError):
    status: int = 503
    code: str = "ServiceUnavailable"


class JwksKeys:
    """The keys of one JWKS URL; `fetches` counts the fetches started (for tests and operators)."""

    def __init__(self, url: str, cache_seconds: float) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.fetches = 0
        self._keys: jwt.PyJWKSet | None = None
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._fetch: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def key_for(self, token: str) -> Any:
        """The public key that signed `token` (by its `kid`); `Unauthorized` if none does,
        `ServiceUnavailable` if no key set could be fetched yet."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the bearer token is malformed: {exc}") from None
        now = time.monotonic()
        keys = self._keys
        if keys is None:
            keys = await self._fetched()
        elif now - self._fetched_at >= self.cache_seconds and self._may_fetch(now):
            self._start_fetch()  # in the background: the keys fetched before serve meanwhile
        found = _find_key(keys, kid)
        if found is None and self._may_fetch(now):
            # A key the cache lacks: the issuer may have rotated its keys since the last fetch.
            keys = await self._fetched()
            found = _find_key(keys, kid)
        if found is None:
            raise Unauthorized(
                "the bearer token names a signing key (kid) the identity provider does not publish"
            )
        return found.key

    async def close(self) -> None:
        if self._fetch is not None:
            self._fetch.cancel()
            await asyncio.gather(self._fetch, return_exceptions=True)
            self._fetch = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _may_fetch(self, now: float) -> bool:
        running = self._fetch is not None and not self._fetch.done()
        return running or now - self._attempted_at >= JWKS_MIN_REFRESH_SECONDS

    def _start_fetch(self) -> asyncio.Task[None]:
        """The fetch under way, or a new one; never two at once."""
        if self._fetch is None or self._fetch.done():
            self._attempted_at = time.monotonic()
            self._fetch = asyncio.get_running_loop().create_task(self._fetch_and_keep())
        return self._fetch

    async def _fetched(self) -> jwt.PyJWKSet:
        """The keys after the current (or a new) fetch has ended."""
        # Shielded: a caller that gives up (client gone) must not cancel everyone's fetch.
        await asyncio.shield(self._start_fetch())
        if self._keys is None:
            raise ServiceUnavailable(
                "bearer tokens cannot be verified now: the identity provider's key set is unreachable"
            )
        return self._keys

    async def _fetch_and_keep(self) -> None:
        try:
            keys = await self._download()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._keys is None:
                log.warning("cannot fetch the JWKS at %s: %s", self.url, exc or type(exc).__name__)
            else:
                log.warning("cannot refresh the JWKS at %s (keeping the keys fetched before): %s", self.url,
                            exc or type(exc).__name__)  # fmt: skip
            return
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _download(self) -> jwt.PyJWKSet:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=JWKS_FETCH_TIMEOUT_SECONDS)
            )
        self.fetches += 1
        async with self._session.get(self.url) as response:
            response.raise_for_status()
            document = await response.json(content_type=None)
        if not isinstance(document, dict):
            raise ValueError("the JWKS is not a JSON object")
        return jwt.PyJWKSet.from_dict(document)


def _find_key(keys: jwt.PyJWKSet, kid: object) -> jwt.PyJWK | None:
    signing = [key for key in keys.keys if key.public_key_use in (None, "sig")]
    if kid is None:
        # Without a kid only an unambiguous set will do.
        return signing[0] if len(signing) == 1 else None
    return next((key for key in signing if key.key_id == kid), None)
