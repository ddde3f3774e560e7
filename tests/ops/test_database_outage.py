"""Issue 11, "outages answered cleanly": PostgreSQL stopped for about 5 s in the middle of a burst of
writes to a real `titan serve`. Writes get 2xx or 503 with `Retry-After` (never 500), the log says
it once each way (no traceback per request), `/ready` is 503 meanwhile, and no write is lost."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import aiohttp
import pytest

from tests.support.live_server import LiveServerFactory
from tests.support.postgres import ThrowawayPostgres
from titan_core.model.identifiers import encode_identifier

SUBMODEL_ID = "https://example.com/ids/sm/outage"
WRITERS = 8
OUTAGE_S = 5.0


def _submodel() -> dict[str, Any]:
    return {
        "modelType": "Submodel",
        "id": SUBMODEL_ID,
        "idShort": "Outage",
        "submodelElements": [
            {"modelType": "Property", "idShort": f"P{index}", "valueType": "xs:int", "value": "0"}
            for index in range(WRITERS)
        ],
    }


def _value_url(base: str, index: int) -> str:
    return f"{base}/submodels/{encode_identifier(SUBMODEL_ID)}/submodel-elements/P{index}/$value"


async def _all_events(session: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    """Every event on `/events`, from the start to the current head."""
    found: list[dict[str, Any]] = []
    cursor = "0"
    while True:
        async with session.get(f"{base}/events", params={"after": cursor, "limit": "1000"}) as reply:
            assert reply.status == 200, await reply.text()
            body = await reply.json()
        if not body["result"]:
            return found
        found.extend(body["result"])
        cursor = body["paging_metadata"]["cursor"]


async def _wait_for_ready(session: aiohttp.ClientSession, base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        async with session.get(f"{base}/ready") as reply:
            status = reply.status
        if status == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"/ready still answers {status} {timeout} s after PostgreSQL came back")


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # the server uses its own
async def test_postgres_stopped_mid_burst_gets_503_never_500_logs_once_each_way_and_loses_nothing(
    throwaway_postgres: ThrowawayPostgres, start_live_server: LiveServerFactory
) -> None:
    server = start_live_server(throwaway_postgres.url, env={"TITAN_RELAY_POLL_MS": "50"})
    base = server.base_url
    acknowledged: dict[int, list[int]] = {index: [] for index in range(WRITERS)}
    statuses: dict[int, int] = {}
    refusals: list[tuple[str | None, dict[str, Any]]] = []
    stop_writing = asyncio.Event()

    async def writer(session: aiohttp.ClientSession, index: int) -> None:
        value = 0
        while not stop_writing.is_set():
            value += 1
            async with session.patch(_value_url(base, index), json=value) as reply:
                statuses[reply.status] = statuses.get(reply.status, 0) + 1
                if 200 <= reply.status < 300:
                    acknowledged[index].append(value)
                elif reply.status == 503:
                    refusals.append((reply.headers.get("Retry-After"), await reply.json()))
                else:
                    stop_writing.set()
                    raise AssertionError(f"write answered {reply.status}: {await reply.text()}")
            await asyncio.sleep(0.002)

    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/submodels", json=_submodel()) as reply:
            assert reply.status == 201, await reply.text()
        writers = [asyncio.create_task(writer(session, index)) for index in range(WRITERS)]
        try:
            await asyncio.sleep(0.5)  # writes flow before the outage
            await asyncio.to_thread(throwaway_postgres.stop, "fast")
            stopped_at = time.monotonic()
            async with session.get(f"{base}/ready") as reply:
                ready_while_down = reply.status
                ready_body = await reply.json()
            async with session.get(f"{base}/metrics") as reply:  # answers without the database
                assert reply.status == 200, await reply.text()
                metrics_while_down = await reply.text()
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))
            await asyncio.to_thread(throwaway_postgres.start)
            await _wait_for_ready(session, base, timeout=15)
            # Writes flow again: every writer gets at least one more write through.
            counts = {index: len(values) for index, values in acknowledged.items()}
            deadline = time.monotonic() + 15
            while any(len(acknowledged[index]) == counts[index] for index in acknowledged):
                assert time.monotonic() < deadline, f"writes did not resume after the outage: {statuses}"
                await asyncio.sleep(0.05)
        finally:
            stop_writing.set()
            await asyncio.gather(*writers)
        # Every acknowledged write is stored and has its event (the relay catches up on its own).
        expected: set[tuple[Any, Any]] = {
            (f"P{index}", value) for index, values in acknowledged.items() for value in values
        }
        deadline = time.monotonic() + 20
        while True:
            events = await _all_events(session, base)
            seen = {(e["titanpath"], e["data"]) for e in events if e["type"].endswith("valueChanged")}
            if expected <= seen:
                break
            assert time.monotonic() < deadline, (
                f"events missing for {len(expected - seen)} acknowledged writes"
            )
            await asyncio.sleep(0.2)
        stored = {}
        for index in range(WRITERS):
            async with session.get(_value_url(base, index)) as reply:
                assert reply.status == 200, await reply.text()
                stored[f"P{index}"] = await reply.json()  # an element's $value is its bare value
    last_event: dict[str, Any] = {}
    for event in events:
        if event["type"].endswith("valueChanged"):
            last_event[event["titanpath"]] = event["data"]
    for index in range(WRITERS):
        assert stored[f"P{index}"] == last_event[f"P{index}"], "the stored value and the last event disagree"
        assert stored[f"P{index}"] >= acknowledged[index][-1]

    assert ready_while_down == 503, ready_body
    assert "\ntitan_database_up 0.0\n" in metrics_while_down, metrics_while_down
    assert "titan_outbox_pending_events" not in metrics_while_down  # unknown while it is away
    assert refusals, f"no write was refused during a {OUTAGE_S} s outage: {statuses}"
    assert set(statuses) <= {204, 503}, statuses
    for retry_after, body in refusals:
        assert retry_after is not None and retry_after.isdigit(), retry_after
        assert body["messages"][0]["code"] == "503" and "database" in body["messages"][0]["text"]
    back_pattern = re.compile(r"^\S+ \S+ INFO titan_core\.store\.outage: .*reachable again.*$", re.M)
    deadline = time.monotonic() + 20  # the probe runs every 0.5 s; a slow machine may lag behind
    while not back_pattern.search(log := server.log()):
        assert time.monotonic() < deadline, (
            f"no 'reachable again' line 20 s after the writes resumed: {log[-3000:]}"
        )
        await asyncio.sleep(0.2)
    assert "Traceback" not in log, server.log_tail(120)
    assert "PendingRollbackError" not in log
    warnings = re.findall(r"^\S+ \S+ (?:WARNING|ERROR) titan_core\.(?!plugins).*$", log, re.M)
    outage_warnings = [line for line in warnings if "not reachable" in line]
    assert len(outage_warnings) == 1, "\n".join(warnings)
    assert warnings == outage_warnings, "\n".join(warnings)
    back = back_pattern.findall(log)
    assert len(back) == 1, log[-3000:]
