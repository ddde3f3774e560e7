"""The typed application keys plugins may read: the one place app state is named."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from titan_core.settings import Settings
    from titan_core.store.database import Database
    from titan_core.store.repository import Repository

SETTINGS: web.AppKey[Settings] = web.AppKey("titan.settings")
DATABASE: web.AppKey[Database] = web.AppKey("titan.database")
REPOSITORY: web.AppKey[Repository] = web.AppKey("titan.repository")
