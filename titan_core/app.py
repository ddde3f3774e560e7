"""The one application factory: database, repository and API routes, wired through `cleanup_ctx`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from titan_core.api.middleware import idta_errors
from titan_core.api.routes import add_api_routes
from titan_core.keys import DATABASE, REPOSITORY, SETTINGS
from titan_core.settings import Settings
from titan_core.store.database import Database
from titan_core.store.repository import Repository

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, plugin_manager: Any = None) -> web.Application:
    """Build a Titan application; the database opens (and migrates) when the app starts."""
    # A trailing slash (`/shells/{id}/`, which the IDTA test engine sends) redirects to the route
    # without it; 308 keeps the method and body.
    trailing_slash = web.normalize_path_middleware(
        append_slash=False, remove_slash=True, redirect_class=web.HTTPPermanentRedirect
    )
    app = web.Application(
        middlewares=[trailing_slash, idta_errors], client_max_size=settings.max_body_bytes
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_database_context)
    add_api_routes(app.router, "")
    if settings.api_prefix:
        add_api_routes(app.router, settings.api_prefix)
    return app


async def _database_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    database = Database(settings.database_url)
    try:
        if settings.migrate_on_start:
            await database.migrate()
        app[DATABASE] = database
        app[REPOSITORY] = Repository(database)
        yield
    finally:
        await database.close()
