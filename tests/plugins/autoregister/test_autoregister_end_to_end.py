"""Automatic registration end to end with real processes (issue 17): instance A (repository and
the autoregister plugin) registers into instance B (AAS Registry, Submodel Registry and Discovery).
A client that knows only an asset id finds the shell through B's discovery, its descriptor in B's
registry, and reads its submodel from A through the descriptor's endpoint. Then B is killed
(SIGKILL) in the middle of a burst of shell writes on A and started again on the same database:
once it is back, B's descriptors are exactly A's shells. B, a registry-only instance, runs once on
SQLite and once on PostgreSQL (a database of its own on the shared server), the backend a shared
registry has."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.live_server import LiveServer, start_live_server
from tests.support.services import free_port
from titan_core.plugin_api import encode_identifier

# Two `titan serve` processes, one of them started twice, and a few hundred requests.
pytestmark = [pytest.mark.slow, pytest.mark.fault]

ASSET = "urn:asset:pump-e2e-4711"
SHELL_ID = "https://plant.example/aas/pump-e2e-4711"
SUBMODEL_ID = "https://plant.example/sm/nameplate-e2e-4711"
SEMANTIC = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:nameplate"}]}
SUBMODEL = {
    "modelType": "Submodel", "id": SUBMODEL_ID, "idShort": "Nameplate", "semanticId": SEMANTIC,
    "submodelElements": [{"modelType": "Property", "idShort": "Serial", "valueType": "xs:string", "value": "SN-4711"}],
}  # fmt: skip
B_ENVIRONMENT = {"TITAN_PLUGINS": "registry,discovery",
                 "TITAN_SERVICES": "aas-registry,submodel-registry,discovery"}  # fmt: skip


def shell(
    identifier: str, asset: str, *, id_short: str = "Pump", submodels: tuple[str, ...] = ()
) -> dict[str, Any]:
    document: dict[str, Any] = {"modelType": "AssetAdministrationShell", "id": identifier, "idShort": id_short,
                                "assetInformation": {"assetKind": "Instance", "globalAssetId": asset}}  # fmt: skip
    if submodels:
        document["submodels"] = [{"type": "ModelReference", "keys": [{"type": "Submodel", "value": sm}]}
                                 for sm in submodels]  # fmt: skip
    return document


def call(method: str, url: str, document: Any = None) -> tuple[int, Any]:
    """(status, JSON body or None), for a request with `document` as its JSON body."""
    answer = requests.request(method, url, json=document, timeout=30)
    return answer.status_code, answer.json() if answer.content else None


def every(base_url: str, collection: str) -> dict[str, dict[str, Any]]:
    """Every document of a paged collection, by id."""
    found: dict[str, dict[str, Any]] = {}
    cursor = ""
    while True:
        status, page = call(
            "GET", f"{base_url}{collection}?limit=100" + (f"&cursor={cursor}" if cursor else "")
        )
        assert status == 200, (status, page)
        found |= {item["id"]: item for item in page["result"]}
        cursor = page["paging_metadata"].get("cursor", "")
        if not cursor:
            return found


def wait_for(check: Callable[[], bool], *, timeout: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what()}")
        time.sleep(0.2)


def asset_ids(name: str, value: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"name": name, "value": value}).encode()).decode().rstrip("=")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def registry_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """B's database: a SQLite file, or a new PostgreSQL database dropped after the test."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/b.sqlite3"
    make_postgres_database: Callable[[], str] = request.getfixturevalue("make_postgres_database")
    return make_postgres_database()


def summary(document: dict[str, Any]) -> tuple[str, str, str]:
    """What a shell and its descriptor share, to compare them."""
    asset = document.get("assetInformation", document)
    return document["id"], document["idShort"], asset["globalAssetId"]


