"""What a registry and a discovery receive: descriptors and asset links built from the documents,
and the settings refused with a message that names what was wrong."""

from __future__ import annotations

from typing import Any

import pytest
from titan_plugin_autoregister.config import AutoregisterConfig
from titan_plugin_autoregister.descriptors import (
    asset_links,
    points_at,
    shell_descriptor,
    submodel_descriptor,
)
from titan_plugin_autoregister.sink import AutoregisterSink

from titan_core.plugin_api import SettingsError, encode_identifier
from titan_core.testing import check_sink_shape, plugin_manager_with

BASE = "https://titan.example/api/v3.0"


def href(collection: str, identifier: str) -> str:
    return f"{BASE}/{collection}/{encode_identifier(identifier)}"


SHELL_ID = "https://plant.example/aas/pump-4711"
NAMEPLATE = "https://plant.example/sm/nameplate-4711"
MISSING = "https://plant.example/sm/elsewhere"
SEMANTIC = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:nameplate"}]}


def submodel_reference(identifier: str) -> dict[str, Any]:
    return {"type": "ModelReference", "keys": [{"type": "Submodel", "value": identifier}]}


SHELL: dict[str, Any] = {
    "modelType": "AssetAdministrationShell",
    "id": SHELL_ID,
    "idShort": "Pump4711",
    "description": [{"language": "en", "text": "feed pump"}],
    "assetInformation": {
        "assetKind": "Instance",
        "globalAssetId": "urn:asset:pump-4711",
        "specificAssetIds": [{"name": "serialNumber", "value": "SN-4711"}],
        "defaultThumbnail": {"path": "pump.png", "contentType": "image/png"},
    },
    "submodels": [submodel_reference(NAMEPLATE), submodel_reference(MISSING)],
}
NAMEPLATE_SUBMODEL: dict[str, Any] = {
    "modelType": "Submodel", "id": NAMEPLATE, "idShort": "Nameplate", "semanticId": SEMANTIC,
    "submodelElements": [{"modelType": "Property", "idShort": "Serial", "valueType": "xs:string", "value": "SN-4711"}],
}  # fmt: skip


def endpoint(interface: str, address: str) -> dict[str, Any]:
    information = {"href": address, "endpointProtocol": "HTTP", "endpointProtocolVersion": ["1.1"]}
    return {"interface": interface, "protocolInformation": information}


def test_a_shell_descriptor_carries_the_asset_and_a_descriptor_per_submodel() -> None:
    descriptor = shell_descriptor(BASE, SHELL, {NAMEPLATE: NAMEPLATE_SUBMODEL, MISSING: None})

    assert descriptor == {
        "id": SHELL_ID,
        "idShort": "Pump4711",
        "description": [{"language": "en", "text": "feed pump"}],
        "assetKind": "Instance",
        "globalAssetId": "urn:asset:pump-4711",
        "specificAssetIds": [{"name": "serialNumber", "value": "SN-4711"}],
        "endpoints": [endpoint("AAS-3.0", href("shells", SHELL_ID))],
        "submodelDescriptors": [
            {"id": NAMEPLATE, "idShort": "Nameplate", "semanticId": SEMANTIC,
             "endpoints": [endpoint("SUBMODEL-3.0", href("submodels", NAMEPLATE))]},
            # Referred to but not on this instance: where it would be, nothing more is known.
            {"id": MISSING, "endpoints": [endpoint("SUBMODEL-3.0", href("submodels", MISSING))]},
        ],
    }  # fmt: skip


def test_a_shell_without_submodels_or_asset_ids_has_no_empty_lists() -> None:
    bare = {
        "id": "urn:aas:bare",
        "assetInformation": {"assetKind": "Type", "specificAssetIds": []},
        "submodels": [],
    }

    descriptor = shell_descriptor(BASE, bare, {})

    assert descriptor == {"id": "urn:aas:bare", "assetKind": "Type",
                          "endpoints": [endpoint("AAS-3.0", href("shells", "urn:aas:bare"))]}  # fmt: skip
    assert asset_links(bare) == []


