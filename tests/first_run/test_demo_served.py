"""`titan serve --demo` as `make run` uses it: the demo twin on an empty database, the user's changes
kept on the next start (with one line saying so), and the served twin read cleanly by two published
AAS clients, basyx-client and aas-python-http-client (issue 12)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from aas_python_http_client import (
    ApiClient,
    AssetAdministrationShellRepositoryAPIApi,
    Configuration,
    SubmodelRepositoryAPIApi,
)
from aas_python_http_client.util import string_to_base64url
from basyx.aas import model
from basyx_client import AASClient

from tests.support.live_server import LiveServerFactory
from titan_core.demo import DEMO_ENVIRONMENT
from titan_core.model.identifiers import encode_identifier

# each test starts `titan serve --demo` as a process: not in `make test-fast`.
pytestmark = pytest.mark.slow

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SAMPLE: dict[str, Any] = json.loads(DEMO_ENVIRONMENT.read_text(encoding="utf-8"))
SHELL_ID = SAMPLE["assetAdministrationShells"][0]["id"]
SUBMODEL_IDS = [submodel["id"] for submodel in SAMPLE["submodels"]]
NAMEPLATE_ID = "https://example.com/titan-demo/sm/nameplate"


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _patch_value(url: str, value: Any) -> int:
    request = urllib.request.Request(url, data=json.dumps(value).encode(), method="PATCH",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


@SQLITE_ONLY
def test_serve_demo_loads_the_twin_once_and_keeps_the_users_change_on_the_next_start(
    start_live_server: LiveServerFactory,
) -> None:
    first = start_live_server(args=["--demo"])
    serial = f"{first.base_url}/submodels/{encode_identifier(NAMEPLATE_ID)}/submodel-elements/SerialNumber"
    shells = _get(f"{first.base_url}/shells")["result"]
    assert [shell["id"] for shell in shells] == [SHELL_ID]
    assert _get(serial)["value"] == "4711"
    assert _patch_value(f"{serial}/$value", "0815") == 204
    first.stop()

    second = start_live_server(args=["--demo"])

    assert _get(serial.replace(first.base_url, second.base_url))["value"] == "0815"
    assert "--demo: loaded the demo twin into the empty database" in first.log()
    kept = [line for line in second.log().splitlines() if "--demo:" in line]
    assert len(kept) == 1 and "already holds 146 shells, submodels and concept descriptions" in kept[0]
    assert "kept as it is, the demo twin is not loaded" in kept[0]


@SQLITE_ONLY
def test_basyx_client_reads_the_served_demo_twin(start_live_server: LiveServerFactory) -> None:
    server = start_live_server(args=["--demo"])

    with AASClient(server.base_url) as client:
        shells = client.shells.list().items
        shell = client.shells.get(SHELL_ID)
        submodels = {identifier: client.submodels.get(identifier) for identifier in SUBMODEL_IDS}
        listed = client.submodels.list(limit=10).items
        descriptions = client.concept_descriptions.list(limit=500).items
        serial = client.submodels.elements.get(NAMEPLATE_ID, "SerialNumber")

    assert [item.id for item in shells] == [SHELL_ID]
    assert {reference.key[0].value for reference in shell.submodel} == set(SUBMODEL_IDS)
    assert all(isinstance(submodel, model.Submodel) for submodel in submodels.values())
    assert sorted(item.id for item in listed) == sorted(SUBMODEL_IDS)
    # Every element arrived: the client drops nothing it could not read (its decoder is strict).
    for submodel in SAMPLE["submodels"]:
        assert len(submodels[submodel["id"]].submodel_element) == len(submodel["submodelElements"])
    assert len(descriptions) == len(SAMPLE["conceptDescriptions"])
    assert isinstance(serial, model.Property) and serial.value == "4711"


@SQLITE_ONLY
def test_aas_python_http_client_reads_the_served_demo_twin(start_live_server: LiveServerFactory) -> None:
    server = start_live_server(args=["--demo"])
    configuration = Configuration()
    configuration.host = server.base_url
    api_client = ApiClient(configuration=configuration)
    shell_api = AssetAdministrationShellRepositoryAPIApi(api_client)
    submodel_api = SubmodelRepositoryAPIApi(api_client)

    shells = shell_api.get_all_asset_administration_shells()
    shell = shell_api.get_asset_administration_shell_by_id(string_to_base64url(SHELL_ID))
    submodels = {identifier: submodel_api.get_submodel_by_id(string_to_base64url(identifier))
                 for identifier in SUBMODEL_IDS}  # fmt: skip
    listed = submodel_api.get_all_submodels(limit=10)

    assert [item.id for item in shells.result] == [SHELL_ID]
    assert shell.id_short == "ProximitySwitchIPS001"
    assert sorted(item.id for item in listed.result) == sorted(SUBMODEL_IDS)
    for submodel in SAMPLE["submodels"]:
        read = submodels[submodel["id"]]  # this client hands out basyx model objects, decoded strictly
        assert (read.id, len(read.submodel_element)) == (submodel["id"], len(submodel["submodelElements"]))
