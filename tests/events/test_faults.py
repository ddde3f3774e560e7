"""Issue 3, point 3, with real `titan serve` processes: Redis stopped during writes, a crash between
commit and publish. (A dead `once` consumer: test_redis_bus.py; out-of-order commits: test_relay.py.)"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from tests.support.live_server import LiveServerFactory
from tests.support.redis import RedisClient, ThrowawayRedis

from .helpers import SM_ID, assert_valid_event, b64, prop, submodel

VALUE = f"/submodels/{b64(SM_ID)}/submodel-elements/Speed/$value"


async def _events(
    session: aiohttp.ClientSession, base: str, count: int, timeout: float = 20
) -> list[dict[str, Any]]:
    """All events from the start, once `count` have arrived."""
    found: list[dict[str, Any]] = []
    cursor = "0"
    deadline = time.monotonic() + timeout
    while len(found) < count:
        assert time.monotonic() < deadline, f"only {len(found)} of {count} events arrived: {found[-3:]}"
        async with session.get(
            f"{base}/events", params={"after": cursor, "wait": "2", "limit": "1000"}
        ) as reply:
            assert reply.status == 200, await reply.text()
            body = await reply.json()
        found.extend(assert_valid_event(item) for item in body["result"])
        cursor = body["paging_metadata"]["cursor"]
    return found


async def _expect(response: Any, status: int) -> None:
    async with response as reply:
        assert reply.status == status, await reply.text()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_writes_succeed_while_redis_is_down_and_every_event_arrives_after_it_returns(
    start_live_server: LiveServerFactory, throwaway_redis: ThrowawayRedis
) -> None:
    server = start_live_server(env={"TITAN_BUS": throwaway_redis.url, "TITAN_RELAY_POLL_MS": "50"})
    document = submodel(elements=[prop("Speed", "0", value_type="xs:int")])
    async with aiohttp.ClientSession() as session:
        await _expect(session.post(f"{server.base_url}/submodels", json=document), 201)
        for value in range(1, 31):
            if value == 11:
                await asyncio.to_thread(throwaway_redis.stop)
            if value == 21:
                await asyncio.to_thread(throwaway_redis.start)  # back, and empty (no persistence)
            await _expect(session.patch(f"{server.base_url}{VALUE}", json=value), 204)
        events = await _events(session, server.base_url, 31)
    assert [int(e["titanseq"]) for e in events] == list(range(1, 32))
    assert [e["data"] for e in events[1:]] == list(range(1, 31))  # order per identifiable kept
    assert len({e["id"] for e in events}) == 31  # no duplicates
    with RedisClient(throwaway_redis.url) as redis:  # and the stream has every one of them again
        assert redis.command("XLEN", "titan:events") == 31


@pytest.mark.slow  # starts `titan` as a process: not in `make test-fast`
@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_an_event_committed_just_before_a_crash_is_published_after_the_restart(
    start_live_server: LiveServerFactory,
) -> None:
    doomed = start_live_server(env={"TITAN_RELAY_PAUSED": "true"})  # commits, never publishes
    async with aiohttp.ClientSession() as session:
        await _expect(session.post(f"{doomed.base_url}/submodels", json=submodel()), 201)
        async with session.get(f"{doomed.base_url}/events", params={"after": "0"}) as reply:
            assert (await reply.json())["result"] == []
        doomed.kill()
        restarted = start_live_server()
        (event,) = await _events(session, restarted.base_url, 1)
    assert event["type"] == "io.admin-shell.events.v1.created" and event["titanid"] == SM_ID
