"""After a reconnect, Titan publishes again what the broker acknowledged just before the connection
broke (setting `republish_window`): a broker that crashes loses what it held only in memory.

The broker here has no persistence at all, so a SIGKILL loses every message it had acknowledged;
the subscriber re-subscribes to the restarted broker before Titan reconnects (Titan's reconnect
pause is longer), so whatever Titan republishes reaches it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.support.app import AppClient
from tests.support.mosquitto import ThrowawayMosquitto

from .mqtt_helpers import SM_ID, MqttAppFactory, Recorder, b64, prop, submodel

PREFIX = "again"


async def write(client: AppClient, recorder: Recorder, values: range) -> list[str]:
    """Write each value, wait for its event; returns the events' ids."""
    for value in values:
        url = f"/submodels/{b64(SM_ID)}/submodel-elements/V/$value"
        response = await client.patch(url, json=value)
        assert response.status == 204, await response.text()
    await recorder.wait_for(lambda _: len(by_value(recorder)) >= values.stop - 1, what=f"values {values}")
    found = by_value(recorder)
    return [found[value] for value in values]


def by_value(recorder: Recorder) -> dict[Any, str]:
    return {
        m.envelope()["data"]: m.envelope()["id"]
        for m in recorder.events()
        if m.envelope()["type"].endswith("valueChanged")
    }


async def crash_and_restart(broker: ThrowawayMosquitto, client: AppClient, recorder: Recorder) -> int:
    """Kill the broker, start it again (empty), let the subscriber re-subscribe, then Titan reconnect.
    Returns how many messages the subscriber had before the crash."""
    before = len(recorder.messages)
    broker.kill()
    await asyncio.to_thread(broker.start)
    async with asyncio.timeout(10):
        await recorder.subscribed.wait()
    deadline = time.monotonic() + 15
    while not await mqtt_connected_again(client):
        assert time.monotonic() < deadline, "Titan did not reconnect to the restarted broker"
        await asyncio.sleep(0.05)
    return before


async def mqtt_connected_again(client: AppClient) -> bool:
    body = await (await client.get("/ready")).json()
    check = next(check for check in body["checks"] if check["plugin"] == "mqtt")
    return bool(check["ok"])


async def _reconnecting_app(
    make_mqtt_app: MqttAppFactory, broker: ThrowawayMosquitto, *, republish_window: float
) -> AppClient:
    """An app on `broker` that publishes again what it published in the last `republish_window` s
    before a connection loss. It reconnects 1.2-1.5 s after the loss; the subscriber within 20 ms
    of the broker's return."""
    return await make_mqtt_app(
        broker.url, prefix=PREFIX, republish_window=republish_window, reconnect_min=1.5, reconnect_max=1.5
    )


async def test_events_acknowledged_just_before_a_broker_crash_are_published_again(
    make_mqtt_app: MqttAppFactory,
) -> None:
    with ThrowawayMosquitto() as broker:
        client = await _reconnecting_app(make_mqtt_app, broker, republish_window=1.0)
        async with Recorder(broker.url, [f"{PREFIX}/element/#"]) as recorder:
            response = await client.post("/submodels", json=submodel(elements=[prop("V", "0", "xs:int")]))
            assert response.status == 201
            old = await write(client, recorder, range(1, 4))
            await asyncio.sleep(1.5)  # older than the window when the connection breaks
            recent = await write(client, recorder, range(4, 7))

            before = await crash_and_restart(broker, client, recorder)
            await recorder.wait_for(
                lambda messages: len(messages) >= before + len(recent), what="the republished events"
            )
            # The barrier: a new write's event; a further republication would have come before it.
            (barrier,) = await write(client, recorder, range(7, 8))
            again = [m.envelope()["id"] for m in recorder.messages[before:]]
            assert again.pop() == barrier, "the new write's event comes last"
            detail = next(
                check["detail"]
                for check in (await (await client.get("/ready")).json())["checks"]
                if check["plugin"] == "mqtt"
            )

    assert again == recent, "exactly the events of the last second, in order, with their own ids"
    assert not set(again) & set(old)
    assert "3 published again after reconnects" in detail


async def test_a_republish_window_of_zero_publishes_nothing_again(make_mqtt_app: MqttAppFactory) -> None:
    with ThrowawayMosquitto() as broker:
        client = await _reconnecting_app(make_mqtt_app, broker, republish_window=0)
        async with Recorder(broker.url, [f"{PREFIX}/element/#"]) as recorder:
            response = await client.post("/submodels", json=submodel(elements=[prop("V", "0", "xs:int")]))
            assert response.status == 201
            await write(client, recorder, range(1, 4))

            before = await crash_and_restart(broker, client, recorder)
            # Publishing goes on, and the next write's event is the barrier: a republication, had
            # there been one, would have come before it.
            (barrier,) = await write(client, recorder, range(4, 5))
            assert [m.envelope()["id"] for m in recorder.messages[before:]] == [barrier]
