"""Fixtures of the metrics tests: quick relay polls and sink retries. Apps with exactly the sinks and
plugins a test names come from the kit's `make_titan_client` (titan_core.testing)."""

from __future__ import annotations

import pytest

from titan_core.settings import Settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, relay_poll_ms=50, sink_retry_max_ms=200)
