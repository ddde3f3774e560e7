"""Automatic registration: the registry (this instance's own, or a remote one behind a gate that
checks credentials and can be taken away) follows the repository's shells and submodels: created,
changed and deleted twins, a full sync at start, and nothing missed while the registry is away."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pytest_asyncio import fixture as async_fixture
from registry_testing import RegistryGate, b64, shell, submodel
from titan_plugin_registry.config import SyncConfig

from titan_core.plugin_api import Settings, SettingsError
from titan_core.testing import AppClient, TitanClients, wait_for_delivery

BASE = "https://titan.example/api/v3.0"
SHELL = "https://plant.example/aas/pump-4711"
SUBMODEL = "https://plant.example/sm/nameplate-4711"


async def descriptor(client: AppClient, path: str) -> dict[str, Any] | None:
    response = await client.get(path)
    if response.status == 404:
        return None
    assert response.status == 200, await response.text()
    found: dict[str, Any] = await response.json()
    return found


async def eventually(client: AppClient, path: str, check: Any, what: str) -> None:
    last: list[Any] = [None]

    async def holds() -> bool:
        last[0] = await descriptor(client, path)
        return bool(check(last[0]))

    await wait_for_delivery(holds, timeout=15, message=lambda: f"{what}: {path} is {last[0]!r}")


def sync_to(monkeypatch: pytest.MonkeyPatch, target: str, **more: str) -> None:
    monkeypatch.setenv("TITAN_REGISTRY_SYNC_TO", target)
    monkeypatch.setenv("TITAN_REGISTRY_ENDPOINT_BASE_URL", BASE)
    for name, value in more.items():
        monkeypatch.setenv(f"TITAN_REGISTRY_{name.upper()}", value)


async def test_the_own_registry_follows_shells_and_submodels(
    make_titan_client: TitanClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_to(monkeypatch, "self")
    client = await make_titan_client(plugins=["registry"])
    shell_path = f"/shell-descriptors/{b64(SHELL)}"
    submodel_path = f"/submodel-descriptors/{b64(SUBMODEL)}"

    assert (await client.post("/shells", json=shell(SHELL, submodels=(SUBMODEL,)))).status == 201
    assert (await client.post("/submodels", json=submodel(SUBMODEL))).status == 201
    await eventually(client, shell_path, lambda found: found, "the shell was not registered")
    await eventually(client, submodel_path, lambda found: found, "the submodel was not registered")
    registered = await descriptor(client, shell_path)
    assert (await client.put(f"/shells/{b64(SHELL)}", json=shell(SHELL, id_short="Pump2"))).status == 204
    await eventually(client, shell_path, lambda found: found and found["idShort"] == "Pump2", "not updated")
    assert (await client.delete(f"/submodels/{b64(SUBMODEL)}")).status == 204
    await eventually(client, submodel_path, lambda found: found is None, "the submodel was not deregistered")

    shell_href = f"{BASE}/shells/{b64(SHELL)}"
    assert registered == {
        "id": SHELL, "idShort": "Pump", "assetKind": "Instance", "globalAssetId": "urn:asset:Pump",
        "endpoints": [{"interface": "AAS-3.0", "protocolInformation": {
            "href": shell_href, "endpointProtocol": "HTTP", "endpointProtocolVersion": ["1.1"]}}],
        "submodelDescriptors": [{"id": SUBMODEL, "endpoints": [{"interface": "SUBMODEL-3.0", "protocolInformation": {
            "href": f"{shell_href}/submodels/{b64(SUBMODEL)}", "endpointProtocol": "HTTP",
            "endpointProtocolVersion": ["1.1"]}}]}],
    }  # fmt: skip
    health = next(check for check in (await (await client.get("/ready")).json())["checks"]
                  if check["name"] == "registry")  # fmt: skip
    assert health["ok"] and "full sync done" in health["detail"]


async def test_a_full_sync_at_start_registers_what_exists_and_removes_what_is_gone(
    make_titan_client: TitanClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await make_titan_client(plugins=["registry"])
    await before.post("/shells", json=shell(SHELL))
    gone = {"id": "https://plant.example/aas/gone", "endpoints": [
        {"interface": "AAS-3.0", "protocolInformation": {"href": f"{BASE}/shells/Z29uZQ"}}]}  # fmt: skip
    foreign = {"id": "https://plant.example/aas/elsewhere", "endpoints": [
        {"interface": "AAS-3.0", "protocolInformation": {"href": "https://other.example/shells/x"}}]}  # fmt: skip
    for document in (gone, foreign):
        assert (await before.post("/shell-descriptors", json=document)).status == 201
    await before.close()

    sync_to(monkeypatch, "self")
    after = await make_titan_client(plugins=["registry"])

    await eventually(
        after, f"/shell-descriptors/{b64(SHELL)}", lambda found: found, "the shell was not registered"
    )
    await eventually(
        after, f"/shell-descriptors/{b64(gone['id'])}", lambda found: found is None, "stale kept"
    )
    assert await descriptor(after, f"/shell-descriptors/{b64(foreign['id'])}") == foreign


@async_fixture
async def remote_registry(
    make_titan_client: TitanClients, titan_settings: Settings, tmp_path: Any
) -> AppClient:
    """Another Titan, serving only the two registries, on a database of its own."""
    settings = titan_settings.replace(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/remote.sqlite3",
        services=("aas-registry", "submodel-registry"),
    )
    return await make_titan_client(settings, plugins=["registry"])


@async_fixture
async def gate(remote_registry: AppClient) -> AsyncIterator[RegistryGate]:
    proxy = RegistryGate(str(remote_registry.make_url("/")), client_id="titan-a", client_secret="s3cret")
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.mark.parametrize("credential", ["api_key", "bearer_token", "oauth2"])
async def test_a_remote_registry_follows_and_catches_up_after_being_away(
    make_titan_client: TitanClients,
    monkeypatch: pytest.MonkeyPatch,
    remote_registry: AppClient,
    gate: RegistryGate,
    credential: str,
) -> None:
    if credential == "api_key":
        sync_to(monkeypatch, gate.url, api_key="k-4711")
        gate.expected_headers = {"X-API-Key": "k-4711"}
    elif credential == "bearer_token":
        sync_to(monkeypatch, gate.url, bearer_token="t-4711")
        gate.expected_headers = {"Authorization": "Bearer t-4711"}
    else:
        sync_to(monkeypatch, gate.url, oauth2_token_url=f"http://127.0.0.1:{gate.port}/token",
                oauth2_client_id="titan-a", oauth2_client_secret="s3cret")  # fmt: skip
        gate.expected_headers = {"Authorization": "Bearer token-1"}
    repository = await make_titan_client(plugins=["registry"])
    second = "https://plant.example/aas/pump-4712"

    await repository.post("/shells", json=shell(SHELL))
    await eventually(
        remote_registry, f"/shell-descriptors/{b64(SHELL)}", lambda found: found, "not registered"
    )
    gate.away = True
    await repository.post("/shells", json=shell(second))
    await repository.delete(f"/shells/{b64(SHELL)}")

    async def reported_failing() -> bool:
        checks = (await (await repository.get("/ready")).json())["checks"]
        return any(check["name"] == "registry" and not check["ok"] for check in checks)

    await wait_for_delivery(reported_failing, timeout=15, message="the sink never reported the registry away")
    gate.away = False

    await eventually(
        remote_registry, f"/shell-descriptors/{b64(second)}", lambda found: found, "missed a create"
    )
    await eventually(
        remote_registry, f"/shell-descriptors/{b64(SHELL)}", lambda found: found is None, "missed a delete"
    )
    assert gate.refused == 0
    assert gate.tokens_issued == (1 if credential == "oauth2" else 0)


async def test_sync_without_an_endpoint_base_url_takes_the_plugin_out(
    make_titan_client: TitanClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TITAN_REGISTRY_SYNC_TO", "self")

    client = await make_titan_client(plugins=["registry"])

    plugins = (await (await client.get("/ready")).json())["plugins"]
    registry = next(item for item in plugins if item["name"] == "registry")
    assert registry["state"] == "failed" and "endpoint_base_url" in registry["reason"]


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ({"sync_to": "ftp://registry.example"}, "sync_to must be an http:// or https:// URL"),
        (
            {"sync_to": "https://r.example", "api_key": "a", "bearer_token": "b"},
            "not api_key and bearer_token",
        ),
        ({"sync_to": "https://r.example", "oauth2_token_url": "https://r.example/token"}, "together"),
        ({"sync_to": "self", "api_key": "a"}, "for a remote registry"),
    ],
)
def test_bad_sync_settings_are_refused_with_the_reason(section: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        SyncConfig.from_section(section)
