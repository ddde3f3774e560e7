"""`GET /` points a newcomer at the console (where the ws plugin serves it), the API docs and the
OpenAPI document; `GET /docs` lists every route. Both answer without credentials (issue 12, CLI)."""

from __future__ import annotations

import pytest
import titan_plugin_ws.plugin

from tests.support.app import AppClientFactory
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _manager(settings: Settings, *, ws: bool) -> object:
    manager = get_plugin_manager(settings, load_entry_points=False)
    if ws:
        manager.add_plugin(titan_plugin_ws.plugin, "ws", distribution="titan-aas-ws")
    return manager


@SQLITE_ONLY
async def test_home_links_the_console_docs_and_openapi_when_the_ws_plugin_is_installed(
    settings: Settings, make_app_client: AppClientFactory
) -> None:
    client = await make_app_client(settings, plugin_manager=_manager(settings, ws=True))

    response = await client.get("/")
    body = await response.json()

    assert response.status == 200
    hrefs = {name: link["href"] for name, link in body["links"].items()}
    assert (hrefs["console"], hrefs["docs"], hrefs["openapi"]) == ("/ws/console", "/docs", "/openapi.json")
    assert body["distribution"] == "titan-aas"
    for href in ("/ws/console", "/docs", "/openapi.json"):
        assert (await client.get(href)).status == 200, href


@SQLITE_ONLY
async def test_home_leaves_out_the_console_without_the_ws_plugin(
    settings: Settings, make_app_client: AppClientFactory
) -> None:
    client = await make_app_client(settings, plugin_manager=_manager(settings, ws=False))

    body = await (await client.get("/")).json()

    assert "console" not in body["links"] and body["links"]["openapi"]["href"] == "/openapi.json"


@SQLITE_ONLY
async def test_a_browser_gets_home_and_docs_as_html_pages(
    settings: Settings, make_app_client: AppClientFactory
) -> None:
    client = await make_app_client(settings, plugin_manager=_manager(settings, ws=True))

    home = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    docs = await client.get("/docs")
    page = await docs.text()

    assert home.content_type == "text/html"
    assert 'href="/ws/console"' in await home.text() and 'href="/openapi.json"' in await home.text()
    assert docs.content_type == "text/html"
    assert "<code>/shells/{aasIdentifier}</code>" in page and "<code>/ws/events</code>" in page


@SQLITE_ONLY
async def test_home_and_docs_answer_without_credentials_when_authentication_is_on(
    settings: Settings, make_app_client: AppClientFactory
) -> None:
    secured = settings.replace(auth_enabled=True, jwt_secret="s" * 32, jwt_issuer="i", jwt_audience="a")
    client = await make_app_client(secured, plugin_manager=_manager(secured, ws=False))

    home = await client.get("/")
    docs = await client.get("/docs")

    assert home.status == 200 and (await home.json())["distribution"] == "titan-aas"
    assert docs.status == 200 and "<code>/shells/{aasIdentifier}</code>" in await docs.text()
    assert (await client.get("/shells")).status == 401
