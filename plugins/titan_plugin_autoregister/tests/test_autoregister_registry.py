"""Against a live Titan registry and discovery (another app, on its own database, reached over
HTTP): the full sync at start, then updates and deletions from events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autoregister_testing import BASE, asset_query, descriptor_path, eventually, read, shell, submodel
from conftest import url_of

from titan_core.plugin_api import encode_identifier
from titan_core.testing import AppClient, TitanClients

PUMP = "https://plant.example/aas/pump-4711"
VALVE = "https://plant.example/aas/valve-0815"
NAMEPLATE = "https://plant.example/sm/nameplate-4711"


def descriptor_at(identifier: str, href: str) -> dict[str, Any]:
    """A minimal shell descriptor whose one endpoint is `href`."""
    return {"id": identifier, "endpoints": [{"interface": "AAS-3.0", "protocolInformation": {"href": href}}]}


def endpoint_of(document: dict[str, Any]) -> str:
    return str(document["endpoints"][0]["protocolInformation"]["href"])


async def lookup(client: AppClient, name: str, value: str) -> list[str]:
    found = await read(client, f"/lookup/shells?assetIds={asset_query(name, value)}")
    return list(found["result"])


async def eventually_found(client: AppClient, name: str, value: str, expected: list[str]) -> None:
    """Wait until the discovery finds `expected` for one asset id.

    The sink writes a shell's descriptor and then its asset links, in two requests: a test that
    has seen the descriptor may still be reading the discovery between the two.
    """
    await eventually(client, f"/lookup/shells?assetIds={asset_query(name, value)}",
                     lambda found: list(found["result"]) == expected,
                     f"the discovery does not find {expected} for {name}={value}")  # fmt: skip


async def test_a_full_sync_at_start_registers_every_twin_and_removes_only_its_own_stale_descriptors(
    make_titan_client: TitanClients, remote: AppClient, register_into: Callable[..., None]
) -> None:
    # The repository had twins before automatic registration was switched on.
    before = await make_titan_client(plugins=[])
    assert (
        await before.post("/shells", json=shell(PUMP, asset="urn:asset:pump", submodels=(NAMEPLATE,)))
    ).status == 201
    assert (await before.post("/submodels", json=submodel(NAMEPLATE))).status == 201
    await before.close()
    # The registry holds a descriptor this instance registered for a shell since deleted, and one of another server.
    stale = descriptor_at("https://plant.example/aas/gone", f"{BASE}/shells/Z29uZQ")
    foreign = descriptor_at("https://plant.example/aas/elsewhere", "https://titan-b.example/shells/eA")
    for document in (stale, foreign):
        assert (await remote.post("/shell-descriptors", json=document)).status == 201

    register_into(url_of(remote), discovery_url=url_of(remote))
    instance = await make_titan_client(plugins=["autoregister"])

    registered = await eventually(
        remote, descriptor_path(PUMP), lambda found: found is not None, "not registered"
    )
    await eventually(
        remote, descriptor_path(stale["id"]), lambda found: found is None, "the stale descriptor stayed"
    )
    assert await read(remote, descriptor_path(foreign["id"])) == foreign
    assert registered["idShort"] == "Pump" and registered["globalAssetId"] == "urn:asset:pump"
    assert registered["specificAssetIds"] == [{"name": "serialNumber", "value": "SN-urn:asset:pump"}]
    assert endpoint_of(registered) == f"{BASE}/shells/{encode_identifier(PUMP)}"
    [nested] = registered["submodelDescriptors"]
    assert nested["id"] == NAMEPLATE and nested["semanticId"] == submodel(NAMEPLATE)["semanticId"]
    alone = await eventually(remote, descriptor_path(NAMEPLATE, "/submodel-descriptors"),
                             lambda found: found is not None, "the submodel was not registered")  # fmt: skip
    assert endpoint_of(alone) == f"{BASE}/submodels/{encode_identifier(NAMEPLATE)}"
    assert await lookup(remote, "globalAssetId", "urn:asset:pump") == [PUMP]
    assert await lookup(remote, "serialNumber", "SN-urn:asset:pump") == [PUMP]
    health = next(
        check for check in (await read(instance, "/ready"))["checks"] if check["name"] == "autoregister"
    )
    assert health["ok"] and "1 full sync(s)" in health["detail"], health


async def test_updates_and_deletions_follow_the_events(
    make_titan_client: TitanClients, remote: AppClient, register_into: Callable[..., None]
) -> None:
    register_into(url_of(remote), discovery_url=url_of(remote))
    instance = await make_titan_client(plugins=["autoregister"])

    assert (await instance.post("/shells", json=shell(PUMP, asset="urn:asset:pump"))).status == 201
    assert (await instance.post("/shells", json=shell(VALVE, asset="urn:asset:valve"))).status == 201
    assert (await instance.post("/submodels", json=submodel(NAMEPLATE))).status == 201
    await eventually(remote, descriptor_path(VALVE), lambda found: found is not None, "valve not registered")
    await eventually(remote, descriptor_path(NAMEPLATE, "/submodel-descriptors"), lambda found: found is not None,
                     "submodel not registered")  # fmt: skip

    # A new idShort and a new asset id: the descriptor and the discovery follow.
    changed = shell(PUMP, asset="urn:asset:pump-v2", id_short="Pump2", submodels=(NAMEPLATE,))
    assert (await instance.put(f"/shells/{encode_identifier(PUMP)}", json=changed)).status == 204
    updated = await eventually(remote, descriptor_path(PUMP), lambda found: found and found["idShort"] == "Pump2",
                               "not updated")  # fmt: skip
    assert (
        updated["globalAssetId"] == "urn:asset:pump-v2"
        and updated["submodelDescriptors"][0]["id"] == NAMEPLATE
    )
    await eventually_found(remote, "globalAssetId", "urn:asset:pump-v2", [PUMP])
    assert await lookup(remote, "globalAssetId", "urn:asset:pump") == []

    # A changed submodel (its semanticId) is re-registered.
    assert (await instance.put(f"/submodels/{encode_identifier(NAMEPLATE)}",
                               json=submodel(NAMEPLATE, semantic_id="urn:nameplate:v3"))).status == 204  # fmt: skip
    await eventually(remote, descriptor_path(NAMEPLATE, "/submodel-descriptors"),
                     lambda found: found and found["semanticId"]["keys"][0]["value"] == "urn:nameplate:v3",
                     "the submodel's new semanticId was not registered")  # fmt: skip

    # Deletions deregister, and the discovery forgets the shell's asset ids.
    assert (await instance.delete(f"/shells/{encode_identifier(VALVE)}")).status == 204
    assert (await instance.delete(f"/submodels/{encode_identifier(NAMEPLATE)}")).status == 204
    await eventually(remote, descriptor_path(VALVE), lambda found: found is None, "valve not deregistered")
    await eventually(remote, descriptor_path(NAMEPLATE, "/submodel-descriptors"), lambda found: found is None,
                     "submodel not deregistered")  # fmt: skip
    await eventually_found(remote, "globalAssetId", "urn:asset:valve", [])
    assert await read(remote, descriptor_path(PUMP)) is not None
