"""What anyone who reaches the port learns, with authentication on (issue 13, informational): a route
the access check skips runs with no role (never the all-roles anonymous principal), `/ready` gives
anonymous callers the status and nothing about hosts, processes or versions, and `Server` names no
versions."""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.support.app import AppClient, AppClientFactory
from titan_core import hookimpl
from titan_core.api.context import principal, repository
from titan_core.auth import public
from titan_core.errors import TitanError
from titan_core.plugins import TitanPluginManager
from titan_core.settings import Settings

from .stored import load_twins
from .twins import SHELL_ID, api_key

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class CarelessPublicRoute:
    """A plugin route marked public that reads a twin anyway, as the caller."""

    @hookimpl
    def titan_setup_app(self, app: web.Application) -> None:
        @public
        async def peek(request: web.Request) -> web.Response:
            try:
                stored = await repository(request).get("shell", SHELL_ID, principal=principal(request))
            except TitanError as refused:
                return web.json_response({"refused": refused.status})
            return web.json_response({"read": stored.identifier})

        app.router.add_get("/peek", peek)


@SQLITE_ONLY
async def test_a_public_route_reads_nothing_as_an_anonymous_caller(
    make_app_client: AppClientFactory, secure_settings: Settings, core_plugins: TitanPluginManager
) -> None:
    core_plugins.add_plugin(CarelessPublicRoute(), "careless")
    client = await make_app_client(secure_settings, plugin_manager=core_plugins)
    await load_twins(client.server.app)

    anonymous = await client.get("/peek")
    known = await client.get("/peek", headers=api_key("reader"))

    assert await anonymous.json() == {"refused": 403}
    assert await known.json() == {"read": SHELL_ID}


@SQLITE_ONLY
async def test_ready_tells_anonymous_callers_only_the_status(secure_client: AppClient) -> None:
    anonymous = await secure_client.get("/ready")
    operator = await secure_client.get("/ready", headers=api_key("reader"))
    body, full = await anonymous.json(), await operator.json()

    assert anonymous.status == operator.status == 200
    assert set(body) == {"status", "checks"}
    assert all(set(check) == {"name", "ok", "plugin"} for check in body["checks"])
    assert {"plugins", "events"} <= set(full)


@SQLITE_ONLY
async def test_the_server_header_names_no_versions(secure_client: AppClient) -> None:
    for path in ("/health", "/shells", "/no-such-route"):
        response = await secure_client.get(path)
        assert response.headers["Server"] == "titan", (path, response.headers["Server"])
