"""The Discovery service inside Titan, on SQLite and on PostgreSQL (a database of its own per test):
fed from the repository's shells in their write transactions, beside the manual links API; its
events, paging, errors, scopes and `/description`. Built only on titan_core.testing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from discovery_testing import b64, ok, shell
from sqlalchemy import text
from sqlalchemy.engine import Connection
from titan_plugin_discovery import plugin

from titan_core.plugin_api import Change, Conflict, Settings, hookimpl
from titan_core.testing import AppClient, RecordingSink, TitanClients, plugin_manager_with, wait_for_delivery

PLUGIN_DIR = Path(__file__).resolve().parents[1]
PROFILE_31 = "https://admin-shell.io/aas/API/3/1/DiscoveryServiceSpecification/SSP-001"


@pytest_asyncio.fixture
async def client(make_titan_client: TitanClients, recording_sink: RecordingSink) -> AppClient:
    return await make_titan_client(plugins=["discovery"], sinks=[recording_sink])


def asset_ids(*links: tuple[str, str]) -> str:
    return "&".join("assetIds=" + b64(json.dumps({"name": name, "value": value})) for name, value in links)


async def lookup(client: AppClient, *links: tuple[str, str], query: str = "") -> Any:
    return await ok(await client.get(f"/lookup/shells?{asset_ids(*links)}{query}"))


async def search(client: AppClient, *links: tuple[str, str]) -> list[str]:
    body = [{"name": name, "value": value} for name, value in links]
    found = await ok(await client.post("/lookup/shellsByAssetLink", json=body))
    return list(found["result"])


def test_discovery_plugin_is_discovered_through_its_entry_point(titan_settings: Settings) -> None:
    project = tomllib.loads((PLUGIN_DIR / "pyproject.toml").read_text())["project"]

    record = next(record for record in plugin_manager_with(titan_settings, ["discovery"]).records
                  if record.name == "discovery")  # fmt: skip

    assert project["entry-points"]["titan"] == {"discovery": "titan_plugin_discovery.plugin"}
    assert (record.state, record.distribution) == ("loaded", "titan-aas-discovery")
    assert set(record.hooks) == {
        "titan_entity_kinds", "titan_health", "titan_migrations", "titan_services", "titan_setup_app",
        "titan_write_transaction",
    }  # fmt: skip
    assert plugin.TITAN_PLUGIN_API.startswith(">=1.")


async def test_a_created_shell_is_found_by_its_global_and_specific_asset_ids(client: AppClient) -> None:
    await ok(await client.post("/shells", json=shell("urn:pump:1", "urn:asset:1", serialNumber="4711")), 201)
    await ok(await client.post("/shells", json=shell("urn:pump:2", "urn:asset:2", serialNumber="4711")), 201)

    assert (await lookup(client, ("globalAssetId", "urn:asset:1")))["result"] == ["urn:pump:1"]
    assert (await lookup(client, ("serialNumber", "4711")))["result"] == ["urn:pump:1", "urn:pump:2"]
    # Every link given must match (AND), on name and value; "globalAssetId" in any case.
    assert await search(client, ("GLOBALASSETID", "urn:asset:2"), ("serialNumber", "4711")) == ["urn:pump:2"]
    assert await search(client, ("globalAssetId", "urn:asset:2"), ("serialNumber", "0815")) == []
    assert await ok(await client.get(f"/lookup/shells/{b64('urn:pump:1')}")) == [
        {"name": "globalAssetId", "value": "urn:asset:1"},
        {"name": "serialNumber", "value": "4711"},
    ]


async def test_derived_links_follow_asset_information_changes_and_go_with_the_shell(
    client: AppClient,
) -> None:
    await ok(await client.post("/shells", json=shell("urn:pump:1", "urn:asset:old")), 201)

    information = {"assetKind": "Instance", "globalAssetId": "urn:asset:new"}
    await ok(await client.put(f"/shells/{b64('urn:pump:1')}/asset-information", json=information), 204)
    assert (await lookup(client, ("globalAssetId", "urn:asset:old")))["result"] == []
    assert (await lookup(client, ("globalAssetId", "urn:asset:new")))["result"] == ["urn:pump:1"]

    await ok(
        await client.put(f"/shells/{b64('urn:pump:1')}", json=shell("urn:pump:1", None, partId="P-9")), 204
    )
    assert await ok(await client.get(f"/lookup/shells/{b64('urn:pump:1')}")) == [
        {"name": "partId", "value": "P-9"}
    ]

    await ok(await client.delete(f"/shells/{b64('urn:pump:1')}"), 204)
    assert (await lookup(client, ("partId", "P-9")))["result"] == []
    assert (await client.get(f"/lookup/shells/{b64('urn:pump:1')}")).status == 404


async def test_manual_links_live_beside_derived_ones(client: AppClient) -> None:
    shell_id = b64("urn:pump:1")
    await ok(await client.post("/shells", json=shell("urn:pump:1", "urn:asset:1")), 201)

    posted = [{"name": "customerPartId", "value": "C-1"}, {"name": "globalAssetId", "value": "urn:asset:1"}]
    assert await ok(await client.post(f"/lookup/shells/{shell_id}", json=posted), 201) == posted
    # Served once each, the derived ones first; a later shell write keeps the manual ones.
    await ok(await client.put(f"/shells/{shell_id}", json=shell("urn:pump:1", "urn:asset:2")), 204)
    assert await ok(await client.get(f"/lookup/shells/{shell_id}")) == [
        {"name": "globalAssetId", "value": "urn:asset:2"},
        {"name": "customerPartId", "value": "C-1"},
        {"name": "globalAssetId", "value": "urn:asset:1"},
    ]
    # DELETE removes the manual links only; the derived ones follow the shell.
    await ok(await client.delete(f"/lookup/shells/{shell_id}"), 204)
    assert await ok(await client.get(f"/lookup/shells/{shell_id}")) == [
        {"name": "globalAssetId", "value": "urn:asset:2"}
    ]
    conflict = await client.delete(f"/lookup/shells/{shell_id}")
    assert conflict.status == 409 and "assetInformation" in await conflict.text()


async def test_links_of_a_shell_held_elsewhere_and_the_removal_of_every_link_with_the_shell(
    client: AppClient,
) -> None:
    elsewhere = b64("urn:remote:7")
    await ok(
        await client.post(f"/lookup/shells/{elsewhere}", json=[{"name": "serialNumber", "value": "7"}]), 201
    )
    assert (await lookup(client, ("serialNumber", "7")))["result"] == ["urn:remote:7"]
    await ok(await client.delete(f"/lookup/shells/{elsewhere}"), 204)
    assert (await client.delete(f"/lookup/shells/{elsewhere}")).status == 404

    # A shell of this repository that is deleted takes its manual links with it (nothing left to find).
    await ok(await client.post("/shells", json=shell("urn:pump:1", "urn:asset:1")), 201)
    await ok(
        await client.post(f"/lookup/shells/{b64('urn:pump:1')}", json=[{"name": "x", "value": "y"}]), 201
    )
    await ok(await client.delete(f"/shells/{b64('urn:pump:1')}"), 204)
    assert (await lookup(client, ("x", "y")))["result"] == []


class RefusingPlugin:
    """Another plugin's write hook that refuses one shell, after discovery's hook wrote its links."""

    @hookimpl(trylast=True)
    def titan_write_transaction(self, connection: Connection, changes: list[Change]) -> None:
        if any(change.identifier == "urn:refused" for change in changes):
            query = text("SELECT count(*) FROM discovery_asset_links WHERE shell_id = 'urn:refused'")
            written = connection.execute(query).scalar_one()
            raise Conflict(f"refused by the test's plugin; discovery had written {written} link(s)")


async def test_links_commit_and_roll_back_with_the_shell_write(make_titan_client: TitanClients) -> None:
    client = await make_titan_client(plugins=["discovery", ("refusing", RefusingPlugin())])

    refused = await client.post("/shells", json=shell("urn:refused", "urn:asset:refused"))
    await ok(await client.post("/shells", json=shell("urn:kept", "urn:asset:kept")), 201)

    assert refused.status == 409 and "discovery had written 1 link(s)" in await refused.text()
    assert (await client.get(f"/shells/{b64('urn:refused')}")).status == 404
    assert (await client.get(f"/lookup/shells/{b64('urn:refused')}")).status == 404
    assert (await lookup(client))["result"] == ["urn:kept"]


async def test_titan_load_feeds_discovery_in_the_import_transaction(
    client: AppClient, titan_database_url: str, tmp_path: Path
) -> None:
    environment = {
        "assetAdministrationShells": [shell(f"urn:pump:{n}", f"urn:asset:{n}", lot="L7") for n in range(3)]
    }
    (tmp_path / "plant.json").write_text(json.dumps(environment))

    # A process of its own, beside the running app (whose event loop must go on meanwhile).
    loading = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "titan_core", "load", "--jobs", "1", "--database-url", titan_database_url,
        str(tmp_path / "plant.json"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(loading.communicate(), timeout=120)

    assert loading.returncode == 0, output.decode()
    assert (await lookup(client, ("globalAssetId", "urn:asset:2")))["result"] == ["urn:pump:2"]
    assert (await lookup(client, ("lot", "L7")))["result"] == ["urn:pump:0", "urn:pump:1", "urn:pump:2"]


async def test_lookups_page_through_every_shell_by_cursor(client: AppClient) -> None:
    ids = [f"urn:pump:{number:02d}" for number in range(7)]
    for shell_id in reversed(ids):
        await ok(await client.post("/shells", json=shell(shell_id, None, manufacturer="ACME")), 201)

    seen: list[str] = []
    cursor = ""
    for _ in range(len(ids)):
        page = await lookup(client, ("manufacturer", "ACME"), query=f"&limit=3{cursor}")
        seen += page["result"]
        if "cursor" not in page["paging_metadata"]:
            break
        cursor = "&cursor=" + page["paging_metadata"]["cursor"]

    assert seen == ids
    everything = await ok(await client.get("/lookup/shells?limit=100"))
    assert everything["result"] == ids


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("GET", "/lookup/shells?assetIds=%25%25", None, 400, "base64url"),
        ("GET", "/lookup/shells?limit=0", None, 400, "limit"),
        ("GET", "/lookup/shells?cursor=%21", None, 400, "cursor"),
        ("POST", "/lookup/shellsByAssetLink", {"name": "a", "value": "b"}, 400, "JSON array of AssetLinks"),
        ("POST", "/lookup/shellsByAssetLink", [{"name": "", "value": "b"}], 400, "member 'name'"),
        ("POST", f"/lookup/shells/{b64('urn:x')}", [{"name": "a"}], 400, "'value' is missing"),
        ("GET", f"/lookup/shells/{b64('urn:x')}", None, 404, "no asset links"),
        ("GET", "/lookup/shells/%21%21", None, 400, "base64url"),
    ],
)
async def test_bad_requests_answer_the_idta_error_body_and_change_nothing(
    client: AppClient, method: str, path: str, body: Any, status: int, says: str
) -> None:
    response = await client.request(method, path, json=body)

    error = await response.json()
    assert response.status == status, error
    assert error["messages"][0]["messageType"] == "Error" and says in error["messages"][0]["text"], error
    assert (await ok(await client.get("/lookup/shells")))["result"] == []


async def test_every_change_of_a_shells_links_is_an_asset_link_event(
    client: AppClient, recording_sink: RecordingSink
) -> None:
    shell_id = b64("urn:pump:1")
    await ok(await client.post("/shells", json=shell("urn:pump:1", "urn:asset:1")), 201)
    renamed = {**shell("urn:pump:1", "urn:asset:1"), "idShort": "renamed"}
    await ok(await client.put(f"/shells/{shell_id}", json=renamed), 204)  # links unchanged: no event
    await ok(await client.post(f"/lookup/shells/{shell_id}", json=[{"name": "lot", "value": "L1"}]), 201)
    await ok(await client.delete(f"/shells/{shell_id}"), 204)

    def link_events() -> list[tuple[str, Any]]:
        return [(str(event.envelope["type"]).rsplit(".", 1)[-1], event.envelope.get("data"))
                for event in recording_sink.events if event.envelope.get("titanentity") == "asset_link"]  # fmt: skip

    await wait_for_delivery(lambda: len(link_events()) >= 3, message=lambda: f"got {link_events()}")
    assert link_events() == [
        ("created", [{"name": "globalAssetId", "value": "urn:asset:1"}]),
        ("updated", [{"name": "globalAssetId", "value": "urn:asset:1"}, {"name": "lot", "value": "L1"}]),
        ("deleted", [{"name": "globalAssetId", "value": "urn:asset:1"}, {"name": "lot", "value": "L1"}]),
    ]
    sources = {
        event.envelope["source"]
        for event in recording_sink.events
        if event.envelope.get("titanentity") == "asset_link"
    }
    assert sources == {f"/lookup/shells/{shell_id}"}
    # The same events from the history, filtered by their kind, and in the Event Feed's terms.
    history = await ok(await client.get("/events?entity_types=asset_link"))
    assert [event["type"].rsplit(".", 1)[-1] for event in history["result"]] == [
        "created",
        "updated",
        "deleted",
    ]
    assert {event["titanid"] for event in history["result"]} == {"urn:pump:1"}


async def test_asset_link_events_reach_a_websocket_subscription_filtered_by_their_kind(
    make_titan_client: TitanClients,
) -> None:
    # The WebSocket plugin by its entry-point name, beside this one (neither imports the other).
    client = await make_titan_client(plugins=["discovery", "ws"])
    async with client.ws_connect("/ws/events") as socket:
        assert (await socket.receive_json(timeout=10))["type"] == "welcome"
        await socket.send_json(
            {"type": "subscribe", "id": "links", "filter": {"entity_types": ["asset_link"]}}
        )
        assert (await socket.receive_json(timeout=10)) == {"type": "subscribed", "id": "links"}

        await ok(await client.post("/shells", json=shell("urn:pump:1", "urn:asset:1")), 201)
        message = await socket.receive_json(timeout=10)

    assert message["subscription"] == "links"
    assert (message["event"]["titanentity"], message["event"]["titanid"]) == ("asset_link", "urn:pump:1")
    assert message["event"]["data"] == [{"name": "globalAssetId", "value": "urn:asset:1"}]


async def test_served_under_the_3_0_prefix_and_listed_in_description(client: AppClient) -> None:
    await ok(await client.post("/shells", json=shell("urn:pump:1", "urn:asset:1")), 201)

    found = await ok(
        await client.get(f"/api/v3.0/lookup/shells?{asset_ids(('globalAssetId', 'urn:asset:1'))}")
    )
    profiles = (await ok(await client.get("/description")))["profiles"]

    assert found["result"] == ["urn:pump:1"]
    assert PROFILE_31 in profiles and PROFILE_31.replace("3/1", "3/0") in profiles


async def test_an_instance_without_the_discovery_service_serves_no_lookup_but_still_feeds_it(
    make_titan_client: TitanClients, titan_settings: Settings
) -> None:
    repository_only = await make_titan_client(
        titan_settings.replace(services=("repository",)), plugins=["discovery"]
    )

    await ok(await repository_only.post("/shells", json=shell("urn:pump:1", "urn:asset:1")), 201)
    profiles = (await ok(await repository_only.get("/description")))["profiles"]

    assert (await repository_only.get("/lookup/shells")).status == 404
    assert PROFILE_31 not in profiles


def _key_entry(key: str, *parts: str) -> str:
    return f"sha256:{hashlib.sha256(key.encode()).hexdigest()};" + ";".join(parts)


async def test_scopes_and_roles_apply_to_lookups_and_links(
    make_titan_client: TitanClients, titan_settings: Settings
) -> None:
    keys = (
        _key_entry("admin-key", "subject=admin", "role=admin"),
        _key_entry("line1-key", "subject=line1", "role=reader", "scope=urn:line1:*"),
    )
    client = await make_titan_client(
        titan_settings.replace(auth_enabled=True, api_keys=keys), plugins=["discovery"]
    )
    admin, line1 = {"X-API-Key": "admin-key"}, {"X-API-Key": "line1-key"}
    for shell_id in ("urn:line1:a", "urn:line2:b", "urn:line1:c"):
        await ok(await client.post("/shells", json=shell(shell_id, None, plant="P"), headers=admin), 201)

    assert (await client.get("/lookup/shells")).status == 401
    scoped = await ok(await client.get(f"/lookup/shells?{asset_ids(('plant', 'P'))}&limit=1", headers=line1))
    assert scoped["result"] == ["urn:line1:a"]
    rest = await ok(await client.get(
        f"/lookup/shells?{asset_ids(('plant', 'P'))}&cursor={scoped['paging_metadata']['cursor']}", headers=line1
    ))  # fmt: skip
    assert rest["result"] == ["urn:line1:c"]
    searched = await client.post(
        "/lookup/shellsByAssetLink", json=[{"name": "plant", "value": "P"}], headers=line1
    )
    assert (await ok(searched))["result"] == ["urn:line1:a", "urn:line1:c"]
    assert (await client.get(f"/lookup/shells/{b64('urn:line2:b')}", headers=line1)).status == 403
    posted = await client.post(f"/lookup/shells/{b64('urn:line1:a')}", json=[], headers=line1)
    assert posted.status == 403  # a reader may search, not change links
