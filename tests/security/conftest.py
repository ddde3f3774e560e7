"""Fixtures of the security tests: an app with authentication on (API keys and HS256 JWTs) that holds
the twins of `twins.py` (written by `stored.load_twins`)."""

from __future__ import annotations

import pytest

from tests.support.app import AppClient, AppClientFactory
from titan_core.plugins import TitanPluginManager, get_plugin_manager
from titan_core.settings import Settings

from .stored import started_with_twins
from .twins import API_KEY_ENTRIES, JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET


@pytest.fixture
def secure_settings(settings: Settings) -> Settings:
    """Authentication on, with the API keys of `twins.KEYS` and HS256 tokens of `twins.token`."""
    return settings.replace(
        auth_enabled=True,
        api_keys=API_KEY_ENTRIES,
        jwt_secret=JWT_SECRET,
        jwt_issuer=JWT_ISSUER,
        jwt_audience=JWT_AUDIENCE,
    )


@pytest.fixture
def core_plugins(settings: Settings) -> TitanPluginManager:
    """The core's built-in plugins only: no installed transport adds routes of its own."""
    return get_plugin_manager(settings, load_entry_points=False)


@pytest.fixture
async def secure_client(
    make_app_client: AppClientFactory, secure_settings: Settings, core_plugins: TitanPluginManager
) -> AppClient:
    """A started app with authentication on, holding the twins."""
    return await started_with_twins(make_app_client, secure_settings, core_plugins)
