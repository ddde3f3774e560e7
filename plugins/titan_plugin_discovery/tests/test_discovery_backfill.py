"""The start-up back-fill, on SQLite and on PostgreSQL (a database of its own per test): shells
written while the plugin did not run (before it was installed, or while it was disabled) get their
derived links when Titan next starts with it, with their asset_link events recorded once; a
restart writes nothing; manual links stay. Small chunks, so every path pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from discovery_testing import b64, ok, shell
from titan_plugin_discovery import backfill
from titan_plugin_discovery.backfill import BACKFILL, BackfillProgress

from titan_core.plugin_api import Settings
from titan_core.testing import AppClient, TitanClients, wait_for_delivery


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two shells a page and a write transaction: the tests' few shells take several of each.
    monkeypatch.setattr(backfill, "CHUNK", 2)


async def found(client: AppClient, name: str, value: str) -> list[str]:
    query = "assetIds=" + b64(json.dumps({"name": name, "value": value}))
    return list((await ok(await client.get(f"/lookup/shells?{query}")))["result"])


async def started_with_discovery(make_titan_client: TitanClients) -> tuple[AppClient, BackfillProgress]:
    """A new app with the plugin, once its back-fill has finished."""
    client = await make_titan_client(plugins=["discovery"])
    progress = client.app[BACKFILL]
    await wait_for_delivery(
        lambda: progress.finished is not None, message=lambda: f"the back-fill did not finish: {progress}"
    )
    return client, progress


async def link_events(client: AppClient, count: int) -> list[tuple[str, str, Any]]:
    """The asset_link events of `/events` (type, shell id, data), once there are `count` of them."""
    events: list[tuple[str, str, Any]] = []

    async def arrived() -> bool:
        history = await ok(await client.get("/events?entity_types=asset_link&limit=1000"))
        events[:] = [
            (event["type"].rsplit(".", 1)[-1], event["titanid"], event.get("data"))
            for event in history["result"]
        ]
        return len(events) >= count

    await wait_for_delivery(arrived, message=lambda: f"{count} asset_link events expected, got {events}")
    return events


async def test_shells_stored_without_the_plugin_are_found_after_a_start_with_it_events_once(
    make_titan_client: TitanClients,
) -> None:
    without = await make_titan_client(plugins=[])
    for number in range(5):
        await ok(
            await without.post("/shells", json=shell(f"urn:pump:{number}", f"urn:asset:{number}", lot="L7")),
            201,
        )
    await without.close()

    client, progress = await started_with_discovery(make_titan_client)

    assert await found(client, "globalAssetId", "urn:asset:3") == ["urn:pump:3"]
    assert await found(client, "lot", "L7") == [f"urn:pump:{number}" for number in range(5)]
    assert (progress.checked, progress.rederived, progress.removed, progress.events, progress.error) == (
        5, 5, 0, 5, ""
    )  # fmt: skip
    assert sorted(await link_events(client, 5)) == [
        ("created", f"urn:pump:{number}", [
            {"name": "globalAssetId", "value": f"urn:asset:{number}"}, {"name": "lot", "value": "L7"}
        ]) for number in range(5)
    ]  # fmt: skip
    assert "back-fill done: 5 shells checked" in json.dumps(await (await client.get("/ready")).json())
    await client.close()

    # The next start: every shell already has its links; nothing is written, no event recorded.
    again, progress = await started_with_discovery(make_titan_client)
    assert (progress.checked, progress.rederived, progress.removed, progress.events) == (5, 0, 0, 0)
    # A write after it makes the one event more: the events before it are the five of the first start.
    await ok(await again.post("/shells", json=shell("urn:pump:new", "urn:asset:new")), 201)
    events = await link_events(again, 6)
    assert len(events) == 6 and events[-1][:2] == ("created", "urn:pump:new")


async def test_shells_changed_or_deleted_while_the_plugin_was_disabled_are_rederived_manual_links_stay(
    make_titan_client: TitanClients, titan_settings: Settings
) -> None:
    client = await make_titan_client(plugins=["discovery"])
    for name in ("a", "b", "c"):
        await ok(await client.post("/shells", json=shell(f"urn:{name}", f"urn:asset:{name}")), 201)
    await ok(await client.post(f"/lookup/shells/{b64('urn:a')}", json=[{"name": "lot", "value": "L1"}]), 201)
    await ok(await client.post(f"/lookup/shells/{b64('urn:b')}", json=[{"name": "lot", "value": "L2"}]), 201)
    # A shell held elsewhere: manual links only, never derived, never removed by the back-fill.
    await ok(
        await client.post(f"/lookup/shells/{b64('urn:remote')}", json=[{"name": "x", "value": "y"}]), 201
    )
    await link_events(client, 6)
    await client.close()

    # Disabled (TITAN_DISABLE_PLUGINS=discovery): its branch is in the database, so an instance
    # without it must not migrate (it cannot know the branch's revisions).
    disabled = await make_titan_client(titan_settings.replace(migrate_on_start=False), plugins=[])
    information = {"assetKind": "Instance", "globalAssetId": "urn:asset:a2"}
    await ok(await disabled.put(f"/shells/{b64('urn:a')}/asset-information", json=information), 204)
    await ok(await disabled.delete(f"/shells/{b64('urn:c')}"), 204)
    await ok(await disabled.post("/shells", json=shell("urn:d", None, serialNumber="4711")), 201)
    await disabled.close()

    client, progress = await started_with_discovery(make_titan_client)

    assert await found(client, "globalAssetId", "urn:asset:a") == []
    assert await found(client, "globalAssetId", "urn:asset:a2") == ["urn:a"]
    assert await found(client, "serialNumber", "4711") == ["urn:d"]
    assert await ok(await client.get(f"/lookup/shells/{b64('urn:a')}")) == [
        {"name": "globalAssetId", "value": "urn:asset:a2"},
        {"name": "lot", "value": "L1"},
    ]
    assert await ok(await client.get(f"/lookup/shells/{b64('urn:b')}")) == [
        {"name": "globalAssetId", "value": "urn:asset:b"},
        {"name": "lot", "value": "L2"},
    ]
    # The deleted shell's links went, as the hook removes them on a delete; the remote id's stay.
    assert (await client.get(f"/lookup/shells/{b64('urn:c')}")).status == 404
    assert await found(client, "x", "y") == ["urn:remote"]
    assert (progress.rederived, progress.removed, progress.events) == (2, 1, 3)
    events = (await link_events(client, 9))[6:]
    assert sorted(events) == [
        ("created", "urn:d", [{"name": "serialNumber", "value": "4711"}]),
        ("deleted", "urn:c", [{"name": "globalAssetId", "value": "urn:asset:c"}]),
        ("updated", "urn:a", [{"name": "globalAssetId", "value": "urn:asset:a2"}, {"name": "lot", "value": "L1"}]),
    ]  # fmt: skip
    assert {event[1] for event in events} == {"urn:a", "urn:c", "urn:d"}
