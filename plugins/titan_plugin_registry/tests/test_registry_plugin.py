"""The registry plugin inside Titan: found through its entry point; its two services switched on
and off with the setting `services` and listed in `/description`; scopes and roles applied to
descriptors as to twins."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_testing import api_key_entry, b64, messages, shell_descriptor, submodel_descriptor
from titan_plugin_registry import plugin

from titan_core.plugin_api import Settings
from titan_core.testing import AppClient, TitanClients, check_entry_point

PLUGIN_DIR = Path(__file__).resolve().parents[1]
LINE1 = "https://plant.example/line1/aas/1"
LINE2 = "https://plant.example/line2/aas/1"


def test_the_registry_plugin_is_discovered_through_its_entry_point(titan_settings: Settings) -> None:
    record = check_entry_point(titan_settings, PLUGIN_DIR, "registry", "titan_plugin_registry.plugin")

    # No sink, no health check: registering twins is titan-aas-autoregister's job, not this plugin's.
    assert record.hooks == ("titan_entity_kinds", "titan_migrations", "titan_services", "titan_setup_app")


async def test_description_lists_both_registry_profiles_in_both_versions(registry_client: AppClient) -> None:
    profiles = (await (await registry_client.get("/description")).json())["profiles"]

    for version in ("3/0", "3/1"):
        for service in (
            "AssetAdministrationShellRegistryServiceSpecification",
            "SubmodelRegistryServiceSpecification",
        ):
            assert f"https://admin-shell.io/aas/API/{version}/{service}/SSP-001" in profiles


async def test_a_registry_only_instance_serves_descriptors_and_no_twins(
    make_titan_client: TitanClients, titan_settings: Settings
) -> None:
    client = await make_titan_client(
        titan_settings.replace(services=(plugin.AAS_REGISTRY, plugin.SUBMODEL_REGISTRY)), plugins=["registry"]
    )

    registered = await client.post("/shell-descriptors", json=shell_descriptor(LINE1))
    submodels = await client.get("/submodel-descriptors")
    shells = await client.get("/shells")
    profiles = (await (await client.get("/description")).json())["profiles"]

    assert (registered.status, submodels.status, shells.status) == (201, 200, 404)
    assert profiles and all("Registry" in profile for profile in profiles)


@pytest.mark.parametrize(
    ("services", "shell_descriptors", "submodel_descriptors"),
    [(("repository", "aas-registry"), 200, 404), (("repository", "submodel-registry"), 404, 200),
     (("repository",), 404, 404)],
)  # fmt: skip
async def test_each_registry_is_a_service_of_its_own(
    make_titan_client: TitanClients,
    titan_settings: Settings,
    services: tuple[str, ...],
    shell_descriptors: int,
    submodel_descriptors: int,
) -> None:
    client = await make_titan_client(titan_settings.replace(services=services), plugins=["registry"])

    answers = (
        (await client.get("/shell-descriptors")).status,
        (await client.get("/submodel-descriptors")).status,
    )

    assert answers == (shell_descriptors, submodel_descriptors)
    assert (await client.get("/shells")).status == 200


@pytest.fixture
def scoped_settings(titan_settings: Settings) -> Settings:
    return titan_settings.replace(
        auth_enabled=True,
        api_keys=(
            api_key_entry("admin-key", "admin", "admin"),
            api_key_entry("line1-writer", "line1-gateway", "writer", "https://plant.example/line1/*"),
            api_key_entry("line1-reader", "line1-dashboard", "reader", "https://plant.example/line1/*"),
        ),
    )


async def test_scopes_and_roles_apply_to_descriptors_as_to_twins(
    make_titan_client: TitanClients, scoped_settings: Settings
) -> None:
    client = await make_titan_client(scoped_settings, plugins=["registry"])
    admin = {"X-API-Key": "admin-key"}
    writer = {"X-API-Key": "line1-writer"}
    reader = {"X-API-Key": "line1-reader"}
    for identifier in (LINE1, LINE2):
        assert (
            await client.post("/shell-descriptors", json=shell_descriptor(identifier), headers=admin)
        ).status == 201

    listed = await (await client.get("/shell-descriptors", headers=reader)).json()
    own = await client.get(f"/shell-descriptors/{b64(LINE1)}", headers=reader)
    other = await client.get(f"/shell-descriptors/{b64(LINE2)}", headers=reader)
    reader_write = await client.put(
        f"/shell-descriptors/{b64(LINE1)}", json=shell_descriptor(LINE1), headers=reader
    )
    writer_outside = await client.post(
        "/submodel-descriptors", json=submodel_descriptor("https://plant.example/line2/sm/1"), headers=writer
    )
    writer_inside = await client.delete(f"/shell-descriptors/{b64(LINE1)}", headers=writer)
    nested_outside = await client.get(f"/shell-descriptors/{b64(LINE2)}/submodel-descriptors", headers=writer)
    anonymous = await client.get("/shell-descriptors")

    assert [item["id"] for item in listed["result"]] == [LINE1]
    assert (own.status, other.status) == (200, 403)
    assert "outside its scopes" in (await messages(other))[0]
    assert reader_write.status == 403
    assert writer_outside.status == 403
    assert writer_inside.status == 204
    assert nested_outside.status == 403
    assert anonymous.status == 401
