"""One test per hook (`test_hook_<name>`, checked by test_plugin_docs.py), each with small plugins
registered on the app's own manager, plus what happens when an implementation misbehaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest
from aiohttp import web
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from tests.support.app import AppClient, AppClientFactory
from titan_core import hookimpl
from titan_core.auth import Principal
from titan_core.delivery.sink import Event, EventSink, Fanout
from titan_core.health import HealthReport
from titan_core.keys import EVENT_SINKS, HOOKS, PLUGIN_MANAGER
from titan_core.plugins import PluginLoadError, TitanPluginManager
from titan_core.settings import Settings

# --- titan_setup_app -----------------------------------------------------------------------------

LIFECYCLE: web.AppKey[list[str]] = web.AppKey("test.lifecycle")


class GreetingPlugin:
    """Adds a route and a cleanup context, and reads its own settings section."""

    @hookimpl
    def titan_setup_app(self, app: web.Application, settings: Settings) -> None:
        greeting = settings.section("greeting").get("text", "hello")

        async def greet(request: web.Request) -> web.Response:
            return web.json_response({"greeting": greeting, "lifecycle": request.app[LIFECYCLE]})

        async def lifecycle(app: web.Application) -> AsyncIterator[None]:
            app[LIFECYCLE].append("started")
            yield
            app[LIFECYCLE].append("stopped")

        app[LIFECYCLE] = []
        app.router.add_get("/greeting", greet)
        app.cleanup_ctx.append(lifecycle)


async def test_hook_titan_setup_app(
    make_app_client: AppClientFactory,
    plugin_manager: TitanPluginManager,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TITAN_GREETING_TEXT", "moin")
    plugin_manager.add_plugin(GreetingPlugin(), "greeting")

    client = await make_app_client(plugin_manager=plugin_manager)
    response = await client.get("/greeting")

    assert response.status == 200
    assert await response.json() == {"greeting": "moin", "lifecycle": ["started"]}
    app = client.app
    await client.close()
    assert app[LIFECYCLE] == ["started", "stopped"]


class BrokenSetupPlugin:
    @hookimpl
    def titan_setup_app(self, app: web.Application, settings: Settings) -> None:
        raise RuntimeError("no broker configured")


async def test_setup_app_that_raises_takes_only_that_plugin_out_and_names_it(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    plugin_manager.add_plugin(BrokenSetupPlugin(), "broken")
    plugin_manager.add_plugin(GreetingPlugin(), "greeting")

    client = await make_app_client(plugin_manager=plugin_manager)

    assert (await client.get("/greeting")).status == 200
    states = {record.name: (record.state, record.reason) for record in plugin_manager.records}
    assert states["broken"] == ("failed", "titan_setup_app raised RuntimeError('no broker configured')")
    assert states["greeting"] == ("loaded", "")
    assert plugin_manager.get_plugin("broken") is None
    assert "plugin 'broken' failed" in caplog.text and "no broker configured" in caplog.text


def test_setup_app_that_raises_stops_the_app_when_plugins_are_required(settings: Settings) -> None:
    from titan_core.app import create_app
    from titan_core.plugins import get_plugin_manager

    required = settings.replace(require_plugins=True)
    manager = get_plugin_manager(required, load_entry_points=False)
    manager.add_plugin(BrokenSetupPlugin(), "broken")

    with pytest.raises(
        PluginLoadError, match=r"plugin 'broken' failed: .*no broker configured.*require_plugins"
    ):
        create_app(required, plugin_manager=manager)


# --- titan_event_sinks ---------------------------------------------------------------------------


class ListSink:
    def __init__(self, name: str, fanout: Fanout = "once") -> None:
        self.name = name
        self.fanout: Fanout = fanout
        self.received: list[Event] = []

    async def deliver(self, events: Sequence[Event]) -> None:
        self.received.extend(events)


class SinkPlugin:
    def __init__(self, *sinks: object) -> None:
        self.sinks = list(sinks)

    @hookimpl
    def titan_event_sinks(self, app: web.Application, settings: Settings) -> list[object]:
        return self.sinks


async def test_hook_titan_event_sinks(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> None:
    mqtt, ws = ListSink("mqtt"), ListSink("ws", "each_instance")
    plugin_manager.add_plugin(SinkPlugin(mqtt), "first")
    plugin_manager.add_plugin(SinkPlugin(ws), "second")
    plugin_manager.add_plugin(SinkPlugin(), "idle")

    client = await make_app_client(plugin_manager=plugin_manager)

    sinks: list[EventSink] = client.app[EVENT_SINKS]
    assert sorted(sink.name for sink in sinks) == ["mqtt", "ws"]
    assert all(isinstance(sink, EventSink) for sink in sinks)


class NotASink:
    name = "half"
    fanout = "once"

    def deliver(self, events: Sequence[Event]) -> None:  # not async: the runner would not await it
        pass


@pytest.mark.parametrize(
    ("returned", "reason"),
    [
        (
            [ListSink("odd", "sometimes")],  # type: ignore[arg-type]
            "event sink 'odd' has fanout 'sometimes'; use 'each_instance' or 'once'",
        ),
        ([ListSink("web hook")], "needs a non-empty name without spaces, '|' or ':'"),
        ([NotASink()], "is not a sink: it needs `name`, `fanout` and `async def deliver`"),
        (ListSink("bare"), "returned ListSink; expected a list of sinks"),
    ],
)
async def test_event_sinks_that_break_the_contract_take_the_plugin_out(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager, returned: object, reason: str
) -> None:
    plugin_manager.add_plugin(SinkPlugin(ListSink("good")), "good")
    plugin = SinkPlugin()
    plugin.sinks = returned  # type: ignore[assignment]
    plugin_manager.add_plugin(plugin, "bad")

    client = await make_app_client(plugin_manager=plugin_manager)

    assert [sink.name for sink in client.app[EVENT_SINKS]] == ["good"]
    record = next(record for record in plugin_manager.records if record.name == "bad")
    assert record.state == "failed"
    assert reason in record.reason


async def test_two_plugins_with_the_same_sink_name_keep_the_first_asked(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> None:
    plugin_manager.add_plugin(SinkPlugin(ListSink("mqtt")), "one")
    plugin_manager.add_plugin(SinkPlugin(ListSink("mqtt")), "other")

    client = await make_app_client(plugin_manager=plugin_manager)

    assert [sink.name for sink in client.app[EVENT_SINKS]] == ["mqtt"]
    failed = [record for record in plugin_manager.records if record.state == "failed"]
    assert len(failed) == 1
    kept = "one" if failed[0].name == "other" else "other"
    assert failed[0].reason == f"titan_event_sinks: the sink name 'mqtt' is already used by {kept}"


# --- titan_authenticate --------------------------------------------------------------------------


class WhoAmI:
    """A route that asks the plugins who is calling, as the REST layer and transports do."""

    @hookimpl
    def titan_setup_app(self, app: web.Application) -> None:
        async def whoami(request: web.Request) -> web.Response:
            token = request.headers.get("Authorization")
            try:
                principal = await request.app[HOOKS].authenticate(request, token)
            except Exception as exc:
                return web.json_response({"refused": str(exc)}, status=401)
            return web.json_response({"subject": principal.subject if principal else None})

        app.router.add_get("/whoami", whoami)


class TokenTable:
    """Knows tokens of one prefix; refuses unknown ones of that prefix, ignores the rest."""

    def __init__(self, prefix: str, subjects: dict[str, str], calls: list[str], *, awaits: bool) -> None:
        self.prefix, self.subjects, self.calls, self.awaits = prefix, subjects, calls, awaits

    def _decide(self, token: str | None) -> Principal | None:
        self.calls.append(self.prefix)
        if token is None or not token.startswith(self.prefix):
            return None
        subject = self.subjects.get(token.removeprefix(self.prefix))
        if subject is None:
            raise PermissionError(f"unknown {self.prefix.strip()} token")
        return Principal(subject=subject)

    @hookimpl
    def titan_authenticate(self, request: web.Request, token: str | None) -> object:
        if not self.awaits:
            return self._decide(token)

        async def later() -> Principal | None:
            await asyncio.sleep(0)
            return self._decide(token)

        return later()


async def test_hook_titan_authenticate(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> None:
    calls: list[str] = []
    # pluggy calls the most recently registered implementation first.
    plugin_manager.add_plugin(TokenTable("Basic ", {"YWRh": "ada"}, calls, awaits=False), "basic")
    plugin_manager.add_plugin(TokenTable("Bearer ", {"t-1": "bob"}, calls, awaits=True), "bearer")
    plugin_manager.add_plugin(WhoAmI(), "whoami")
    client = await make_app_client(plugin_manager=plugin_manager)

    async def ask(token: str | None) -> tuple[int, object]:
        calls.clear()
        response = await client.get("/whoami", headers={"Authorization": token} if token else {})
        return response.status, await response.json()

    # An async implementation's result is awaited; the first Principal ends the call.
    assert await ask("Bearer t-1") == (200, {"subject": "bob"})
    assert calls == ["Bearer "]
    # None ("not mine") moves on to the next implementation.
    assert await ask("Basic YWRh") == (200, {"subject": "ada"})
    assert calls == ["Bearer ", "Basic "]
    # No implementation claims it: None.
    assert await ask(None) == (200, {"subject": None})
    # Raising refuses the caller; later implementations are not asked.
    assert await ask("Bearer forged") == (401, {"refused": "unknown Bearer token"})
    assert calls == ["Bearer "]


async def test_authenticate_follows_tryfirst_and_trylast(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> None:
    class Fallback:
        @hookimpl(trylast=True)
        async def titan_authenticate(self, token: str | None) -> Principal:
            return Principal(subject="fallback")

    class Specific:
        @hookimpl(tryfirst=True)
        def titan_authenticate(self, token: str | None) -> Principal | None:
            return Principal(subject="specific") if token == "special" else None

    # Registered so that plain LIFO order would ask Fallback first.
    plugin_manager.add_plugin(Specific(), "specific")
    plugin_manager.add_plugin(WhoAmI(), "whoami")
    plugin_manager.add_plugin(Fallback(), "fallback")
    client = await make_app_client(plugin_manager=plugin_manager)

    assert await (await client.get("/whoami", headers={"Authorization": "special"})).json() == {
        "subject": "specific"
    }
    assert await (await client.get("/whoami", headers={"Authorization": "other"})).json() == {
        "subject": "fallback"
    }


async def test_authenticate_that_returns_no_principal_is_refused(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> None:
    class Sloppy:
        @hookimpl
        def titan_authenticate(self) -> str:
            return "ada"

    plugin_manager.add_plugin(Sloppy(), "sloppy")
    plugin_manager.add_plugin(WhoAmI(), "whoami")
    client = await make_app_client(plugin_manager=plugin_manager)

    response = await client.get("/whoami")

    assert response.status == 401
    assert await response.json() == {"refused": "titan_authenticate returned str, not a Principal or None"}


# --- titan_metrics -------------------------------------------------------------------------------


class GaugeReader:
    """A custom collector, read when scraped; raises on demand."""

    def __init__(self) -> None:
        self.level = 3.0
        self.broken = False

    def collect(self) -> Iterator[Metric]:
        if self.broken:
            raise RuntimeError("the level sensor is gone")
        yield GaugeMetricFamily("titan_tank_level", "How full the tank is.", value=self.level)


class TankPlugin:
    def __init__(self) -> None:
        self.reader = GaugeReader()
        self.pumped = Counter("titan_tank_pumped", "Litres pumped.", registry=None)

    @hookimpl
    def titan_metrics(self, app: web.Application) -> list[object]:
        return [self.reader, self.pumped]


class SpeedPlugin:
    @hookimpl
    def titan_metrics(self) -> list[object]:
        return [GaugeMetric("titan_speed", 7.0)]


class GaugeMetric:
    def __init__(self, name: str, value: float) -> None:
        self.name, self.value = name, value

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self.name, "A fixed gauge.", value=self.value)


class NotCollectors:
    @hookimpl
    def titan_metrics(self) -> list[object]:
        return ["titan_not_a_collector"]


async def _app_with_tank_and_speed(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> tuple[TankPlugin, AppClient]:
    """A started app with the tank and speed metric plugins; the tank, to move its readings."""
    tank = TankPlugin()
    plugin_manager.add_plugin(tank, "tank")
    plugin_manager.add_plugin(SpeedPlugin(), "speed")
    return tank, await make_app_client(plugin_manager=plugin_manager)


async def test_hook_titan_metrics(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> None:
    tank, client = await _app_with_tank_and_speed(make_app_client, plugin_manager)
    tank.pumped.inc(5)
    tank.reader.level = 4.5

    samples = await _scrape(client)

    assert samples["titan_tank_level"] == 4.5  # read when scraped
    assert samples["titan_tank_pumped_total"] == 5
    assert samples["titan_speed"] == 7
    assert samples["titan_info"] == 1  # beside the core's own


async def test_metrics_collector_that_raises_leaves_out_only_its_own_metrics(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> None:
    tank, client = await _app_with_tank_and_speed(make_app_client, plugin_manager)
    tank.reader.broken = True

    samples = await _scrape(client)

    assert "titan_tank_level" not in samples
    assert samples["titan_tank_pumped_total"] == 0 and samples["titan_speed"] == 7


async def test_metrics_hook_that_returns_no_collectors_takes_the_plugin_out(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> None:
    plugin_manager.add_plugin(NotCollectors(), "confused")
    await make_app_client(plugin_manager=plugin_manager)
    (record,) = [record for record in plugin_manager.records if record.name == "confused"]
    assert record.state == "failed" and "not a collector" in record.reason


async def _scrape(client: AppClient) -> dict[str, float]:
    response = await client.get("/metrics")
    assert response.status == 200
    families = text_string_to_metric_families(await response.text())
    return {sample.name: sample.value for family in families for sample in family.samples}


# --- titan_health --------------------------------------------------------------------------------


class Broker:
    """Reports health the way a transport with a connection would."""

    def __init__(self, connected: bool) -> None:
        self.connected = connected

    @hookimpl
    async def titan_health(self, app: web.Application) -> HealthReport:
        await asyncio.sleep(0)
        detail = "connected" if self.connected else "broker unreachable"
        return HealthReport("broker", self.connected, detail)


class Silent:
    @hookimpl
    def titan_health(self) -> None:
        return None


async def test_hook_titan_health(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager
) -> None:
    plugin_manager.add_plugin(Broker(connected=False), "mqtt")
    plugin_manager.add_plugin(Silent(), "silent")
    client = await make_app_client(plugin_manager=plugin_manager)

    response = await client.get("/ready")

    # A plugin in trouble is reported, but the core can serve: still ready.
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ready"
    plugin_checks = [check for check in body["checks"] if check["plugin"] is not None]
    assert plugin_checks == [
        {"name": "broker", "ok": False, "detail": "broker unreachable", "plugin": "mqtt"}
    ]


async def test_plugin_in_trouble_fails_readiness_when_plugins_are_required(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager, settings: Settings
) -> None:
    plugin_manager.require_plugins = True
    plugin_manager.add_plugin(Broker(connected=False), "mqtt")
    client = await make_app_client(settings.replace(require_plugins=True), plugin_manager=plugin_manager)

    response = await client.get("/ready")

    assert response.status == 503
    assert (await response.json())["status"] == "unavailable"


async def test_health_checks_that_raise_or_hang_are_reported_under_the_plugin_name(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Raises:
        @hookimpl
        def titan_health(self) -> HealthReport:
            raise ConnectionError("socket closed")

    class Hangs:
        @hookimpl
        async def titan_health(self) -> HealthReport:
            await asyncio.sleep(60)
            raise AssertionError("unreachable")

    class WrongType:
        @hookimpl
        def titan_health(self) -> dict[str, object]:
            return {"name": "x", "ok": True}

    monkeypatch.setattr("titan_core.health.CHECK_TIMEOUT_SECONDS", 0.2)
    plugin_manager.add_plugin(Raises(), "raises")
    plugin_manager.add_plugin(Hangs(), "hangs")
    plugin_manager.add_plugin(WrongType(), "wrong-type")
    plugin_manager.add_plugin(Broker(connected=True), "mqtt")
    client = await make_app_client(plugin_manager=plugin_manager)

    response = await asyncio.wait_for(client.get("/ready"), timeout=5)

    assert response.status == 200
    checks = {check["plugin"]: check for check in (await response.json())["checks"] if check["plugin"]}
    assert checks["raises"] == {
        "name": "raises", "ok": False, "detail": "titan_health raised ConnectionError: socket closed",
        "plugin": "raises",
    }  # fmt: skip
    assert checks["hangs"]["ok"] is False
    assert checks["hangs"]["detail"] == "titan_health gave no answer within 0.2 s"
    assert checks["wrong-type"]["detail"] == "titan_health returned dict, not a HealthReport"
    assert checks["mqtt"] == {"name": "broker", "ok": True, "detail": "connected", "plugin": "mqtt"}


async def test_each_app_has_its_own_plugin_manager(
    make_app_client: AppClientFactory, plugin_manager: TitanPluginManager, settings: Settings
) -> None:
    plugin_manager.add_plugin(GreetingPlugin(), "greeting")
    with_plugin = await make_app_client(plugin_manager=plugin_manager)
    from titan_core.plugins import get_plugin_manager

    without_plugin = await make_app_client(
        plugin_manager=get_plugin_manager(settings, load_entry_points=False)
    )

    assert (await with_plugin.get("/greeting")).status == 200
    assert (await without_plugin.get("/greeting")).status == 404
    assert with_plugin.app[PLUGIN_MANAGER] is not without_plugin.app[PLUGIN_MANAGER]
