"""Helpers of the autoregister tests: twins to write, reading descriptors, and a gate in front of a
registry that checks credentials (API key, bearer token, or tokens of its own OAuth2 token
endpoint) and can be taken away (503) and brought back."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from titan_core.plugin_api import encode_identifier
from titan_core.testing import AppClient, unused_port, wait_for_delivery

BASE = "https://titan-a.example/api/v3.0"


def shell(
    identifier: str, *, asset: str, id_short: str = "Pump", submodels: tuple[str, ...] = ()
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "modelType": "AssetAdministrationShell", "id": identifier, "idShort": id_short,
        "assetInformation": {"assetKind": "Instance", "globalAssetId": asset,
                             "specificAssetIds": [{"name": "serialNumber", "value": f"SN-{asset}"}]},
    }  # fmt: skip
    if submodels:  # Part 1: a list, when given, has at least one item
        document["submodels"] = [{"type": "ModelReference", "keys": [{"type": "Submodel", "value": sm}]}
                                 for sm in submodels]  # fmt: skip
    return document


def submodel(identifier: str, *, semantic_id: str = "urn:nameplate") -> dict[str, Any]:
    semantic = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": semantic_id}]}
    return {"modelType": "Submodel", "id": identifier, "idShort": "Nameplate", "semanticId": semantic}


def asset_query(name: str, value: str) -> str:
    """The `assetIds` value of `GET /lookup/shells` for one asset link."""
    raw = json.dumps({"name": name, "value": value}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def read(client: AppClient, path: str) -> Any:
    """The JSON at `path`, or None for a 404."""
    response = await client.get(path)
    if response.status == 404:
        return None
    assert response.status == 200, f"GET {path}: {response.status} {await response.text()}"
    return await response.json()


async def every_id(client: AppClient, collection: str) -> list[str]:
    found: list[str] = []
    cursor = ""
    while True:
        page = await read(client, f"{collection}?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        found += [item["id"] for item in page["result"]]
        cursor = page["paging_metadata"].get("cursor", "")
        if not cursor:
            return sorted(found)


async def eventually(client: AppClient, path: str, check: Callable[[Any], bool], what: str) -> Any:
    """Wait (15 s at most) until the document at `path` passes `check`; return it."""
    last: list[Any] = [None]

    async def holds() -> bool:
        last[0] = await read(client, path)
        return check(last[0])

    await wait_for_delivery(holds, timeout=15, message=lambda: f"{what}: GET {path} is {last[0]!r}")
    return last[0]


def descriptor_path(identifier: str, collection: str = "/shell-descriptors") -> str:
    return f"{collection}/{encode_identifier(identifier)}"


class RegistryGate:
    """A proxy in front of `upstream` that lets through only requests with the expected credential.

    `credential`: "api_key" (header X-API-Key: k-4711), "bearer_token" (Bearer t-4711) or "oauth2"
    (a token from its own endpoint `/token`, client credentials titan-a:s3cret, scope registry,
    lifetime `token_lifetime` s). `away = True` answers 503 to everything, as a registry that is down.
    """

    def __init__(self, upstream: str, credential: str, *, token_lifetime: int = 3600) -> None:
        self.upstream = upstream.rstrip("/")
        self.credential = credential
        self.token_lifetime = token_lifetime
        self.port = unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.away = False
        self.tokens: list[str] = []
        self.valid_tokens: set[str] = set()
        self.passed = 0
        self.refused = 0
        self.turned_away = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def settings(self) -> dict[str, str]:
        """The autoregister settings (TITAN_AUTOREGISTER_*) that pass this gate."""
        return {
            "api_key": {"api_key": "k-4711"},
            "bearer_token": {"bearer_token": "t-4711"},
            "oauth2": {
                "oauth2_token_url": f"{self.url}/token",
                "oauth2_client_id": "titan-a",
                "oauth2_client_secret": "s3cret",
                "oauth2_scope": "registry",
            },
        }[self.credential]

    def revoke_tokens(self) -> None:
        self.valid_tokens.clear()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        assert self._runner is not None and self._session is not None, "stop() without start()"
        await self._runner.cleanup()
        await self._session.close()

    async def _token(self, request: web.Request) -> web.Response:
        # RFC 6749: the client authenticates with HTTP Basic; a grant or scope not offered is a 400.
        if request.headers.get("Authorization") != aiohttp.encode_basic_auth("titan-a", "s3cret"):
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        if (form.get("grant_type"), form.get("scope")) != ("client_credentials", "registry"):
            return web.json_response({"error": "invalid_request"}, status=400)
        token = f"token-{len(self.tokens) + 1}"
        self.tokens.append(token)
        self.valid_tokens.add(token)
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        )

    def _admits(self, request: web.Request) -> bool:
        if self.credential == "api_key":
            return request.headers.get("X-API-Key") == "k-4711"
        authorization = request.headers.get("Authorization", "")
        if self.credential == "bearer_token":
            return authorization == "Bearer t-4711"
        return authorization.removeprefix("Bearer ") in self.valid_tokens

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if self.away:
            self.turned_away += 1
            return web.Response(status=503, text="registry down for maintenance")
        if not self._admits(request):
            self.refused += 1
            return web.Response(status=401, text="who are you?")
        self.passed += 1
        assert self._session is not None
        headers = {name: value for name, value in request.headers.items() if name.lower() == "content-type"}
        async with self._session.request(
            request.method,
            self.upstream + request.rel_url.raw_path_qs,
            data=await request.read(),
            headers=headers,
        ) as answer:
            kept = {
                name: value
                for name, value in answer.headers.items()
                if name.lower() in ("content-type", "etag")
            }
            return web.Response(status=answer.status, body=await answer.read(), headers=kept)
