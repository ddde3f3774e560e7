"""Fixtures of the autoregister tests: a remote Titan serving the registries and the discovery (the
registry and discovery plugins, on a database of its own), and the settings that point this
instance at it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from autoregister_testing import BASE
from pytest_asyncio import fixture as async_fixture

from titan_core.plugin_api import Settings
from titan_core.testing import AppClient, TitanClients


@async_fixture
async def remote(make_titan_client: TitanClients, titan_settings: Settings, tmp_path: Path) -> AppClient:
    """Another Titan: the AAS Registry, the Submodel Registry and the Discovery, no repository."""
    settings = titan_settings.replace(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/remote.sqlite3",
        services=("aas-registry", "submodel-registry", "discovery"),
    )
    return await make_titan_client(settings, plugins=["registry", "discovery"])


@pytest.fixture
def register_into(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """`register_into(url, discovery=url, **settings)`: the [autoregister] settings, as variables."""

    def configure(registry_url: str, *, discovery_url: str = "", **more: str) -> None:
        variables = {"registry_url": registry_url, "discovery_url": discovery_url, "endpoint_base_url": BASE,
                     "backoff": "0.05", "max_backoff": "0.2", **more}  # fmt: skip
        for name, value in variables.items():
            monkeypatch.setenv(f"TITAN_AUTOREGISTER_{name.upper()}", value)

    return configure


def url_of(client: AppClient) -> str:
    return str(client.make_url("/")).rstrip("/")
