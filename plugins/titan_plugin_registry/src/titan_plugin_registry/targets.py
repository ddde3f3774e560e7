"""Where automatic registration writes: this instance's own registry, or a remote one over HTTP.

Both take the same three operations: register (PUT, create or replace), deregister (DELETE,
already gone is fine) and list the ids of the descriptors that point at this instance (for the
full sync's deletions). A remote registry that cannot take a request now (away, 5xx, 408, 429)
raises `RegistryUnavailable`: the sink then has Titan deliver the batch again later.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
from aiohttp import web

from titan_core.plugin_api import REPOSITORY, ROLE_WRITER, NotFound, Principal, encode_identifier, loggable
from titan_plugin_registry.config import SyncConfig
from titan_plugin_registry.descriptors import DescriptorKind
from titan_plugin_registry.registry import Registry
from titan_plugin_registry.store import Listing

log = logging.getLogger(__name__)

COLLECTIONS: dict[DescriptorKind, str] = {
    "shell_descriptor": "/shell-descriptors",
    "submodel_descriptor": "/submodel-descriptors",
}
# Who automatic registration writes to this instance's own registry as.
SYNC_PRINCIPAL = Principal(subject="plugin:registry", roles=frozenset({ROLE_WRITER}))
_PAGE = 100


class RegistryUnavailable(Exception):
    """The registry cannot take the request now; the same request may succeed later."""


class RegistryTarget(Protocol):
    display: str

    async def register(self, kind: DescriptorKind, descriptor: dict[str, Any]) -> None: ...

    async def deregister(self, kind: DescriptorKind, identifier: str) -> None: ...

    def pointing_at(self, kind: DescriptorKind, base_url: str) -> AsyncIterator[str]: ...

    async def close(self) -> None: ...


def points_at(descriptor: dict[str, Any], base_url: str) -> bool:
    """Whether any endpoint of the descriptor is below `base_url` (this instance registered it)."""
    prefix = base_url.rstrip("/") + "/"
    return any(
        str((endpoint.get("protocolInformation") or {}).get("href", "")).startswith(prefix)
        for endpoint in descriptor.get("endpoints") or []
    )


class LocalTarget:
    """This instance's own registry, written through the same code as its REST routes (and so with
    the same events)."""

    display = "this instance's registry"

    def __init__(self, app: web.Application) -> None:
        self.app = app

    @property
    def registry(self) -> Registry:
        # The Repository exists once the app has started.
        return Registry(self.app[REPOSITORY])

    async def register(self, kind: DescriptorKind, descriptor: dict[str, Any]) -> None:
        await self.registry.put(kind, descriptor["id"], descriptor, principal=SYNC_PRINCIPAL, if_match=None)

    async def deregister(self, kind: DescriptorKind, identifier: str) -> None:
        with contextlib.suppress(NotFound):  # already gone: what deregistering wants
            await self.registry.delete(kind, identifier, principal=SYNC_PRINCIPAL, if_match=None)

    async def pointing_at(self, kind: DescriptorKind, base_url: str) -> AsyncIterator[str]:
        cursor: str | None = None
        while True:
            page = await self.registry.page(kind, Listing(_PAGE, cursor), principal=SYNC_PRINCIPAL)
            for item in page.items:
                if points_at(item.document(), base_url):
                    yield item.identifier
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def close(self) -> None:
        return None


class RemoteTarget:
    """A remote AAS Registry and Submodel Registry (any Part 2 implementation) at `config.sync_to`."""

    def __init__(self, config: SyncConfig) -> None:
        self.config = config
        self.base = config.sync_to.rstrip("/")
        self.display = self.base
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0

    def _session_now(self) -> aiohttp.ClientSession:
        # Opened lazily, inside the running event loop.
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.config.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout, raise_for_status=False)
        return self._session

    async def register(self, kind: DescriptorKind, descriptor: dict[str, Any]) -> None:
        status, text = await self._request("PUT", _one(kind, descriptor["id"]), json=descriptor)
        if status not in (200, 201, 204):
            _refused("register", kind, descriptor["id"], status, text)

    async def deregister(self, kind: DescriptorKind, identifier: str) -> None:
        status, text = await self._request("DELETE", _one(kind, identifier))
        if status not in (200, 204, 404):
            _refused("deregister", kind, identifier, status, text)

    async def pointing_at(self, kind: DescriptorKind, base_url: str) -> AsyncIterator[str]:
        cursor: str | None = None
        while True:
            params = {"limit": str(_PAGE)} | ({"cursor": cursor} if cursor else {})
            status, text, body = await self._read(COLLECTIONS[kind], params)
            if status != 200 or not isinstance(body, dict):
                raise RegistryUnavailable(f"listing {COLLECTIONS[kind]} answered HTTP {status}: {text[:200]}")
            for item in body.get("result") or []:
                if isinstance(item, dict) and points_at(item, base_url):
                    yield str(item["id"])
            cursor = (body.get("paging_metadata") or {}).get("cursor")
            if not cursor:
                return

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _read(self, path: str, params: dict[str, str]) -> tuple[int, str, Any]:
        status, text = await self._request("GET", path, params=params)
        try:
            return status, text, json.loads(text)
        except ValueError:
            return status, text, None

    async def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
        """(status, body text); `RegistryUnavailable` for what may succeed later."""
        for attempt in (1, 2):
            headers = await self._credentials(refresh=attempt == 2)
            try:
                async with self._session_now().request(
                    method, self.base + path, headers=headers, **kwargs
                ) as answer:
                    status, text = answer.status, await answer.text()
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise RegistryUnavailable(f"{method} {self.base}{path}: {type(exc).__name__}: {exc}") from exc
            # An expired OAuth2 token: fetch a new one once.
            if status == 401 and attempt == 1 and self.config.oauth2_token_url:
                continue
            if status >= 500 or status in (408, 429):
                raise RegistryUnavailable(f"{method} {self.base}{path} answered HTTP {status}: {text[:200]}")
            return status, text
        return status, text

    async def _credentials(self, *, refresh: bool) -> dict[str, str]:
        if self.config.api_key:
            return {self.config.api_key_header: self.config.api_key}
        if self.config.bearer_token:
            return {"Authorization": f"Bearer {self.config.bearer_token}"}
        if self.config.oauth2_token_url:
            if refresh or self._token is None or time.monotonic() >= self._token_expires:
                await self._fetch_token()
            return {"Authorization": f"Bearer {self._token}"}
        return {}

    async def _fetch_token(self) -> None:
        """OAuth2 client credentials grant (RFC 6749 §4.4), the client authenticated with HTTP Basic."""
        form = {"grant_type": "client_credentials"} | (
            {"scope": self.config.oauth2_scope} if self.config.oauth2_scope else {}
        )
        headers = {
            "Authorization": aiohttp.encode_basic_auth(
                self.config.oauth2_client_id, self.config.oauth2_client_secret
            )
        }
        try:
            async with self._session_now().post(
                self.config.oauth2_token_url, data=form, headers=headers
            ) as answer:
                status = answer.status
                body = await answer.json(content_type=None) if status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise RegistryUnavailable(f"token endpoint {self.config.oauth2_token_url}: {exc}") from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise RegistryUnavailable(
                f"token endpoint {self.config.oauth2_token_url} answered HTTP {status} without a token"
            )
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        # Renewed a little before it runs out, so no request goes out with a token about to expire.
        seconds = float(lifetime) if isinstance(lifetime, int | float) else 300.0
        self._token, self._token_expires = token, time.monotonic() + max(seconds - 30.0, seconds / 2)


def _one(kind: DescriptorKind, identifier: str) -> str:
    return f"{COLLECTIONS[kind]}/{quote(encode_identifier(identifier), safe='')}"


def _refused(action: str, kind: DescriptorKind, identifier: str, status: int, text: str) -> None:
    # The registry read the request and refused it: the same request would be refused again, and
    # retrying forever would hold back every later change. Logged; the next change of the twin, or
    # the next full sync, tries again.
    log.error(
        "registry sync: the registry refused to %s the %s %s: HTTP %s %s",
        action, kind, loggable(identifier), status, loggable(text[:500]),
    )  # fmt: skip
