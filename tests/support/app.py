"""Types for the in-process app fixtures (`app_client`, `make_app_client`), for test annotations."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from aiohttp import web
from aiohttp.test_utils import TestClient

from titan_core.settings import Settings

AppClient = TestClient[web.Request, web.Application]


class AppClientFactory(Protocol):
    """`make_app_client(settings=None, *, plugin_manager=None)`: a started client for a new app."""

    def __call__(
        self, settings: Settings | None = None, /, *, plugin_manager: Any = None
    ) -> Awaitable[AppClient]: ...
