"""Fixtures for the plugin host tests: apps built with exactly the plugins a test names, and
plugin distributions that look installed to entry-point discovery."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from titan_core.plugins import TitanPluginManager, get_plugin_manager
from titan_core.settings import Settings

from .fake_distributions import FakeDistributions


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The plugin host does not depend on the database backend: SQLite only, a new file per test."""
    return f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"


@pytest.fixture
def plugin_manager(settings: Settings) -> TitanPluginManager:
    """A manager with the built-ins only; tests add their own plugins with `add_plugin`."""
    return get_plugin_manager(settings, load_entry_points=False)


@pytest.fixture
def fake_distributions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDistributions]:
    """Plugin distributions visible to `importlib.metadata` in this process and, through
    `PYTHONPATH`, in subprocesses the test starts."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    distributions = FakeDistributions(site)
    yield distributions
    distributions.forget_imports()
    importlib.invalidate_caches()
