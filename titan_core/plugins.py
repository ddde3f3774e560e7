"""Builds each app's `PluginManager` (built-ins, entry points, enable/disable) and the typed facade
`TitanHooks`, the only code that calls `pm.hook`; `titan plugins` reads the same records.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import IO, Any, Literal

import pluggy
from aiohttp import web

from titan_core import DISTRIBUTION, __version__, hookspecs
from titan_core.auth import Principal
from titan_core.delivery.runner import check_sinks
from titan_core.delivery.sink import EventSink
from titan_core.eventtypes.change import Change
from titan_core.eventtypes.kinds import EntityKind, check_plugin_change, register_entity_kinds
from titan_core.health import HealthReport
from titan_core.hookspecs import PROJECT_NAME
from titan_core.keys import EVENT_SINKS, HOOKS, PLUGIN_MANAGER
from titan_core.plugin_compat import requirement_problem
from titan_core.runtime_hooks import await_implementation, call_implementation, first_result, implementations
from titan_core.services import REPOSITORY_SERVICE, Service
from titan_core.settings import Settings
from titan_core.store.migration_sources import MigrationSource
from titan_core.store.write_types import WriteHook

log = logging.getLogger(__name__)

# Parts of the core that are plugins themselves: (name, module). Always loaded. The credential
# schemes are asked last-registered first: API keys (a dict lookup) before JWTs.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("health", "titan_core.health"),
    ("jwt", "titan_core.credentials.jwt_bearer"),
    ("api_keys", "titan_core.credentials.api_keys"),
)

# Called synchronously (while the app is built, or inside a write transaction): an `async def` here
# would never run.
WIRING_HOOKS = frozenset(
    {
        "titan_setup_app",
        "titan_event_sinks",
        "titan_metrics",
        "titan_migrations",
        "titan_entity_kinds",
        "titan_services",
        "titan_write_transaction",
    }
)

PluginState = Literal["loaded", "disabled", "failed"]


class PluginLoadError(RuntimeError):
    """A plugin failed while `require_plugins` is on (or a built-in failed): Titan refuses to start."""


@dataclass
class PluginRecord:
    """What the host knows about one plugin, for `titan plugins` and the `/ready` body."""

    name: str
    version: str
    distribution: str
    builtin: bool = False
    state: PluginState = "loaded"
    reason: str = ""
    hooks: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hooks": list(self.hooks)}


class TitanPluginManager(pluggy.PluginManager):
    """A pluggy manager for project `titan` that also remembers every plugin's state.

    Build one per application with `get_plugin_manager`; never share one between apps.
    """

    def __init__(self, *, require_plugins: bool = False) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.require_plugins = require_plugins
        self.records: list[PluginRecord] = []
        self._registered: dict[str, PluginRecord] = {}

    def add_plugin(
        self,
        plugin: object,
        name: str | None = None,
        *,
        version: str = "",
        distribution: str = "",
        builtin: bool = False,
    ) -> PluginRecord:
        """Register a plugin (a module or any object with `@hookimpl` methods) under `name`.

        A plugin that breaks the hook contract is recorded as failed instead of registered.
        """
        name = name or str(getattr(plugin, "__name__", type(plugin).__name__))
        record = PluginRecord(name, version, distribution, builtin)
        self.records.append(record)
        taken = self._registered.get(name)
        if taken is not None:
            self.fail(
                record, f"the name {name!r} is already taken by {taken.distribution or 'another plugin'}"
            )
            return record
        incompatible = requirement_problem(plugin)
        if incompatible:
            self.fail(record, incompatible)
            return record
        try:
            self.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            self.fail(record, f"does not fit the hook contract: {exc}")
            return record
        self._registered[name] = record
        problem = _contract_problem(self, plugin)
        if problem:
            self.fail(record, problem)
            return record
        record.hooks = tuple(sorted(caller.name for caller in self.get_hookcallers(plugin) or ()))
        return record

    def add_unloaded(
        self, name: str, state: PluginState, reason: str, *, version: str = "", distribution: str = ""
    ) -> None:
        """Record a plugin that is not registered: disabled by settings, or failed before registering."""
        record = PluginRecord(name, version, distribution)
        self.records.append(record)
        if state == "failed":
            self.fail(record, reason)
        else:
            record.state, record.reason = state, reason

    def fail(self, plugin: PluginRecord | str, reason: str, exc: BaseException | None = None) -> None:
        """Take a plugin out of service, log why, and refuse to go on if plugins are required."""
        record = plugin if isinstance(plugin, PluginRecord) else self._registered.get(plugin)
        if record is None:
            raise KeyError(f"no plugin named {plugin!r} is in use")
        if self._registered.get(record.name) is record:
            self.unregister(name=record.name)
            del self._registered[record.name]
        record.state, record.reason, record.hooks = "failed", reason, ()
        log.error("plugin %r failed and is not in use: %s", record.name, reason, exc_info=exc)
        if record.builtin:
            raise PluginLoadError(
                f"built-in plugin {record.name!r} failed: {reason} (a bug in Titan)"
            ) from exc
        if self.require_plugins:
            raise PluginLoadError(
                f"plugin {record.name!r} failed: {reason}. Titan refuses to start because the setting "
                f"require_plugins is on; fix the plugin, or leave it out with TITAN_DISABLE_PLUGINS={record.name}"
            ) from exc


def get_plugin_manager(settings: Settings, *, load_entry_points: bool = True) -> TitanPluginManager:
    """A new plugin manager with the built-ins and, unless told not to, the installed plugins.

    Installed plugins are the entry points of group `titan`, filtered by the settings `plugins`
    (allowlist, `TITAN_PLUGINS`) and `disable_plugins` (blocklist, `TITAN_DISABLE_PLUGINS`).
    Tests pass `load_entry_points=False` and add exactly the plugins they want with `add_plugin`.
    """
    manager = TitanPluginManager(require_plugins=settings.require_plugins)
    for name, module_name in BUILTIN_PLUGINS:
        manager.add_plugin(import_module(module_name), name, version=__version__,
                           distribution=DISTRIBUTION, builtin=True)  # fmt: skip
    if load_entry_points:
        _load_entry_points(manager, settings)
    return manager


def _load_entry_points(manager: TitanPluginManager, settings: Settings) -> None:
    allowed, blocked = set(settings.plugins), set(settings.disable_plugins)
    builtin_names = {name for name, _ in BUILTIN_PLUGINS}
    found = sorted(entry_points(group=PROJECT_NAME), key=lambda entry: entry.name)
    for entry in found:
        version = entry.dist.version if entry.dist else ""
        distribution = entry.dist.name if entry.dist else ""
        if entry.name in blocked:
            manager.add_unloaded(entry.name, "disabled", "named in disable_plugins (TITAN_DISABLE_PLUGINS)",
                                 version=version, distribution=distribution)  # fmt: skip
            continue
        if allowed and entry.name not in allowed:
            manager.add_unloaded(entry.name, "disabled", "not named in plugins (TITAN_PLUGINS)",
                                 version=version, distribution=distribution)  # fmt: skip
            continue
        try:
            plugin = entry.load()
        except Exception as exc:
            record = PluginRecord(entry.name, version, distribution)
            manager.records.append(record)
            manager.fail(record, f"cannot import {entry.value}: {type(exc).__name__}: {exc}", exc)
            continue
        manager.add_plugin(plugin, entry.name, version=version, distribution=distribution)

    installed = {entry.name for entry in found}
    for name in sorted(allowed - installed - builtin_names):
        manager.add_unloaded(
            name, "failed", f"named in plugins (TITAN_PLUGINS) but not installed: no entry point {name!r} "
            f"in group {PROJECT_NAME!r}; installed: {', '.join(sorted(installed)) or 'none'}",
        )  # fmt: skip
    for name in sorted(blocked & builtin_names):
        log.warning("disable_plugins names %r, which is built into the core and cannot be disabled", name)
    for name in sorted(blocked - installed - builtin_names):
        log.warning("disable_plugins names %r, which is not installed (typo?)", name)


def _contract_problem(manager: pluggy.PluginManager, plugin: object) -> str:
    """What in a registered plugin breaks Titan's rules beyond pluggy's own checks ("" if nothing)."""
    for caller in manager.get_hookcallers(plugin) or ():
        if not caller.has_spec():
            known = ", ".join(sorted(name for name in dir(hookspecs) if name.startswith("titan_")))
            return f"implements {caller.name}, which is not a Titan hook (the hooks are: {known})"
        for implementation in caller.get_hookimpls():
            if implementation.plugin is not plugin:
                continue
            if implementation.wrapper or implementation.hookwrapper:
                return f"implements {caller.name} as a wrapper, which Titan does not support"
            if caller.name in WIRING_HOOKS and inspect.iscoroutinefunction(implementation.function):
                return f"implements {caller.name} with `async def`; this hook must be synchronous"
    return ""


class TitanHooks:
    """The typed face of the plugin hooks: one method per hook, the only code that uses `pm.hook`.

    A plugin whose wiring hook raises is taken out (and named in the log); the others go on.
    """

    def __init__(self, manager: TitanPluginManager) -> None:
        self.manager = manager

    def setup_app(self, app: web.Application, settings: Settings) -> None:
        for implementation in implementations(self.manager.hook.titan_setup_app):
            try:
                call_implementation(implementation, app=app, settings=settings)
            except Exception as exc:
                self.manager.fail(implementation.plugin_name, f"titan_setup_app raised {exc!r}", exc)

    def event_sinks(self, app: web.Application, settings: Settings) -> list[EventSink]:
        sinks: list[EventSink] = []
        owners: dict[str, str] = {}
        for implementation in implementations(self.manager.hook.titan_event_sinks):
            plugin_name = implementation.plugin_name
            try:
                returned = call_implementation(implementation, app=app, settings=settings)
                plugin_sinks = _checked_sinks(returned, owners)
            except Exception as exc:
                self.manager.fail(plugin_name, f"titan_event_sinks: {exc}", exc)
                continue
            owners.update((sink.name, plugin_name) for sink in plugin_sinks)
            sinks.extend(plugin_sinks)
        return sinks

    def metrics(self, app: web.Application) -> list[tuple[str, Any]]:
        """Every plugin's Prometheus collectors, with the plugin's name; a plugin that raises or
        returns something else than collectors is taken out."""
        collected: list[tuple[str, Any]] = []
        for implementation in implementations(self.manager.hook.titan_metrics):
            plugin_name = implementation.plugin_name
            try:
                returned = call_implementation(implementation, app=app)
                if returned is None:
                    continue
                if isinstance(returned, str | bytes) or not isinstance(returned, Iterable):
                    raise TypeError(f"returned {type(returned).__name__}; expected a list of collectors")
                collectors = list(returned)
                for collector in collectors:
                    if not callable(getattr(collector, "collect", None)):
                        raise TypeError(f"{collector!r} is not a collector: it needs a `collect()` method")
            except Exception as exc:
                self.manager.fail(plugin_name, f"titan_metrics: {exc}", exc)
                continue
            collected.extend((plugin_name, collector) for collector in collectors)
        return collected

    def migration_sources(self) -> list[tuple[str, MigrationSource]]:
        """Every plugin's migration sources, with the plugin's name; a plugin that raises or returns
        something else is taken out. Branch names must be unique."""
        sources: list[tuple[str, MigrationSource]] = []
        for plugin_name, returned in self._declarations("titan_migrations", MigrationSource):
            taken = {source.branch: owner for owner, source in sources}
            clash = next((source.branch for source in returned if source.branch in taken), None)
            if clash is not None:
                self.manager.fail(
                    plugin_name, f"titan_migrations: the branch {clash!r} is already {taken[clash]}'s"
                )
                continue
            sources.extend((plugin_name, source) for source in returned)
        return sources

    def register_entity_kinds(self) -> None:
        """Register every plugin's entity kinds (process-wide, eventtypes/kinds.py); a plugin whose
        kinds conflict with the core's or another plugin's is taken out."""
        for plugin_name, returned in self._declarations("titan_entity_kinds", EntityKind):
            try:
                register_entity_kinds(returned, owner=f"plugin {plugin_name!r}")
            except ValueError as exc:
                self.manager.fail(plugin_name, f"titan_entity_kinds: {exc}", exc)

    def services(self) -> dict[str, Service]:
        """Every plugin's services by name; a plugin declaring a name already taken is taken out."""
        declared: dict[str, Service] = {}
        owners: dict[str, str] = {REPOSITORY_SERVICE: "the core"}
        for plugin_name, returned in self._declarations("titan_services", Service):
            clash = next((service.name for service in returned if service.name in owners), None)
            if clash is not None:
                self.manager.fail(
                    plugin_name, f"titan_services: the service {clash!r} is already {owners[clash]}'s"
                )
                continue
            for service in returned:
                declared[service.name] = service
                owners[service.name] = f"plugin {plugin_name!r}"
        return declared

    def write_hooks(self) -> list[WriteHook]:
        """The `titan_write_transaction` implementations as plain callables, for the outbox recorder
        (which must not know plugins). Empty without such plugins: the recorder then skips the step."""
        return [_write_hook(implementation) for implementation in implementations(
            self.manager.hook.titan_write_transaction
        )]  # fmt: skip

    def _declarations(self, hook: str, expected: type[Any]) -> list[tuple[str, list[Any]]]:
        """What each implementation of a declaration hook (no arguments, returns a list of
        `expected`) returned, with the plugin's name; a plugin that raises or returns something
        else is taken out."""
        found: list[tuple[str, list[Any]]] = []
        for implementation in implementations(getattr(self.manager.hook, hook)):
            plugin_name = implementation.plugin_name
            try:
                returned = call_implementation(implementation)
                if returned is None:
                    continue
                if isinstance(returned, str | bytes) or not isinstance(returned, Iterable):
                    raise TypeError(
                        f"returned {type(returned).__name__}; expected a list of {expected.__name__}"
                    )
                items = list(returned)
                for item in items:
                    if not isinstance(item, expected):
                        raise TypeError(f"{item!r} is not a {expected.__name__}")
            except Exception as exc:
                self.manager.fail(plugin_name, f"{hook}: {exc}", exc)
                continue
            found.append((plugin_name, items))
        return found

    async def authenticate(self, request: web.Request, token: str | None) -> Principal | None:
        """The first plugin's `Principal` for this credential, or None if no plugin claims it.

        An exception from a plugin propagates: the caller is refused (401).
        """
        result = await first_result(self.manager.hook.titan_authenticate, request=request, token=token)
        if result is not None and not isinstance(result, Principal):
            raise TypeError(f"titan_authenticate returned {type(result).__name__}, not a Principal or None")
        return result

    async def health(self, app: web.Application, *, timeout: float) -> list[tuple[str, HealthReport]]:
        """Every plugin's health report with the plugin's name, asked concurrently."""
        calls = implementations(self.manager.hook.titan_health)
        reports = await asyncio.gather(*(_plugin_health(call, app, timeout) for call in calls))
        return [(call.plugin_name, report) for call, report in zip(calls, reports, strict=True) if report]


