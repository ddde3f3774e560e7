"""Fixtures of the event tests: fast relay settings. Apps with sinks come from the plugin authors'
kit (`make_titan_client`, `titan_client`: titan_core.testing), as for any plugin."""

from __future__ import annotations

import pytest

from titan_core.settings import Settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    """This test's database, with a quick fallback poll so rows from other processes show up fast."""
    return Settings(database_url=database_url, relay_poll_ms=50)
