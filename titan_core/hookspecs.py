"""The plugin contract: every hook Titan calls, with its signature and when it fires.

Plugins implement these with `@titan_core.hookimpl`; docs/plugins.md documents each one, and a
meta-test keeps that page and this module in step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from aiohttp import web
    from prometheus_client.registry import Collector
    from sqlalchemy.engine import Connection

    from titan_core.auth import Principal
    from titan_core.delivery.sink import EventSink
    from titan_core.eventtypes.change import Change
    from titan_core.eventtypes.kinds import EntityKind
    from titan_core.health import HealthReport
    from titan_core.services import Service
    from titan_core.settings import Settings
    from titan_core.store.migration_sources import MigrationSource

PROJECT_NAME = "titan"
"""The pluggy project name, and the entry-point group plugins register under."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- Wiring hooks: synchronous, called once while the application is built ---------------------


@hookspec
def titan_setup_app(app: web.Application, settings: Settings) -> None:
    """Add routes, sub-applications and `cleanup_ctx` entries to the application being built.

    Fires once per application, inside `create_app`, after the core's own wiring and before
    `titan_event_sinks`. Every implementation runs; results are ignored. Open connections in a
    `cleanup_ctx` generator appended here, never in the hook itself: the hook runs outside the
    event loop. Must be synchronous (`def`, not `async def`).

    :param app: the application being built; store plugin state under your own `web.AppKey`.
    :param settings: the server settings; read your own section with a
        `titan_core.settings.SettingsSection` dataclass (`YourConfig.from_settings(settings)`), or raw
        with `settings.section(name)`.
    """


@hookspec
def titan_event_sinks(app: web.Application, settings: Settings) -> Sequence[EventSink] | None:
    """Return the sinks this plugin delivers events to.

    Fires once per application, right after `titan_setup_app`. Every implementation runs and the
    sinks of all plugins are collected; the core then runs one consumer task per sink. Sink names
    must be unique across all plugins. Must be synchronous.

    :param app: the application being built.
    :param settings: the server settings.
    :return: the plugin's sinks (an empty list or None when it has nothing to deliver to).
    """


@hookspec
def titan_metrics(app: web.Application) -> Sequence[Collector] | None:
    """Return the Prometheus collectors of this plugin, for `GET /metrics`.

    Fires once per application, after `titan_event_sinks`. Every implementation runs; the core
    registers the collectors in the app's own `CollectorRegistry` (one per app, never the
    module-global one). A collector is any object with `collect()` yielding metric families: a
    `prometheus_client` metric created with `registry=None`, or a custom collector that reads the
    plugin's live state when scraped (cheaper than counting on a hot path). Name metrics
    `titan_<plugin>_…`. A collector that raises while scraped is left out of that scrape and
    logged; the others are served. Must be synchronous.

    :param app: the application being built; collectors may keep it and read its state later.
    :return: the plugin's collectors (an empty list or None when it has none).
    """


@hookspec
def titan_migrations() -> Sequence[MigrationSource] | None:
    """Return the plugin's own Alembic histories, migrated with the core's.

    Fires when the database is migrated (`migrate_on_start`, `titan migrate`), before the app
    serves. Each `MigrationSource` is a versions directory whose revisions form one branch labelled
    `branch` (the first revision: `down_revision = None`, `branch_labels = (branch,)`; it may
    `depends_on` a core revision). The core upgrades its own chain and every branch to their heads
    in one run, on SQLite and PostgreSQL. A plugin whose migration fails stops the start with a
    message naming it. Must be synchronous.

    :return: the plugin's migration sources (an empty list or None when it has no tables).
    """


@hookspec
def titan_entity_kinds() -> Sequence[EntityKind] | None:
    """Return the kinds of entity whose changes this plugin records as events.

    Fires once per application, while it is built. Each `EntityKind(name, collection)` becomes a
    `titanentity` value events carry (`source` = collection + base64url(identifier)), accepted by
    the outbox, `/events` and WebSocket filters, the Event Feed and the transports. Kinds are
    process-wide: declaring the same kind again is harmless; a core kind's name, or a name another
    plugin declared with another collection, takes the plugin out. Must be synchronous.

    :return: the plugin's kinds (an empty list or None when it has none).
    """


@hookspec
def titan_services() -> Sequence[Service] | None:
    """Return the services (route groups) this plugin implements, for the setting `services`.

    Fires once per application, before `titan_setup_app`. The setting `services` names the ones an
    instance serves (empty: the core's `repository` and every plugin's); a plugin checks with
    `serves(settings, name)` in `titan_setup_app` before adding its routes. `/description` lists the
    profiles of the enabled services. Must be synchronous.

    :return: the plugin's services (an empty list or None when it has none).
    """


@hookspec
def titan_write_transaction(
    connection: Connection, changes: Sequence[Change], origin: str, subject: str | None
) -> Sequence[Change] | None:
    """Work inside every Repository write transaction, before its events are stored.

    Called by the outbox with the changes the core write made (REST, group-committed value
    writes, `titan load`, packages), on the write's own connection, in its transaction. Write the
    plugin's own rows on `connection` (synchronous SQLAlchemy Core); return further changes (of the
    plugin's entity kinds) to store in the same outbox, in the same transaction: the hook is not
    called again for them. Raising aborts the whole write (rolled back; the caller sees the error).
    Implementations run in pluggy's order. Keep it short: it runs while the write lock is held.
    Must be synchronous.

    :param connection: the write transaction's connection.
    :param changes: the changes the core write made.
    :param origin: the write's origin (`rest`, `mqtt`, `load`, `plugin:<name>`).
    :param subject: who made the write (`Principal.subject`), or None when unknown.
    :return: changes to store with them (or None).
    """


# --- Runtime hooks: called while serving; may return an awaitable -------------------------------


@hookspec
def titan_authenticate(
    request: web.Request, token: str | None
) -> Principal | Awaitable[Principal | None] | None:
    """Say who is calling: per HTTP request, and per WebSocket connection or `auth` message.

    Implementations run one by one in pluggy's order (`tryfirst` first); an awaitable result is
    awaited. Stops at the first result that is not None. Raising refuses the caller outright
    (401) and no further implementation runs.

    :param request: the HTTP request (for a WebSocket, the upgrade request).
    :param token: the credential the caller presented (the `Authorization` header value, a
        WebSocket `?token=` or `auth` message), or None when there is none.
    :return: a `Principal`; None for "not my kind of credential, ask the next plugin".
    """


@hookspec
def titan_health(app: web.Application) -> HealthReport | Awaitable[HealthReport | None] | None:
    """Report the plugin's own health, for the body of `GET /ready`.

    Fires on every `GET /ready`. Every implementation runs (each with a time limit) and each
    report is listed; an awaitable result is awaited. An implementation that raises or runs out
    of time is reported as not ok under the plugin's name. A report that is not ok fails readiness
    only when the setting `require_plugins` is on.

    :param app: the running application.
    :return: a `HealthReport` (name, ok, detail), or None when the plugin has nothing to report.
    """
