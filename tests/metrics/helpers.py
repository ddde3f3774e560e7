"""Helpers of the metrics tests: the type of the `make_metrics_app` fixture (tests/metrics/conftest.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from tests.support.app import AppClient
from titan_core.delivery.sink import EventSink
from titan_core.settings import Settings


class MetricsAppFactory(Protocol):
    async def __call__(
        self,
        settings: Settings | None = None,
        /,
        *,
        sinks: Sequence[EventSink] = (),
        plugins: Sequence[Any] = (),
    ) -> AppClient: ...
