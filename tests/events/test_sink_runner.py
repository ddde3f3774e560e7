"""The sink runner: retries with backoff, timeouts, independence of sinks, lag and errors for /ready."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.app import AppClient
from titan_core.delivery.pipeline import event_status
from titan_core.settings import Settings
from titan_core.testing import RecordingSink, TitanClients

from .helpers import ELEMENTS, call, submodel, wait_events

LIVENESS_S = 2.0

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _write_three(client: AppClient) -> None:
    await call(client, "POST", "/submodels", 201, json=submodel())
    for value in (1, 2):
        await call(client, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=value)


async def test_a_sink_that_raises_gets_the_same_events_again_and_holds_up_no_other(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    failing = RecordingSink("failing", fail_first=3)
    healthy = RecordingSink("healthy", fanout="each_instance")
    client = await make_titan_client(settings.replace(sink_retry_max_ms=200), sinks=[failing, healthy])
    started = time.monotonic()
    await _write_three(client)
    await healthy.wait_for(lambda events: len(events) == 3, timeout=LIVENESS_S)
    assert time.monotonic() - started < LIVENESS_S
    await failing.wait_for(lambda events: len(events) >= 3)
    assert failing.calls >= 4  # three refusals, then the retried batch
    assert failing.seqs[:3] == [1, 2, 3] and len(set(failing.seqs)) == len(failing.seqs)


async def test_a_sink_that_hangs_is_cut_off_by_the_timeout_and_holds_up_no_other(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    hanging = RecordingSink("hanging", hang=True)
    healthy = RecordingSink("healthy")
    client = await make_titan_client(settings.replace(sink_timeout_ms=300), sinks=[hanging, healthy])
    started = time.monotonic()
    await _write_three(client)
    await healthy.wait_for(lambda events: len(events) == 3, timeout=LIVENESS_S)
    assert time.monotonic() - started < LIVENESS_S
    await hanging.wait_for(lambda _: hanging.calls >= 2, timeout=5)  # cut off, then retried

    status = event_status(client.app)
    assert status is not None
    sinks = {sink["name"]: sink for sink in status["sinks"]}
    assert sinks["healthy"]["lag"] == 0 and sinks["healthy"]["delivered"] == "3"
    assert sinks["hanging"]["failing"] and sinks["hanging"]["lag"] == 3
    assert "did not return within 0.3 s" in sinks["hanging"]["last_error"]
    assert status["bus"]["head"] == "3" and status["relay"]["leader"] is True


async def test_a_new_sink_starts_at_the_head_and_advances_batch_by_batch(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    first = await make_titan_client()
    await _write_three(first)
    await wait_events(first, 0, 3)  # published before the stop: the head the next start sees
    await first.close()
    sink = RecordingSink("late", delay=0.01)
    client = await make_titan_client(settings.replace(sink_batch_size=2), sinks=[sink])
    for value in (3, 4, 5):
        await call(client, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=value)
    await sink.wait_for(lambda events: len(events) == 3)
    assert sink.seqs == [4, 5, 6]


async def test_a_sink_with_a_batch_size_of_its_own_gets_batches_of_that_size(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    # Both sinks hold their first batch at the gate until all 12 events are committed, so the rest
    # pile up behind them however fast this machine writes.
    gate = asyncio.Event()
    own = RecordingSink("own", gate=gate)
    own.batch_size = 5  # type: ignore[attr-defined]
    general = RecordingSink("general", gate=gate)
    client = await make_titan_client(settings.replace(sink_batch_size=2), sinks=[own, general])
    await call(client, "POST", "/submodels", 201, json=submodel())
    for value in range(11):
        await call(client, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=100 + value)
    await wait_events(client, 0, 12)  # all 12 published: the sinks' backlog is complete
    gate.set()
    await own.wait_for(lambda events: len(events) == 12)
    await general.wait_for(lambda events: len(events) == 12)
    assert max(own.batch_sizes) == 5
    assert max(general.batch_sizes) == 2
    assert own.seqs == general.seqs == list(range(1, 13))


async def test_a_sink_that_says_it_can_deliver_again_is_retried_without_finishing_its_backoff(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    # The MQTT sink sets `retry_now` when the broker connection is back: events must not wait out a
    # backoff that grew during a long outage.
    sink = RecordingSink("recovering", fail_first=5)
    sink.retry_now = asyncio.Event()  # type: ignore[attr-defined]
    client = await make_titan_client(settings.replace(sink_retry_max_ms=60_000), sinks=[sink])
    await _write_three(client)
    await sink.wait_for(lambda _: sink.calls >= 5, timeout=10)  # pauses 0.1, 0.2, 0.4, 0.8 s so far
    await asyncio.sleep(0.05)  # the runner now waits about 1.6 s before the sixth attempt
    recovered = time.monotonic()
    sink.retry_now.set()  # type: ignore[attr-defined]
    await sink.wait_for(lambda events: len(events) == 3, timeout=LIVENESS_S)
    assert time.monotonic() - recovered < 1.0
