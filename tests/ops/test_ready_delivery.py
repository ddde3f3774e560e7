"""Observed failure 5 of issue 11: `/ready` reported healthy while nobody published. It now reads
the relay lease and the outbox when asked: a vacant lease, a holder that stopped renewing it and
events left waiting show at once (as checks that report, without failing readiness), and on
`/metrics`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from tests.events.helpers import submodel
from tests.support.app import AppClient, AppClientFactory
from titan_core.app import create_app
from titan_core.delivery.pipeline import add_event_sink
from titan_core.keys import DATABASE, EVENT_PIPELINE
from titan_core.settings import Settings
from titan_core.store.tables import event_relay
from titan_core.testing import RecordingSink


async def _relay_check(client: AppClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """The "event relay" check of `/ready` and the delivery state. The check is left out when the
    lease could not be read within its 2 s (a busy machine opening the first connections): asked
    again then, until a deadline."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.get("/ready")
        body = await response.json()
        assert response.status == 200, body
        checks = [check for check in body["checks"] if check["name"] == "event relay"]
        if checks:
            (check,) = checks
            return check, body["events"]["delivery"]
        assert time.monotonic() < deadline, f"/ready never reported the event relay within 30 s: {body}"
        await asyncio.sleep(0.1)


async def _metric(client: AppClient, name: str) -> str:
    text = await (await client.get("/metrics")).text()
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return line.split()[1]


async def test_a_vacant_relay_lease_with_events_waiting_is_reported(
    make_app_client: AppClientFactory, settings: Settings
) -> None:
    client = await make_app_client(settings.replace(relay_paused=True))  # nobody relays
    assert (await client.post("/submodels", json=submodel())).status == 201
    check, delivery = await _relay_check(client)
    assert check["ok"] is False
    assert check["detail"] == "no instance holds the relay lease; 1 events wait in the outbox"
    assert delivery["relay_lease"]["vacant"] is True and delivery["outbox_pending"] == 1
    assert await _metric(client, "titan_relay_lease_vacant") == "1.0"
    assert await _metric(client, "titan_outbox_pending_events") == "1.0"


async def test_a_relay_lease_holder_that_stopped_renewing_is_reported_before_its_lease_ends(
    make_app_client: AppClientFactory, settings: Settings
) -> None:
    client = await make_app_client(settings.replace(relay_paused=True))
    # Another instance took the lease 8 s ago and has not renewed it since (it renews every third).
    expires_at = time.time_ns() // 1_000_000 - 8000 + settings.relay_lease_ms
    async with client.app[DATABASE].write() as connection:
        await connection.execute(
            update(event_relay)
            .where(event_relay.c.name == "relay")
            .values(holder="gone-4711", expires_at=expires_at)
        )
    check, delivery = await _relay_check(client)
    assert check["ok"] is False
    assert check["detail"].startswith("the relay lease holder gone-4711 is ") and "overdue" in check["detail"]
    assert delivery["relay_lease"]["vacant"] is False
    assert delivery["relay_lease"]["renewal_overdue_s"] > 3
    assert float(await _metric(client, "titan_relay_lease_overdue_seconds")) > 3


async def test_a_working_relay_is_reported_ok(app_client: AppClient) -> None:
    assert (await app_client.post("/submodels", json=submodel())).status == 201
    deadline = time.monotonic() + 10
    while True:  # the event is published within milliseconds; a busy machine may take longer
        check, delivery = await _relay_check(app_client)
        if check["ok"] and delivery["outbox_pending"] == 0:
            break
        assert time.monotonic() < deadline, (check, delivery)
        await asyncio.sleep(0.05)
    assert delivery["relay_lease"]["vacant"] is False and delivery["relay_lease"]["renewal_overdue_s"] == 0


async def test_a_once_sink_held_by_this_instance_is_reported_with_its_owner(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    # On the Redis bus a `once` sink's owner is the instance holding its lease row in the database;
    # `/ready` names it, and `/metrics` says 1 for the owner.
    app = create_app(Settings(database_url=database_url, bus=redis_url, bus_prefix=redis_prefix))
    add_event_sink(app, RecordingSink("recorder"))
    client: AppClient = TestClient(TestServer(app))
    await client.start_server()
    try:
        deadline = time.monotonic() + 15
        while True:
            body = await (await client.get("/ready")).json()
            owner = body["events"]["delivery"]["sink_owners"].get("recorder")
            if owner is not None:
                break
            assert time.monotonic() < deadline, f"no owner of the once sink reported: {body}"
            await asyncio.sleep(0.05)
        assert owner == client.app[EVENT_PIPELINE].instance_id, body
        (check,) = [check for check in body["checks"] if check["name"] == "sink recorder"]
        assert check["ok"] is True and check["detail"] == f"delivered by {owner}"
        metrics = await (await client.get("/metrics")).text()
        assert 'titan_sink_owner{fanout="once",sink="recorder"} 1.0' in metrics.splitlines(), metrics
    finally:
        await client.close()
