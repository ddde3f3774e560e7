"""The relay: out-of-order commits, one relay per deployment (the lease), retention of the outbox."""

from __future__ import annotations

import asyncio
import sys

import pytest
from sqlalchemy import func, select

from titan_core.delivery.pipeline import EventPipeline
from titan_core.eventtypes.change import Change
from titan_core.keys import DATABASE, EVENT_PIPELINE, REPOSITORY
from titan_core.settings import Settings
from titan_core.store.database import WriterBusy
from titan_core.store.tables import event_outbox
from titan_core.testing import TitanClients

from .helpers import (
    ELEMENTS,
    call,
    publish_speed_writes,
    read_events,
    submodel,
    summary,
    wait_events,
)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_transactions_committing_out_of_insert_id_order_are_both_delivered(
    make_titan_client: TitanClients,
) -> None:
    client = await make_titan_client()
    await call(client, "POST", "/submodels", 201, json=submodel())
    await wait_events(client, 0, 1)
    database, recorder = client.app[DATABASE], client.app[REPOSITORY].recorder
    inserted, release = asyncio.Event(), asyncio.Event()
    slow_change = Change(type="created", entity="concept_description", identifier="urn:slow",
                         data={"modelType": "ConceptDescription", "id": "urn:slow"})  # fmt: skip

    async def slow_transaction() -> None:
        async with database.write() as connection:
            await recorder.record(connection, [slow_change], origin="rest")
            inserted.set()
            await release.wait()

    slow = asyncio.create_task(slow_transaction())
    await inserted.wait()
    await call(client, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=7)  # a higher id, committed first
    (fast,) = await wait_events(client, 1, 1)
    assert summary([fast]) == [("valueChanged", "element", "Speed")]
    release.set()
    await slow
    (late,) = await wait_events(client, 2, 1)
    assert late["titanid"] == "urn:slow" and late["titanseq"] == "3"
    async with database.read() as connection:
        ids = dict((await connection.execute(select(event_outbox.c.event_id, event_outbox.c.id))).all())
    assert ids[late["id"]] < ids[fast["id"]]  # inserted first, committed (and published) last