@pytest.mark.timeout(300)
def test_a_client_finds_a_twin_by_asset_id_and_the_registry_catches_up_after_a_crash(
    tmp_path: Path, registry_database: str
) -> None:
    registry_port, repository_port = free_port(), free_port()
    b_database = registry_database
    repository_url = f"http://127.0.0.1:{repository_port}"
    servers: list[LiveServer] = []
    try:
        b = start_live_server(b_database, log_dir=tmp_path / "b", env=B_ENVIRONMENT, port=registry_port)
        servers.append(b)
        a = start_live_server(
            f"sqlite+aiosqlite:///{tmp_path}/a.sqlite3", log_dir=tmp_path / "a", port=repository_port,
            env={"TITAN_PLUGINS": "autoregister", "TITAN_SINK_RETRY_MAX_MS": "500",
                 "TITAN_AUTOREGISTER_REGISTRY_URL": b.base_url, "TITAN_AUTOREGISTER_DISCOVERY_URL": b.base_url,
                 "TITAN_AUTOREGISTER_ENDPOINT_BASE_URL": repository_url, "TITAN_AUTOREGISTER_MAX_BACKOFF": "1"},
        )  # fmt: skip
        servers.append(a)
        assert call("POST", f"{a.base_url}/submodels", SUBMODEL)[0] == 201
        assert (
            call("POST", f"{a.base_url}/shells", shell(SHELL_ID, ASSET, submodels=(SUBMODEL_ID,)))[0] == 201
        )

        # The client knows the asset id only.
        lookup = f"{b.base_url}/lookup/shells?assetIds={asset_ids('globalAssetId', ASSET)}"

        def found() -> bool:
            status, page = call("GET", lookup)
            return status == 200 and page["result"] == [SHELL_ID]

        wait_for(found, timeout=30, what=lambda: f"discovery on B answers {call('GET', lookup)}")
        status, descriptor = call("GET", f"{b.base_url}/shell-descriptors/{encode_identifier(SHELL_ID)}")
        assert status == 200, descriptor
        [nested] = descriptor["submodelDescriptors"]
        assert nested["semanticId"] == SEMANTIC
        href = nested["endpoints"][0]["protocolInformation"]["href"]
        assert href.startswith(repository_url + "/")
        status, read_back = call("GET", href)
        assert (
            status == 200
            and read_back["id"] == SUBMODEL_ID
            and read_back["submodelElements"][0]["value"] == "SN-4711"
        )

        # A burst of creates, updates and deletes on A; B crashes a third of the way in.
        burst = [f"https://plant.example/aas/burst-{number}" for number in range(90)]
        for number, identifier in enumerate(burst):
            if number == 30:
                b.kill()
            assert (
                call("POST", f"{a.base_url}/shells", shell(identifier, f"urn:asset:burst-{number}"))[0] == 201
            )
            if number % 10 == 5:
                renamed = shell(identifier, f"urn:asset:burst-{number}-v2", id_short="Renamed")
                assert call("PUT", f"{a.base_url}/shells/{encode_identifier(identifier)}", renamed)[0] == 204
            if number % 10 == 7:
                assert call("DELETE", f"{a.base_url}/shells/{encode_identifier(burst[number - 3])}")[0] == 204
        b = start_live_server(b_database, log_dir=tmp_path / "b", env=B_ENVIRONMENT, port=registry_port)
        servers.append(b)

        expected = {
            identifier: summary(document) for identifier, document in every(a.base_url, "/shells").items()
        }
        registered: dict[str, tuple[str, str, str]] = {}

        def in_step() -> bool:
            registered.clear()
            registered.update(
                {key: summary(value) for key, value in every(b.base_url, "/shell-descriptors").items()}
            )
            return registered == expected

        wait_for(in_step, timeout=120, what=lambda: f"B has {len(registered)} descriptors for A's {len(expected)} "
                 f"shells; missing {sorted(expected.keys() - registered.keys())[:5]}, extra "
                 f"{sorted(registered.keys() - expected.keys())[:5]}")  # fmt: skip
        assert len(expected) == 1 + 90 - 9
        assert sum(1 for _, id_short, _ in expected.values() if id_short == "Renamed") == 9
    finally:
        for server in reversed(servers):
            server.stop()
        for server in servers:
            print(server.log_tail(40))


@pytest.mark.timeout(120)
def test_an_instance_registers_its_twins_in_its_own_registry_over_http(tmp_path: Path) -> None:
    port = free_port()
    own_url = f"http://127.0.0.1:{port}"
    server = start_live_server(
        f"sqlite+aiosqlite:///{tmp_path}/self.sqlite3", log_dir=tmp_path, port=port,
        env={"TITAN_PLUGINS": "registry,autoregister", "TITAN_AUTOREGISTER_REGISTRY_URL": own_url,
             "TITAN_AUTOREGISTER_ENDPOINT_BASE_URL": own_url},
    )  # fmt: skip
    try:
        assert call("POST", f"{own_url}/submodels", SUBMODEL)[0] == 201
        assert call("POST", f"{own_url}/shells", shell(SHELL_ID, ASSET, submodels=(SUBMODEL_ID,)))[0] == 201
        descriptor_url = f"{own_url}/shell-descriptors/{encode_identifier(SHELL_ID)}"
        wait_for(lambda: call("GET", descriptor_url)[0] == 200, timeout=30,
                 what=lambda: f"GET {descriptor_url} answers {call('GET', descriptor_url)}")  # fmt: skip
        assert call("DELETE", f"{own_url}/shells/{encode_identifier(SHELL_ID)}")[0] == 204
        wait_for(lambda: call("GET", descriptor_url)[0] == 404, timeout=30,
                 what=lambda: f"the descriptor of a deleted shell stays: {call('GET', descriptor_url)}")  # fmt: skip
        assert set(every(own_url, "/submodel-descriptors")) == {SUBMODEL_ID}
    finally:
        server.stop()
        print(server.log_tail(40))
