"""Fixtures of the webhook plugin tests: a real local HTTP receiver (tests/plugins/webhook/webhook_receiver.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .webhook_receiver import WebhookReceiver


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver()
    await server.start()
    yield server
    await server.stop()