def _write_hook(implementation: pluggy.HookImpl) -> WriteHook:
    """One `titan_write_transaction` implementation as a callable of the recorder's shape; what it
    returns is checked (a plugin's bug must fail the write with a message naming it, not later)."""
    plugin_name = implementation.plugin_name

    def call(connection: Any, changes: Any, origin: str, subject: str | None) -> list[Change] | None:
        returned = call_implementation(
            implementation, connection=connection, changes=changes, origin=origin, subject=subject
        )
        if returned is None:
            return None
        if isinstance(returned, str | bytes) or not isinstance(returned, Iterable):
            raise TypeError(
                f"titan_write_transaction of plugin {plugin_name!r} returned {type(returned).__name__}; "
                "expected a list of Change or None"
            )
        added = list(returned)
        for change in added:
            if not isinstance(change, Change):
                raise TypeError(
                    f"titan_write_transaction of plugin {plugin_name!r} returned {change!r}, not a Change"
                )
            try:
                check_plugin_change(change)
            except ValueError as exc:
                raise ValueError(f"titan_write_transaction of plugin {plugin_name!r}: {exc}") from None
        return added

    return call


def _checked_sinks(returned: object, owners: dict[str, str]) -> list[EventSink]:
    """The sinks one plugin returned, after checking each against the sink contract."""
    if returned is None:
        return []
    if isinstance(returned, str | bytes) or not isinstance(returned, Iterable):
        raise TypeError(f"returned {type(returned).__name__}; expected a list of sinks")
    sinks: list[EventSink] = []
    for sink in returned:
        if not isinstance(sink, EventSink) or not inspect.iscoroutinefunction(sink.deliver):
            raise TypeError(f"{sink!r} is not a sink: it needs `name`, `fanout` and `async def deliver`")
        if sink.name in owners:
            raise ValueError(f"the sink name {sink.name!r} is already used by {owners[sink.name]}")
        sinks.append(sink)
    # The sink runner's own rules (unique, well-formed names; a known fan-out), checked now so that
    # a bad sink takes out its plugin instead of stopping the app when the runner starts.
    check_sinks(sinks)
    return sinks


