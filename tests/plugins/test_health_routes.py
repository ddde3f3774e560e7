"""`/health` (liveness) and `/ready` (readiness): 503 only when the core cannot serve."""

from __future__ import annotations

from aiohttp import web

from tests.support.app import AppClientFactory
from tests.support.postgres import ThrowawayPostgres
from titan_core import __version__, hookimpl
from titan_core.plugins import TitanPluginManager, get_plugin_manager
from titan_core.settings import Settings


async def test_health_answers_whenever_the_process_runs(make_app_client: AppClientFactory) -> None:
    client = await make_app_client()

    response = await client.get("/health")

    assert response.status == 200
    assert await response.json() == {"status": "ok", "version": __version__}


async def test_ready_reports_the_database_and_every_plugin(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> None:
    client = await make_app_client(plugin_manager=plugin_manager)

    response = await client.get("/ready")

    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ready"
    database = body["checks"][0]
    assert (database["name"], database["ok"], database["plugin"]) == ("database", True, None)
    assert database["detail"].startswith("sqlite answered in ")
    assert body["plugins"] == [
        {
            "name": "health", "version": __version__, "distribution": "titan-aas", "builtin": True,
            "state": "loaded", "reason": "", "hooks": ["titan_setup_app"],
        },
        *({"name": name, "version": __version__, "distribution": "titan-aas", "builtin": True,
           "state": "loaded", "reason": "", "hooks": ["titan_authenticate"]} for name in ("jwt", "api_keys")),
    ]  # fmt: skip


async def test_ready_lists_a_failed_plugin_with_its_reason_and_stays_ready(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> None:
    class NeedsBroker:
        @hookimpl
        def titan_setup_app(self, app: web.Application) -> None:
            raise ConnectionRefusedError("broker at mqtt://127.0.0.1:1 refused the connection")

    plugin_manager.add_plugin(NeedsBroker(), "mqtt", version="2.0.0", distribution="titan-aas-mqtt")
    client = await make_app_client(plugin_manager=plugin_manager)

    response = await client.get("/ready")

    assert response.status == 200
    mqtt = next(plugin for plugin in (await response.json())["plugins"] if plugin["name"] == "mqtt")
    assert mqtt["state"] == "failed"
    assert mqtt["version"] == "2.0.0"
    assert "broker at mqtt://127.0.0.1:1 refused the connection" in mqtt["reason"]


async def test_ready_fails_while_the_database_is_down_and_health_does_not(
    make_app_client: AppClientFactory, settings: Settings, throwaway_postgres: ThrowawayPostgres
) -> None:
    on_postgres = settings.replace(database_url=throwaway_postgres.url)
    client = await make_app_client(
        on_postgres, plugin_manager=get_plugin_manager(on_postgres, load_entry_points=False)
    )
    assert (await client.get("/ready")).status == 200

    throwaway_postgres.stop(mode="immediate")
    down = await client.get("/ready")
    throwaway_postgres.start()
    back = await client.get("/ready")

    assert down.status == 503
    body = await down.json()
    assert body["status"] == "unavailable"
    assert body["checks"][0]["name"] == "database"
    assert body["checks"][0]["ok"] is False
    assert body["checks"][0]["detail"], body
    assert (await client.get("/health")).status == 200
    assert back.status == 200
