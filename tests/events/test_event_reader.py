"""The read side plugins use (`titan_core.plugin_api.EventReader`): retained history filtered for a
principal with a cursor that moves past what it skips, and following from a titanseq into live
events with no gap and no duplicate."""

from __future__ import annotations

import asyncio

import pytest

from titan_core.plugin_api import ANONYMOUS, ROLE_READER, EventFilter, HistoryExpired, Principal, event_reader
from titan_core.settings import Settings
from titan_core.testing import AppClient, TitanClients, wait_for_delivery

from .helpers import call, concept_description, write_marker


async def create(client: AppClient, identifier: str) -> None:
    await call(client, "POST", "/concept-descriptions", 201, json=concept_description(identifier))


async def test_replay_filters_for_the_principal_and_moves_its_cursor_past_what_it_skipped(
    titan_client: AppClient,
) -> None:
    before = await write_marker(titan_client)
    for identifier in ("urn:plant-a:1", "urn:plant-b:1", "urn:plant-a:2"):
        await create(titan_client, identifier)
    last = await write_marker(titan_client)
    reader = event_reader(titan_client.app)
    plant_a = Principal("plant-a-dashboard", frozenset({ROLE_READER}), scopes=("urn:plant-a:*",))

    page = await reader.replay(before, principal=plant_a, limit=10)
    created_b = await reader.replay(
        before, event_filter=EventFilter(ids=frozenset({"urn:plant-b:1"})), principal=ANONYMOUS
    )

    assert [event.envelope["titanid"] for event in page.events] == ["urn:plant-a:1", "urn:plant-a:2"]
    assert page.cursor == last  # the markers were looked at and skipped: the next page starts after them
    assert [event.envelope["titanid"] for event in created_b.events] == ["urn:plant-b:1"]


async def test_follow_replays_history_then_goes_live_with_no_gap_and_no_duplicate(
    titan_client: AppClient,
) -> None:
    since = await write_marker(titan_client)
    await create(titan_client, "urn:follow:1")
    await create(titan_client, "urn:follow:2")
    wanted = EventFilter(ids=frozenset({"urn:follow:1", "urn:follow:2", "urn:follow:3"}))
    followed: list[str] = []
    two_seen = asyncio.Event()

    async def follow() -> None:
        async for event in event_reader(titan_client.app).follow(
            since, event_filter=wanted, principal=ANONYMOUS
        ):
            followed.append(event.envelope["titanid"])
            if len(followed) == 2:
                two_seen.set()
            if len(followed) == 3:
                return

    task = asyncio.get_running_loop().create_task(follow())
    async with asyncio.timeout(10):
        await two_seen.wait()  # history replayed; the third write is live
        await create(titan_client, "urn:follow:3")
        await task

    assert followed == ["urn:follow:1", "urn:follow:2", "urn:follow:3"]


async def test_follow_from_now_yields_only_new_events(titan_client: AppClient) -> None:
    await create(titan_client, "urn:old:1")
    await write_marker(titan_client)
    events = event_reader(titan_client.app).follow(
        event_filter=EventFilter(entity_types=frozenset({"concept_description"})), principal=ANONYMOUS
    )

    first = asyncio.get_running_loop().create_task(anext(events))
    await asyncio.sleep(0)  # the iterator takes its starting point (the head) on its first step
    await create(titan_client, "urn:new:1")

    async with asyncio.timeout(10):
        event = await first
    assert event.envelope["titanid"] == "urn:new:1"
    await events.aclose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_reading_past_retention_raises_history_expired_with_the_oldest_kept(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    client = await make_titan_client(settings.replace(event_retention=2, event_backlog_limit=2))
    for index in range(5):
        await create(client, f"urn:retention:{index}")
    reader = event_reader(client.app)
    await wait_for_delivery(
        lambda: reader.head() >= 5, message=lambda: f"the relay published up to {reader.head()}"
    )

    with pytest.raises(HistoryExpired) as expired:
        await reader.replay(0, principal=ANONYMOUS)

    assert expired.value.oldest == await reader.oldest() > 1