async def _plugin_health(
    implementation: pluggy.HookImpl, app: web.Application, timeout: float
) -> HealthReport | None:
    name = implementation.plugin_name
    try:
        async with asyncio.timeout(timeout):
            report = await await_implementation(implementation, app=app)
    except TimeoutError:
        return HealthReport(name, False, f"titan_health gave no answer within {timeout:g} s")
    except Exception as exc:
        log.warning("titan_health of plugin %r raised", name, exc_info=True)
        return HealthReport(name, False, f"titan_health raised {type(exc).__name__}: {exc}")
    if report is not None and not isinstance(report, HealthReport):
        return HealthReport(name, False, f"titan_health returned {type(report).__name__}, not a HealthReport")
    return report


def prepare(
    app: web.Application, settings: Settings, plugin_manager: TitanPluginManager | None = None
) -> TitanHooks:
    """The app's plugin manager and hooks (in `PLUGIN_MANAGER` and `HOOKS`), with the plugins'
    entity kinds registered: what the core's own wiring needs to know before it adds routes."""
    manager = get_plugin_manager(settings) if plugin_manager is None else plugin_manager
    if not isinstance(manager, TitanPluginManager):
        raise TypeError("plugin_manager must come from titan_core.plugins.get_plugin_manager()")
    hooks = TitanHooks(manager)
    app[PLUGIN_MANAGER] = manager
    app[HOOKS] = hooks
    hooks.register_entity_kinds()
    return hooks


