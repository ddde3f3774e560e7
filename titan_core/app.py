"""The one application factory: database, repository and API routes, wired through `cleanup_ctx`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from functools import partial

from aiohttp import web

from titan_core.api.authorization import install_access_control
from titan_core.api.browser_guard import install_browser_guard
from titan_core.api.hardening import install_hardening
from titan_core.api.home import add_home_routes
from titan_core.api.media_types import media_type_check
from titan_core.api.middleware import idta_errors
from titan_core.api.openapi import add_openapi_route
from titan_core.api.routes import add_api_routes
from titan_core.api.serialization import PROFILES, add_description_route
from titan_core.delivery.feed import add_feed_routes
from titan_core.delivery.http import add_event_routes, titan_seq_header
from titan_core.delivery.pipeline import events_context
from titan_core.keys import DATABASE, MIGRATION_SOURCES, REPOSITORY, SERVICES, SETTINGS
from titan_core.metrics import install_metrics, register_plugin_collectors
from titan_core.plugins import TitanPluginManager
from titan_core.plugins import install as install_plugins
from titan_core.plugins import prepare as prepare_plugins
from titan_core.services import REPOSITORY_SERVICE, enabled_services
from titan_core.settings import Settings
from titan_core.store.database import Database
from titan_core.store.outbox import OutboxRecorder
from titan_core.store.repository import Repository
from titan_core.store.write_types import WriteHook

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, plugin_manager: TitanPluginManager | None = None) -> web.Application:
    """Build a Titan application; the database opens (and migrates) when the app starts.

    `plugin_manager`: the plugins this app uses (tests build apps with exactly the plugins they
    want); by default the installed ones, as `titan plugins` lists them.
    """
    # A trailing slash (`/shells/{id}/`, which the IDTA test engine sends) redirects to the route
    # without it; 308 keeps the method and body.
    trailing_slash = web.normalize_path_middleware(
        append_slash=False, remove_slash=True, redirect_class=web.HTTPPermanentRedirect
    )
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        # Legal requests can have long lines: two 2,000-character identifiers in base64url and an
        # idShortPath of 64 segments of 128 characters exceed aiohttp's 8 KiB default. A connection
        # that sends no complete request for keepalive_timeout seconds is closed (slow headers).
        handler_args={
            "max_line_size": 32768,
            "max_field_size": 32768,
            "keepalive_timeout": float(settings.keepalive_timeout),
        },
    )
    app[SETTINGS] = settings
    # Outermost first: request counting for /metrics (every answer counts), the Host and Origin
    # rules for browsers, CORS preflights and body limits, path normalisation, access control
    # (which answers its own 401/403 before X-Titan-Seq is added), the body's media type, then the
    # IDTA error bodies.
    app.middlewares.extend([
        *(install_metrics(app) if settings.metrics_enabled else []),
        install_browser_guard(app, settings),
        *install_hardening(app, settings),
        trailing_slash,
        *install_access_control(app, settings),
        media_type_check,
        titan_seq_header,
        idta_errors,
    ])  # fmt: skip
    # The plugins' declarations first (entity kinds, services, migrations, write hooks): the core's
    # own wiring depends on them.
    hooks = prepare_plugins(app, settings, plugin_manager)
    services = app[SERVICES] = enabled_services(settings, hooks.services(), core_profiles=PROFILES)
    app[MIGRATION_SOURCES] = hooks.migration_sources()
    write_hooks = hooks.write_hooks()
    add_openapi_route(app)
    add_home_routes(app.router)
    app.cleanup_ctx.append(partial(_database_context, write_hooks=write_hooks))
    for prefix in ("", settings.api_prefix) if settings.api_prefix else ("",):
        if REPOSITORY_SERVICE in services:
            add_api_routes(app.router, prefix)
        add_description_route(app.router, prefix)
        add_event_routes(app.router, prefix)
        add_feed_routes(app.router, prefix)
    # titan_setup_app, then titan_event_sinks: the plugins' routes and cleanup contexts.
    install_plugins(app, settings, hooks=hooks)
    register_plugin_collectors(app, hooks.metrics(app))
    # Last: the sink runner starts after the plugins' connections opened and stops before they close.
    app.cleanup_ctx.append(events_context)
    return app


async def _database_context(app: web.Application, *, write_hooks: list[WriteHook]) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    database = Database(settings.database_url, pool_size=settings.database_pool_size)
    try:
        if settings.migrate_on_start:
            plugin_migrations = app[MIGRATION_SOURCES]
            await database.migrate(plugin_migrations)
        app[DATABASE] = database
        recorder = OutboxRecorder(include_subject=settings.events_include_subject, write_hooks=write_hooks)
        app[REPOSITORY] = Repository(database, recorder=recorder)
        yield
    finally:
        await database.close()