def test_an_id_short_the_descriptor_schema_refuses_is_left_out() -> None:
    # Part 1 takes "P"; the descriptors' pattern wants two characters at least.
    descriptor = submodel_descriptor(BASE, NAMEPLATE, {"id": NAMEPLATE, "idShort": "P"})

    assert "idShort" not in descriptor
    assert submodel_descriptor(BASE, NAMEPLATE, {"id": NAMEPLATE, "idShort": "P1"})["idShort"] == "P1"


def test_a_submodel_descriptor_leaves_the_elements_out() -> None:
    descriptor = submodel_descriptor(BASE, NAMEPLATE, NAMEPLATE_SUBMODEL)

    assert descriptor == {"id": NAMEPLATE, "idShort": "Nameplate", "semanticId": SEMANTIC,
                          "endpoints": [endpoint("SUBMODEL-3.0", href("submodels", NAMEPLATE))]}  # fmt: skip


def test_the_asset_links_are_the_global_asset_id_and_the_specific_ones() -> None:
    assert asset_links(SHELL) == [
        {"name": "globalAssetId", "value": "urn:asset:pump-4711"},
        {"name": "serialNumber", "value": "SN-4711"},
    ]


def test_only_descriptors_below_the_base_url_count_as_this_instances() -> None:
    mine = shell_descriptor(BASE, SHELL, {})
    elsewhere = {
        "id": "x",
        "endpoints": [endpoint("AAS-3.0", "https://titan.example/api/v3.0-other/shells/eA")],
    }

    assert points_at(mine, BASE)
    assert not points_at(elsewhere, BASE)
    assert not points_at({"id": "y"}, BASE)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"registry_url": "ftp://registry.example"}, "registry_url must be an http:// or https:// URL with a host"),
        ({"discovery_url": "https://d.example/x?y=1"}, "without query or fragment"),
        ({"registry_url": "https://r.example", "oauth2_token_url": "https://r.example/token"},
         "missing: oauth2_client_id, oauth2_client_secret"),
        ({"registry_url": "https://r.example", "api_key": "a", "bearer_token": "b"}, "not api_key and bearer_token"),
        ({"registry_url": "https://r.example", "oauth2_scope": "registry"}, "oauth2_scope needs OAuth2"),
        ({"api_key_header": "X Key"}, "must be an HTTP header name"),
        ({"timeout": "soon"}, "timeout must be a number"),
        ({"backoff": "5", "max_backoff": "1"}, "max_backoff (1) must be at least backoff (5)"),
        ({"registry_urls": "https://r.example"}, "did you mean registry_url"),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_with_what_is_accepted(section: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        AutoregisterConfig.from_section(section)
    assert message in str(refused.value)


def test_the_secret_settings_stay_out_of_the_message() -> None:
    with pytest.raises(SettingsError) as refused:
        AutoregisterConfig.from_section(
            {"registry_url": "https://r.example", "api_key": "k-4711", "bearer_token": "t-4711"}
        )
    assert "k-4711" not in str(refused.value) and "t-4711" not in str(refused.value)


def test_the_endpoints_need_a_base_url() -> None:
    config = AutoregisterConfig.from_section({"registry_url": "https://r.example"})

    with pytest.raises(SettingsError, match="endpoint_base_url"):
        config.base_url("")
    assert config.base_url("https://titan.example/") == "https://titan.example"
    assert AutoregisterConfig.from_section({"endpoint_base_url": f"{BASE}/"}).base_url("https://x") == BASE


def test_the_plugin_is_found_through_its_entry_point(titan_settings: Any) -> None:
    records = plugin_manager_with(titan_settings, ["autoregister"]).records
    mine = [record for record in records if record.name == "autoregister"]
    assert [record.state for record in mine] == ["loaded"]


def test_the_sink_has_the_shape_titan_runs_and_a_name_free_of_credentials() -> None:
    config = AutoregisterConfig.from_section({"registry_url": "https://r.example", "bearer_token": "t-4711"})
    sink = AutoregisterSink(config, BASE, repository=lambda: pytest.fail("no repository needed"))

    check_sink_shape(sink)
    assert sink.fanout == "once" and sink.batch_size == 20
    assert sink.name.startswith("autoregister-") and "t-4711" not in sink.name
    # The position is kept under the name: the same settings give the same name after a restart.
    assert AutoregisterSink(config, BASE, repository=lambda: pytest.fail("unused")).name == sink.name