@pytest.mark.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
async def test_only_one_relay_publishes_and_another_takes_over_when_it_stops(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    fast_lease = settings.replace(relay_lease_ms=600)
    first = await make_titan_client(fast_lease)
    second = await make_titan_client(fast_lease)
    for index, client in enumerate([first, second, first, second]):
        await call(client, "POST", "/concept-descriptions", 201,
                   json={"modelType": "ConceptDescription", "id": f"urn:cd:{index}"})  # fmt: skip
    pipelines: list[EventPipeline] = [first.app[EVENT_PIPELINE], second.app[EVENT_PIPELINE]]
    assert [p.relay.leader for p in pipelines] == [True, False]
    published = await wait_events(first, 0, 4)
    assert [e["titanseq"] for e in published] == ["1", "2", "3", "4"]
    assert (await read_events(second, after=0))[0] == []  # the other relay published nothing

    await first.close()  # releases the lease
    await call(second, "POST", "/concept-descriptions", 201,
               json={"modelType": "ConceptDescription", "id": "urn:cd:after"})  # fmt: skip
    found = await wait_events(second, 0, 5, timeout=10)
    assert [e["titanseq"] for e in found] == ["1", "2", "3", "4", "5"]
    assert [e["id"] for e in found[:4]] == [e["id"] for e in published]
    assert pipelines[1].relay.leader


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_published_outbox_rows_beyond_retention_are_deleted(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    client = await make_titan_client(settings.replace(event_retention=2))
    await publish_speed_writes(client, 5)
    await client.app[EVENT_PIPELINE].relay.maintain()
    async with client.app[DATABASE].read() as connection:
        remaining = (await connection.execute(select(func.min(event_outbox.c.seq), func.count()))).one()
    assert tuple(remaining) == (5, 2)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_events_are_published_while_trimming_is_still_running(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    client = await make_titan_client(settings.replace(relay_paused=True))
    relay = client.app[EVENT_PIPELINE].relay
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow_trimming() -> None:  # as deleting many thousand rows would be
        started.set()
        await finish.wait()

    relay.maintain = slow_trimming  # type: ignore[method-assign]
    relay._maintain_due = 0.0  # due now
    await call(client, "POST", "/submodels", 201, json=submodel())
    async with asyncio.timeout(5):
        assert await relay.run_once() == 1  # takes the lease, publishes, starts trimming
        await started.wait()
        await call(client, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=8)
        assert await relay.run_once() == 1, "the round waited for the trimming"
    finish.set()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_paused_relay_leaves_events_in_the_outbox_until_a_relay_runs(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    paused = await make_titan_client(settings.replace(relay_paused=True))
    await call(paused, "POST", "/submodels", 201, json=submodel())
    # No relay runs at all (it is not started), so there is nothing to wait for: the event is in
    # the outbox without a titanseq, and /events has nothing.
    async with paused.app[DATABASE].read() as connection:
        waiting = (
            await connection.execute(select(func.count()).where(event_outbox.c.seq.is_(None)))
        ).scalar()
    assert waiting == 1
    assert (await read_events(paused, after=0))[0] == []
    await paused.close()
    running = await make_titan_client()
    (event,) = await wait_events(running, 0, 1)
    assert summary([event]) == [("created", "submodel", None)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_relay_waits_for_another_process_holding_the_sqlite_write_lock(
    make_titan_client: TitanClients, settings: Settings, database_url: str
) -> None:
    # The relay assigns titanseqs in a transaction run on the event loop, which must not wait
    # for SQLite's lock there: when another process (`titan load`) holds it, the relay waits in a
    # worker thread instead, and nothing is lost or assigned twice.
    client = await make_titan_client(settings.replace(relay_paused=True))
    pipeline, database = client.app[EVENT_PIPELINE], client.app[DATABASE]
    await call(client, "POST", "/submodels", 201, json=submodel())
    assert await pipeline.relay.run_once() == 1  # takes the lease
    await call(client, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=8)

    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOCK_HOLDER, database_url.split("///", 1)[1],
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert await holder.stdout.readline() == b"locked\n"
        with pytest.raises(WriterBusy):
            async with database.write_inline():
                pass
        relay_round = asyncio.create_task(pipeline.relay.run_once())
        await asyncio.sleep(0.3)
        assert not relay_round.done()  # waiting for the lock, and the event loop is not blocked
        holder.stdin.write(b"commit\n")
        assert await asyncio.wait_for(relay_round, 10) == 1
    finally:
        if holder.returncode is None:
            holder.kill()
        await holder.wait()
    events, _ = await read_events(client, after=0)
    assert [(e["titanseq"], e["type"].rsplit(".", 1)[-1]) for e in events] == [
        ("1", "created"), ("2", "valueChanged"),
    ]  # fmt: skip


# Holds SQLite's write lock until told to commit.
LOCK_HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("COMMIT")
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_backlog_is_taken_in_full_batches_after_a_small_inline_round(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    # Rounds on the event loop take at most 64 rows: a bulk load's events carry whole submodels,
    # and a 500-row transaction on the loop would hold up every request meanwhile.
    client = await make_titan_client(settings.replace(relay_paused=True, relay_batch_size=100))
    pipeline, database, recorder = (
        client.app[EVENT_PIPELINE],
        client.app[DATABASE],
        client.app[REPOSITORY].recorder,
    )
    changes = [
        Change(type="created", entity="concept_description", identifier=f"urn:cd:{index}",
               data={"modelType": "ConceptDescription", "id": f"urn:cd:{index}"})
        for index in range(250)
    ]  # fmt: skip
    async with database.write() as connection:
        await recorder.record(connection, changes, origin="load")
    rounds = [await pipeline.relay.run_once() for _ in range(4)]
    assert rounds == [64, 100, 86, 0]
    events, _ = await read_events(client, after=0, limit=1000)
    assert [int(e["titanseq"]) for e in events] == list(range(1, 251))
    assert [e["titanid"] for e in events] == [f"urn:cd:{index}" for index in range(250)]
