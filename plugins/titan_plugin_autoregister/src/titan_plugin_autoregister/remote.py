"""The registry and the discovery, spoken to over HTTP (Part 2): register (PUT), deregister
(DELETE), list the descriptors, replace and remove a shell's asset links.

Answers are sorted into three outcomes. Done (2xx; 404 for a deletion: already gone). Away
(connection error, timeout, 5xx, 408, 429): `ServiceAway` is raised, the sink raises with it and
Titan delivers the batch again later, so nothing is lost while the service is away. Refused (any
other 4xx): the service read the request and will refuse the same bytes again; retrying would hold
back every later change of this in-order sink, so the refusal is logged and counted, and the next
change of the twin or the next full sync tries again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from titan_core.plugin_api import encode_identifier, loggable
from titan_plugin_autoregister.config import AutoregisterConfig, display_url
from titan_plugin_autoregister.credentials import Credentials, ServiceAway

log = logging.getLogger(__name__)

SHELL_DESCRIPTORS = "/shell-descriptors"
SUBMODEL_DESCRIPTORS = "/submodel-descriptors"
LOOKUP_SHELLS = "/lookup/shells"
_LIST_PAGE = 100


class Services:
    """One HTTP session for the registry, the discovery and the token endpoint; opened lazily."""

    def __init__(self, config: AutoregisterConfig) -> None:
        self.config = config
        self.credentials = Credentials(config)
        self._session: aiohttp.ClientSession | None = None
        self.refused = 0
        self.last_refusal = ""
        # Wall-clock times of the last refusal and the last change done, for the health report.
        self.last_refused_at: float | None = None
        self.last_done_at: float | None = None

    @property
    def refusing(self) -> bool:
        """A change was refused and none has been done since."""
        return self.last_refused_at is not None and (self.last_done_at or 0.0) < self.last_refused_at

    async def register(self, collection: str, descriptor: Mapping[str, Any]) -> None:
        url = f"{self.config.registry_url}{collection}/{encode_identifier(str(descriptor['id']))}"
        await self._change("PUT", url, descriptor, what=f"register {descriptor['id']!r} at {collection}")

    async def deregister(self, collection: str, identifier: str) -> None:
        url = f"{self.config.registry_url}{collection}/{encode_identifier(identifier)}"
        await self._change("DELETE", url, None, what=f"deregister {identifier!r} at {collection}")

    async def link(self, shell_id: str, links: list[dict[str, Any]]) -> None:
        """Replace the shell's asset links (POST replaces; with no links, DELETE removes them)."""
        url = f"{self.config.discovery_url}{LOOKUP_SHELLS}/{encode_identifier(shell_id)}"
        if links:
            await self._change("POST", url, links, what=f"link the assets of {shell_id!r}")
        else:
            await self._change("DELETE", url, None, what=f"unlink the assets of {shell_id!r}")

    async def descriptors(self, collection: str) -> AsyncIterator[dict[str, Any]]:
        """Every descriptor the registry lists under `collection`, page by page."""
        cursor = ""
        while True:
            query = {"limit": str(_LIST_PAGE)} | ({"cursor": cursor} if cursor else {})
            status, text = await self._send("GET", f"{self.config.registry_url}{collection}", None, query)
            try:
                page = json.loads(text) if status == 200 else None
            except ValueError:
                page = None
            if not isinstance(page, dict) or not isinstance(page.get("result"), list):
                # Without the list the reconciliation cannot tell what is stale: try again later.
                raise ServiceAway(f"GET {display_url(self.config.registry_url)}{collection} answered HTTP "
                                  f"{status}, not a paged result: {text[:200]}")  # fmt: skip
            for item in page["result"]:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    yield item
            cursor = str((page.get("paging_metadata") or {}).get("cursor") or "")
            if not cursor:
                return

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _change(self, method: str, url: str, body: Any, *, what: str) -> None:
        status, text = await self._send(method, url, body)
        if 200 <= status < 300 or (method == "DELETE" and status == 404):
            self.last_done_at = time.time()
            return
        self.refused += 1
        self.last_refusal = f"{what}: HTTP {status}"
        self.last_refused_at = time.time()
        log.error("autoregister: %s was refused with HTTP %s, %s; not retried (the next change or full sync "
                  "tries again)", loggable(what), status, loggable(text[:500]))  # fmt: skip

    async def _send(
        self, method: str, url: str, body: Any, query: Mapping[str, str] | None = None
    ) -> tuple[int, str]:
        session = self._session_now()
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            headers = await self.credentials.headers(session)
            if data is not None:
                headers["Content-Type"] = "application/json"
            try:
                async with session.request(
                    method, url, data=data, params=query, headers=headers, allow_redirects=False
                ) as answer:
                    status, text = answer.status, await answer.text()
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise ServiceAway(f"{method} {display_url(url)}: {type(exc).__name__}: {exc}") from exc
            if status == 401 and attempt == 1 and self.credentials.refreshable:
                self.credentials.refresh()  # the token expired early or was revoked: one new one
                continue
            break
        if status >= 500 or status in (408, 429):
            raise ServiceAway(f"{method} {display_url(url)} answered HTTP {status}: {text[:200]}")
        return status, text

    def _session_now(self) -> aiohttp.ClientSession:
        # Created inside the running event loop, which a ClientSession belongs to.
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout))
        return self._session