def install(
    app: web.Application,
    settings: Settings,
    plugin_manager: TitanPluginManager | None = None,
    *,
    hooks: TitanHooks | None = None,
) -> TitanHooks:
    """Wire the plugins into `app`: `titan_setup_app`, then `titan_event_sinks` into `EVENT_SINKS`.

    `create_app` calls this once, with the `hooks` of `prepare`; without them it prepares them here.
    """
    if hooks is None:
        hooks = prepare(app, settings, plugin_manager)
    manager = hooks.manager
    hooks.setup_app(app, settings)
    # Added to, not replaced: sinks registered before (`events.pipeline.add_event_sink`) stay.
    app[EVENT_SINKS] = [*app.get(EVENT_SINKS, []), *hooks.event_sinks(app, settings)]
    loaded = [record.name for record in manager.records if record.state == "loaded"]
    log.info("plugins in use: %s; event sinks: %s", ", ".join(loaded),
             ", ".join(sink.name for sink in app[EVENT_SINKS]) or "none")  # fmt: skip
    return hooks


@dataclass(frozen=True)
class StoreWiring:
    """What the store needs of the plugins outside an app (`titan migrate`, `titan load`)."""

    migrations: list[tuple[str, MigrationSource]]
    write_hooks: list[WriteHook]


def store_wiring(settings: Settings) -> StoreWiring:
    """The installed plugins' migration sources and write hooks, their entity kinds registered."""
    hooks = TitanHooks(get_plugin_manager(settings))
    hooks.register_entity_kinds()
    return StoreWiring(hooks.migration_sources(), hooks.write_hooks())


def print_plugins(settings: Settings, *, as_json: bool, out: IO[str] | None = None) -> int:
    """`titan plugins`: every plugin with version, hooks and state; exit code 1 if any failed.

    Loads the plugins without building an app, so failures inside wiring hooks do not show here.
    """
    write: Callable[[str], Any] = (out or sys.stdout).write
    manager = get_plugin_manager(settings.replace(require_plugins=False))
    records = manager.records
    if as_json:
        write(json.dumps([record.as_dict() for record in records], indent=2) + "\n")
    else:
        # The state goes last: a failure's reason can be long and must not push the other columns.
        rows = [("NAME", "VERSION", "HOOKS", "STATE")]
        for record in records:
            state = f"{record.state}: {record.reason}" if record.reason else record.state
            rows.append((record.name, record.version or "-", ", ".join(record.hooks) or "-", state))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            write("  ".join([*cells, row[3]]) + "\n")
    return 1 if any(record.state == "failed" for record in records) else 0
