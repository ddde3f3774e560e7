"""Started test clients of Titan apps with exactly the plugins and sinks a test names."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from titan_core.delivery.sink import EventSink
from titan_core.settings import Settings

if TYPE_CHECKING:
    from titan_core.plugins import PluginRecord, TitanPluginManager

AppClient = TestClient[web.Request, web.Application]
"""An aiohttp test client of a started Titan app: `await client.get("/shells")`, `client.app`."""

PluginChoice = str | ModuleType | tuple[str, object]
"""A plugin for a test app: an installed plugin's entry-point name ("webhook"), a module holding
hooks (registered under its top-level package name without `titan_plugin_`), or (name, object)."""

INSTALLED = "installed"
"""`plugins=INSTALLED`: every installed plugin the settings allow, as `titan serve` loads them."""


class TitanClients:
    """Builds, starts and finally closes test clients; the `make_titan_client` fixture is one."""

    def __init__(self, settings: Settings, *, plugins: Sequence[PluginChoice] | str = ()) -> None:
        self.settings = settings
        self.plugins = plugins
        self._clients: list[AppClient] = []

    async def __call__(
        self,
        settings: Settings | None = None,
        /,
        *,
        plugins: Sequence[PluginChoice] | str | None = None,
        sinks: Sequence[EventSink] = (),
        plugin_manager: TitanPluginManager | None = None,
    ) -> AppClient:
        """A started client of a new app (migrations applied) with the core's built-ins and `plugins`
        (default: the factory's, built-ins only unless it was made with others; `INSTALLED`: every
        installed plugin), and `sinks` registered directly (a sink without a plugin around it)."""
        # Imported here: pytest loads this plugin in every run, which must not pay for the app.
        from titan_core.app import create_app
        from titan_core.delivery.pipeline import add_event_sink

        chosen = settings or self.settings
        wanted = self.plugins if plugins is None else plugins
        if plugin_manager is None and wanted != INSTALLED:
            plugin_manager = plugin_manager_with(chosen, [wanted] if isinstance(wanted, str) else wanted)
        manager = plugin_manager  # None: create_app loads the installed plugins, as `titan serve` does
        app = create_app(chosen, plugin_manager=manager)
        for sink in sinks:
            add_event_sink(app, sink)
        client: AppClient = TestClient(TestServer(app))
        await client.start_server()
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in reversed(self._clients):
            await client.close()
        self._clients.clear()


def plugin_manager_with(settings: Settings, plugins: Sequence[PluginChoice]) -> TitanPluginManager:
    """The built-ins and exactly `plugins`; an installed plugin named here that does not load fails
    the test with the reason Titan gives."""
    from titan_core.plugins import get_plugin_manager

    installed = tuple(choice for choice in plugins if isinstance(choice, str))
    manager = get_plugin_manager(settings.replace(plugins=installed), load_entry_points=bool(installed))
    for name in installed:
        record = next((record for record in manager.records if record.name == name), None)
        if record is None or record.state != "loaded":
            reason = record.reason if record else "no such entry point in group 'titan'"
            raise AssertionError(f"plugin {name!r} did not load: {reason}")
    for choice in plugins:
        if isinstance(choice, tuple):
            manager.add_plugin(choice[1], choice[0])
        elif isinstance(choice, ModuleType):
            manager.add_plugin(choice, choice.__name__.split(".")[0].removeprefix("titan_plugin_"))
    return manager


def check_entry_point(settings: Settings, project_dir: Path, name: str, module: str) -> PluginRecord:
    """The record of the installed plugin `name`, loaded through its entry point: fails the test
    unless the `pyproject.toml` in `project_dir` declares exactly `name = module` in the group
    `titan` and the loaded plugin reports that project's version and distribution name. The record's
    `hooks` are left to the caller to check."""
    project = tomllib.loads((project_dir / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project.get("entry-points", {}).get("titan")
    if declared != {name: module}:
        raise AssertionError(
            f"{project_dir / 'pyproject.toml'} declares {declared!r} in the entry-point "
            f"group 'titan', not {{{name!r}: {module!r}}}"
        )
    record = next(record for record in plugin_manager_with(settings, [name]).records if record.name == name)
    found = (record.version, record.distribution)
    if found != (project["version"], project["name"]):
        raise AssertionError(
            f"plugin {name!r} loaded as version {found[0]!r} of {found[1]!r}, "
            f"not {project['version']!r} of {project['name']!r}"
        )
    return record
