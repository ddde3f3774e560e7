"""Issue 11, "outages answered cleanly", Redis away: writes still commit (the outbox is in the
database), publishing waits, and `/ready` tells the truth again within a second of Redis coming
back (empty): no stale sink error, a reachable bus, a relay without error, every event delivered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.events.helpers import SM_ID, b64, submodel
from tests.support.app import AppClient
from tests.support.redis import ThrowawayRedis
from titan_core.app import create_app
from titan_core.delivery.pipeline import add_event_sink
from titan_core.settings import Settings
from titan_core.testing import RecordingSink

VALUE = f"/submodels/{b64(SM_ID)}/submodel-elements/Speed/$value"
# "Within a second" of Redis answering again, with room for a busy two-core test machine.
RECOVERY_DEADLINE_S = 3.0


@pytest.fixture
async def redis_app(
    database_url: str, throwaway_redis: ThrowawayRedis
) -> AsyncIterator[tuple[AppClient, RecordingSink]]:
    settings = Settings(
        database_url=database_url, bus=throwaway_redis.url, relay_poll_ms=50, sink_retry_max_ms=200,
        sink_lease_ms=3000,
    )  # fmt: skip
    sink = RecordingSink("recorder")
    app = create_app(settings)
    add_event_sink(app, sink)
    client: AppClient = TestClient(TestServer(app))
    await client.start_server()
    yield client, sink
    await client.close()


async def _ready(client: AppClient) -> dict[str, Any]:
    response = await client.get("/ready")
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body  # Redis away is no reason to leave the load balancer
    return body


def _sink(body: dict[str, Any]) -> dict[str, Any]:
    return next(sink for sink in body["events"]["sinks"] if sink["name"] == "recorder")


async def _until(
    client: AppClient, condition: Callable[[dict[str, Any]], bool], what: str, timeout: float
) -> float:
    """Poll /ready until `condition`; returns the seconds it took, fails after `timeout` s."""
    started = time.monotonic()
    while True:
        body = await _ready(client)
        if condition(body):
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"{what} not within {timeout} s: {body}"
        await asyncio.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_redis_away_writes_commit_publishing_waits_and_ready_is_true_within_a_second_of_its_return(
    redis_app: tuple[AppClient, RecordingSink], throwaway_redis: ThrowawayRedis
) -> None:
    client, sink = redis_app
    assert (await client.post("/submodels", json=submodel())).status == 201
    await _until(client, lambda body: _sink(body)["delivered"] == "1", "the first event delivered", 10)

    await asyncio.to_thread(throwaway_redis.stop)
    for value in range(1, 6):
        response = await client.patch(VALUE, json=value)
        assert response.status == 204, await response.text()  # committed: the outbox is in the database
    away = await _until(
        client,
        lambda body: not body["events"]["bus"]["reachable"],
        "Redis reported away",
        10,
    )
    assert away < 10
    body = await _ready(client)
    assert body["events"]["delivery"]["outbox_pending"] + len(sink.events) >= 1  # events wait, none lost
    assert [event.titanseq for event in sink.events] == [1]

    await asyncio.to_thread(throwaway_redis.start)  # back, and empty (no persistence)
    took = await _until(
        client,
        lambda body: (
            body["events"]["bus"]["reachable"]
            and body["events"]["relay"]["error"] == ""
            and _sink(body)["last_error"] == ""
        ),
        "/ready clear of errors",
        RECOVERY_DEADLINE_S,
    )
    print(f"/ready clear {took:.2f} s after Redis answered again")
    await _until(client, lambda body: _sink(body)["delivered"] == "6", "all 6 events delivered", 10)
    assert sorted({event.titanseq for event in sink.events}) == list(range(1, 7))
