"""Published registry clients from PyPI register, find and read descriptors on a real `titan serve`
with the registry plugin: basyx-client (its AAS and Submodel Registry endpoints) and
aas-python-http-client (generated from the IDTA Entire API Collection), as their users would."""

from __future__ import annotations

import pytest
from aas_python_http_client import (
    ApiClient,
    AssetAdministrationShellDescriptor,
    AssetAdministrationShellRegistryAPIApi,
    Configuration,
    Endpoint,
    ProtocolInformation,
    SubmodelRegistryAPIApi,
)
from aas_python_http_client.rest import ApiException
from aas_python_http_client.util import string_to_base64url
from basyx_client import AASClient
from basyx_client.pagination import iterate_pages
from registry_testing import TitanProcess, shell_descriptor, submodel_descriptor

# each test starts `titan serve` as a process: not in `make test-fast`.
pytestmark = pytest.mark.slow

SHELLS = [f"https://plant.example/aas/pump-{number}" for number in range(5)]
SUBMODEL = "https://plant.example/sm/nameplate-0"


def test_basyx_client_registers_finds_and_reads_descriptors(titan_process: TitanProcess) -> None:
    client = AASClient(titan_process.url)

    for number, identifier in enumerate(SHELLS):
        kind = "Type" if number == 4 else "Instance"
        client.aas_registry.create(shell_descriptor(identifier, asset_kind=kind))
    client.aas_registry.add_submodel_descriptor(SHELLS[0], submodel_descriptor(SUBMODEL))
    client.submodel_registry.create(submodel_descriptor(SUBMODEL, semantic_id="urn:nameplate"))
    every = list(iterate_pages(lambda limit, cursor: client.aas_registry.list(limit=limit, cursor=cursor), 2))
    instances = client.aas_registry.list(asset_kind="Instance")
    read = client.aas_registry.get(SHELLS[0])
    nested = client.aas_registry.get_submodel_descriptor(SHELLS[0], SUBMODEL)
    standalone = client.submodel_registry.get(SUBMODEL)
    client.aas_registry.delete(SHELLS[1])
    remaining = client.aas_registry.list(limit=100)

    assert [item["id"] for item in every] == SHELLS
    assert [item["id"] for item in instances.items] == SHELLS[:4]
    assert read["id"] == SHELLS[0] and read["submodelDescriptors"] == [submodel_descriptor(SUBMODEL)]
    assert nested == submodel_descriptor(SUBMODEL)
    assert standalone["semanticId"]["keys"][0]["value"] == "urn:nameplate"
    assert [item["id"] for item in remaining.items] == [SHELLS[0], *SHELLS[2:]]
    assert not remaining.has_more


def test_aas_python_http_client_registers_finds_and_reads_descriptors(titan_process: TitanProcess) -> None:
    configuration = Configuration()
    configuration.host = titan_process.url
    api_client = ApiClient(configuration=configuration)
    shells = AssetAdministrationShellRegistryAPIApi(api_client)
    submodels = SubmodelRegistryAPIApi(api_client)
    endpoint = Endpoint(
        interface="AAS-3.0", protocol_information=ProtocolInformation(href="https://repo.example/aas")
    )

    for identifier in SHELLS[:3]:
        shells.post_asset_administration_shell_descriptor(
            AssetAdministrationShellDescriptor(
                id=identifier, id_short="Pump", asset_kind="Instance", endpoints=[endpoint]
            )
        )
    first = shells.get_all_asset_administration_shell_descriptors(limit=2)
    second = shells.get_all_asset_administration_shell_descriptors(
        limit=2, cursor=first.paging_metadata.cursor
    )
    read = shells.get_asset_administration_shell_descriptor_by_id(string_to_base64url(SHELLS[1]))
    submodels.post_submodel_descriptor(submodel_descriptor(SUBMODEL))
    listed = submodels.get_all_submodel_descriptors()
    with pytest.raises(ApiException) as missing:
        shells.get_asset_administration_shell_descriptor_by_id(
            string_to_base64url("https://plant.example/none")
        )

    assert [item.id for item in first.result + second.result] == SHELLS[:3]
    assert (read.id, read.id_short, read.asset_kind) == (SHELLS[1], "Pump", "Instance")
    assert read.endpoints[0].protocol_information.href == "https://repo.example/aas"
    assert [item.id for item in listed.result] == [SUBMODEL]
    assert missing.value.status == 404
