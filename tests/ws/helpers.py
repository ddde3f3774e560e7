"""The WebSocket tests' live server (`WsServer`), the token plugin standing in for access control,
and the documents the tests write; the fixtures that build them are in conftest.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, Unpack

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from titan_plugin_ws.plugin import HUB

from titan_core import hookimpl
from titan_core.auth import ROLE_READER, Principal
from titan_core.keys import BUS
from titan_core.model.identifiers import encode_identifier
from titan_core.settings import Settings

from .ws_clients import WsClient, connect, receive_type

SHELL_ID = "https://example.com/ids/aas/ws-pump"
SM_ID = "https://example.com/ids/sm/ws-operation"
OTHER_SM_ID = "https://example.com/ids/sm/ws-other"
TEMPERATURE_SEMANTIC_ID = "0173-1#02-AAO677#002"
# The public base URL of `public_ws_server`: the async-aas profile names event sources under it.
PUBLIC_BASE = "https://twins.example.com/api/v3.0"


# --- A token plugin, standing in for the access-control module ---------------------------------


PRINCIPALS = {
    "reader-token": Principal("reader", frozenset({ROLE_READER})),
    "no-role-token": Principal("nobody", frozenset()),
    "scoped-token": Principal("scoped", frozenset({ROLE_READER}), scopes=(SM_ID,)),
}


class TokenPlugin:
    """Known tokens, `expires-in-<seconds>` tokens, a scheme that breaks on `broken-token`, and a
    refusal for anything else."""

    @hookimpl
    def titan_authenticate(self, request: web.Request, token: str | None) -> Principal | None:
        if token is None:
            return None
        token = token.removeprefix("Bearer ")
        if token.startswith("expires-in-"):
            seconds = float(token.removeprefix("expires-in-"))
            return Principal("expiring", frozenset({ROLE_READER}), expires_at=time.time() + seconds)
        if token in PRINCIPALS:
            return PRINCIPALS[token]
        if token == "broken-token":  # a scheme with a bug, its message carrying a forged log line
            raise RuntimeError("the scheme broke\nINFO titan: admin logged in")
        raise PermissionError("unknown token")


# --- Live servers --------------------------------------------------------------------------------


class ConnectOptions(TypedDict, total=False):
    """The keyword arguments of `WsServer.connect`."""

    query: str
    headers: Mapping[str, str] | None
    origin: str | None


@dataclass
class WsServer:
    server: TestServer
    http: aiohttp.ClientSession
    clients: list[WsClient] = field(default_factory=list)

    @property
    def app(self) -> web.Application:
        return self.server.app

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    @property
    def ws_url(self) -> str:
        return self.url("/ws/events").replace("http://", "ws://")

    async def connect(
        self,
        kind: str,
        *,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        origin: str | None = None,
    ) -> WsClient:
        client = await connect(kind, self.ws_url + query, headers=headers, origin=origin)
        self.clients.append(client)
        return client

    async def welcomed(self, kind: str, **options: Unpack[ConnectOptions]) -> WsClient:
        """A connected client whose `welcome` was read: where most tests start."""
        client = await self.connect(kind, **options)
        await receive_type(client, "welcome")
        return client

    def principals(self) -> list[tuple[str, frozenset[str]]]:
        """Who the server thinks each accepted connection's caller is: (subject, roles), sorted.

        Read from the plugin's hub, since the wire protocol names no principal (DESIGN §4's welcome
        carries none); a connection is accepted, and has its principal, before `welcome` is sent.
        """
        found = [
            (connection.principal.subject, connection.principal.roles)
            for connection in self.app[HUB].connections
            if connection.principal is not None
        ]
        return sorted(found, key=lambda principal: (principal[0], sorted(principal[1])))

    async def write(self, method: str, path: str, body: Any = None, expect: int | None = None) -> None:
        async with self.http.request(method, self.url(path), json=body) as response:
            text = await response.text()
            if expect is not None:
                assert response.status == expect, f"{method} {path}: {response.status} {text}"
            else:
                assert response.status < 300, f"{method} {path}: {response.status} {text}"

    async def set_value(self, path: str, value: Any, submodel: str = SM_ID) -> None:
        await self.write("PATCH", f"/submodels/{encode_identifier(submodel)}/submodel-elements/{path}/$value",
                         value, expect=204)  # fmt: skip

    async def load_twin(self) -> None:
        """A shell referencing one submodel (with nested and semantic elements), and another submodel."""
        await self.write("POST", "/submodels", operation_submodel(SM_ID), expect=201)
        await self.write("POST", "/submodels", operation_submodel(OTHER_SM_ID), expect=201)
        await self.write("POST", "/shells", shell(SHELL_ID, SM_ID), expect=201)
        await self.published(3)

    async def published(self, seq: int, timeout: float = 10.0) -> None:
        """Wait until the bus has published titanseq `seq` (a REST write returns at commit)."""
        deadline = time.monotonic() + timeout
        while self.app[BUS].head() < seq:
            assert time.monotonic() < deadline, f"titanseq {seq} not published within {timeout} s"
            await asyncio.sleep(0.01)


class WsServerFactory(Protocol):
    async def __call__(
        self,
        settings: Settings | None = None,
        /,
        *,
        ws: Mapping[str, Any] | None = None,
        tokens: bool = False,
    ) -> WsServer: ...


# --- Documents -----------------------------------------------------------------------------------


def operation_submodel(identifier: str) -> dict[str, Any]:
    return {
        "modelType": "Submodel",
        "id": identifier,
        "idShort": "Operation",
        "submodelElements": [
            {
                "modelType": "Property",
                "idShort": "Temperature",
                "valueType": "xs:double",
                "value": "20.0",
                "semanticId": {
                    "type": "ExternalReference",
                    "keys": [{"type": "GlobalReference", "value": TEMPERATURE_SEMANTIC_ID}],
                },
            },
            {"modelType": "Property", "idShort": "Speed", "valueType": "xs:int", "value": "0"},
            {"modelType": "Property", "idShort": "SpeedLimit", "valueType": "xs:int", "value": "100"},
            {
                "modelType": "SubmodelElementCollection",
                "idShort": "Motor",
                "value": [
                    {"modelType": "Property", "idShort": "Current", "valueType": "xs:double", "value": "1.0"}
                ],
            },
        ],
    }


def shell(identifier: str, *submodels: str) -> dict[str, Any]:
    return {
        "modelType": "AssetAdministrationShell",
        "id": identifier,
        "idShort": "Pump",
        "assetInformation": {"assetKind": "Instance", "globalAssetId": identifier + "/asset"},
        "submodels": [
            {"type": "ModelReference", "keys": [{"type": "Submodel", "value": submodel}]}
            for submodel in submodels
        ],
    }
