"""Issue 3, point 2: 1,000 writes from 10 concurrent clients over 20 submodels, two instances sharing
PostgreSQL and Redis: exactly the documented events, in commit order per identifiable, once per `once`
sink, once per instance for `each_instance` sinks, unique ids."""

from __future__ import annotations

import asyncio
import json
from random import Random

import pytest

from tests.support.app import AppClient
from titan_core.settings import Settings
from titan_core.testing import RecordingSink, TitanClients

from .helpers import assert_valid_event, b64, call, prop, submodel, write_marker

SUBMODELS = 20
CLIENTS = 10
WRITES_PER_CLIENT = 100


def submodel_id(index: int) -> str:
    return f"https://example.com/ids/sm/load-{index}"


def value_url(index: int) -> str:
    return f"/submodels/{b64(submodel_id(index))}/submodel-elements/Value/$value"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_thousand_concurrent_writes_reach_every_sink_as_documented(
    make_titan_client: TitanClients, settings: Settings, redis_url: str, redis_prefix: str
) -> None:
    shared = settings.replace(bus=redis_url, bus_prefix=redis_prefix)
    fan = [RecordingSink("fan", fanout="each_instance"), RecordingSink("fan", fanout="each_instance")]
    once = [RecordingSink("mq"), RecordingSink("mq")]
    instances = [
        await make_titan_client(shared, sinks=[fan[0], once[0]]),
        await make_titan_client(shared, sinks=[fan[1], once[1]]),
    ]
    for index in range(SUBMODELS):
        document = submodel(submodel_id(index), [prop("Value", "-1", value_type="xs:int")])
        await call(instances[index % 2], "POST", "/submodels", 201, json=document)
    history: dict[int, list[tuple[int, int]]] = {}

    async def writer(number: int, instance: AppClient) -> None:
        choose = Random(number)
        history[number] = []
        for step in range(WRITES_PER_CLIENT):
            target, value = choose.randrange(SUBMODELS), number * 1000 + step
            await call(instance, "PATCH", value_url(target), 204, json=value)
            history[number].append((target, value))

    await asyncio.gather(*(writer(number, instances[number % 2]) for number in range(CLIENTS)))
    total = SUBMODELS + CLIENTS * WRITES_PER_CLIENT
    # The barrier: a marker written after every write. Each sink takes events in titanseq order,
    # so once a sink has the marker, anything extra of the writes would already be there.
    marker = await write_marker(instances[0])
    assert marker == total + 1
    for sink in fan:
        await sink.wait_for(lambda events: marker in [event.titanseq for event in events], timeout=60)
    await once[0].wait_for(lambda _: marker in once[0].seqs + once[1].seqs, timeout=60)

    # Each instance's each_instance sink got every event once, in titanseq order.
    for sink in fan:
        assert sink.seqs == list(range(1, marker + 1))
    # The once sink got every event exactly once across the deployment (one instance delivers it).
    delivered = [event.envelope["id"] for sink in once for event in sink.events]
    assert len(delivered) == marker and set(delivered) == {event.envelope["id"] for event in fan[0].events}
    assert len(set(delivered)) == marker  # unique ids

    envelopes = [assert_valid_event(event.json) for event in fan[0].events if event.titanseq != marker]
    assert [e["type"].rsplit(".", 1)[1] for e in envelopes] == ["created"] * SUBMODELS + ["valueChanged"] * (
        total - SUBMODELS
    )
    seq_of_value = {e["data"]: int(e["titanseq"]) for e in envelopes[SUBMODELS:]}
    # Commit order per identifiable: a client's successive writes to one submodel come out in order.
    for writes in history.values():
        last_seq: dict[int, int] = {}
        for target, value in writes:
            assert seq_of_value[value] > last_seq.get(target, 0)
            last_seq[target] = seq_of_value[value]
    # And the last event of each element carries its stored value.
    last_value: dict[str, object] = {}
    for envelope in envelopes[SUBMODELS:]:
        last_value[envelope["titanid"]] = envelope["data"]
    for index in range(SUBMODELS):
        response = await instances[0].get(f"/submodels/{b64(submodel_id(index))}/$value")
        assert json.loads(await response.text()) == {"Value": last_value[submodel_id(index)]}
