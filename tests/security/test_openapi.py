"""`/openapi.json`: derived from the official IDTA files shipped in the package, listing exactly the
routes the server serves, with every `$ref` resolvable inside the document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from tests.support.app import AppClient, AppClientFactory
from tests.support.data import TEST_DATA
from titan_core import hookimpl
from titan_core.api.openapi import SPEC_DIRECTORY
from titan_core.keys import SETTINGS
from titan_core.plugins import TitanPluginManager
from titan_core.settings import Settings
from titan_core.testing import json_refs

OFFICIAL = TEST_DATA / "aas-api-v3.1"
SHIPPED = {
    "entire-api-collection-v3.1.json": "Entire-API-Collection/V3.1.yaml",
    "part1-metamodel-schemas.json": "Part1-MetaModel-Schemas/openapi.yaml",
    "part2-api-schemas.json": "Part2-API-Schemas/openapi.yaml",
}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"


async def openapi(client: AppClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status == 200
    document: dict[str, Any] = await response.json()
    return document


def routes_of(app: web.Application) -> set[tuple[str, str]]:
    prefix = app[SETTINGS].api_prefix
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method != "HEAD" and not path.startswith(prefix + "/"):
            found.add((path, route.method.lower()))
    return found


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


async def test_the_document_lists_exactly_the_routes_served(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await make_app_client(settings, plugin_manager=core_plugins)

    document = await openapi(client)

    listed = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert listed == routes_of(client.server.app)
    assert document["openapi"] == "3.1.0"
    assert document["paths"]["/shells"]["get"]["operationId"] == "GetAllAssetAdministrationShells"
    assert document["paths"]["/events"]["get"]["operationId"] == "GetEvents"
    assert "/shell-descriptors" not in document["paths"]  # a registry route Titan does not serve


async def test_every_reference_is_local_and_resolves(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await make_app_client(settings, plugin_manager=core_plugins)

    document = await openapi(client)

    found = set(json_refs(document))
    assert len(found) > 100
    for ref in found:
        assert resolve(document, ref) is not None, ref  # a swaggerhub URL would fail here


async def test_a_superpath_missing_from_the_official_files_is_described_from_the_submodel_path(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await make_app_client(settings, plugin_manager=core_plugins)

    document = await openapi(client)

    item = document["paths"][
        "/shells/{aasIdentifier}/submodels/{submodelIdentifier}/submodel-elements/{idShortPath}/invoke-async"
    ]
    assert item["post"]["operationId"].endswith("_AasRepository")
    assert {"$ref": "#/components/parameters/AssetAdministrationShellIdentifier"} in item["parameters"]


async def test_a_plugin_route_is_listed_and_public_routes_need_no_credential(
    make_app_client: AppClientFactory, secure_settings: Settings, core_plugins: TitanPluginManager
) -> None:
    class Extra:
        @hookimpl
        def titan_setup_app(self, app: web.Application) -> None:
            async def status(request: web.Request) -> web.Response:
                return web.json_response({})

            app.router.add_get("/extra/{thing}", status)

    core_plugins.add_plugin(Extra(), "extra")
    client = await make_app_client(secure_settings, plugin_manager=core_plugins)

    document = await openapi(client)

    assert document["paths"]["/extra/{thing}"]["get"]["parameters"][0]["name"] == "thing"
    assert document["security"] == [{"bearer": []}, {"apiKey": []}]
    assert document["paths"]["/health"]["get"]["security"] == []
    assert "security" not in document["paths"]["/shells"]["get"]


@pytest.mark.parametrize(("shipped", "official"), SHIPPED.items())
def test_the_shipped_files_are_the_official_ones(shipped: str, official: str) -> None:
    ours = json.loads((SPEC_DIRECTORY / shipped).read_text(encoding="utf-8"))
    theirs = yaml.safe_load((OFFICIAL / official).read_text(encoding="utf-8"))

    assert ours == theirs


def test_the_licence_and_attribution_ship_with_the_files() -> None:
    notice = (SPEC_DIRECTORY / "NOTICE.md").read_text(encoding="utf-8")
    licence = (SPEC_DIRECTORY / "LICENSE.txt").read_text(encoding="utf-8")

    assert "Attribution 4.0 International" in licence
    assert "Industrial Digital Twin Association" in notice and "CC BY 4.0" in notice
    assert set(SHIPPED) <= {path.name for path in SPEC_DIRECTORY.iterdir()}
