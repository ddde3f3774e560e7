"""Every descriptor change is an event of the kinds `shell_descriptor` and `submodel_descriptor`,
committed with it, readable from `/events` like a twin's; a write that changes nothing emits none."""

from __future__ import annotations

from registry_testing import b64, registry_events, shell_descriptor, submodel_descriptor

from titan_core.testing import AppClient

SHELL = "https://plant.example/aas/pump-4711"
SUBMODEL = "https://plant.example/sm/nameplate-4711"
PREFIX = "io.admin-shell.events.v1."


def summary(event: dict[str, object]) -> tuple[object, ...]:
    return (str(event["type"]).removeprefix(PREFIX), event["titanentity"], event["titanid"], event["source"])


async def test_each_descriptor_write_is_one_event_with_the_descriptor(registry_client: AppClient) -> None:
    descriptor = shell_descriptor(SHELL)
    changed = shell_descriptor(SHELL, asset_kind="Type")
    nested = submodel_descriptor(SUBMODEL, semantic_id="urn:nameplate")
    shell_source = f"/shell-descriptors/{b64(SHELL)}"

    await registry_client.post("/shell-descriptors", json=descriptor)
    await registry_client.put(shell_source, json=descriptor)  # the same again: changes nothing
    await registry_client.put(shell_source, json=changed)
    await registry_client.post(f"{shell_source}/submodel-descriptors", json=nested)
    await registry_client.post("/submodel-descriptors", json=nested)
    await registry_client.delete(f"/submodel-descriptors/{b64(SUBMODEL)}")
    await registry_client.delete(shell_source)

    events = await registry_events(registry_client, 6)

    submodel_source = f"/submodel-descriptors/{b64(SUBMODEL)}"
    assert [summary(event) for event in events] == [
        ("created", "shell_descriptor", SHELL, shell_source),
        ("updated", "shell_descriptor", SHELL, shell_source),
        ("updated", "shell_descriptor", SHELL, shell_source),
        ("created", "submodel_descriptor", SUBMODEL, submodel_source),
        ("deleted", "submodel_descriptor", SUBMODEL, submodel_source),
        ("deleted", "shell_descriptor", SHELL, shell_source),
    ]
    assert events[0]["data"] == descriptor
    assert events[1]["data"] == changed
    assert events[2]["data"] == {**changed, "submodelDescriptors": [nested]}
    assert events[3]["data"] == nested and events[3]["semanticid"] == "urn:nameplate"
    assert events[4]["data"] == nested
    assert events[5]["data"] == {**changed, "submodelDescriptors": [nested]}
    assert {event["titanorigin"] for event in events} == {"plugin:registry"}


async def test_a_refused_write_leaves_no_event(registry_client: AppClient) -> None:
    await registry_client.post("/shell-descriptors", json=shell_descriptor(SHELL))
    refused = [
        await registry_client.post("/shell-descriptors", json=shell_descriptor(SHELL)),  # 409
        await registry_client.post("/shell-descriptors", json={"id": ""}),  # 400
        await registry_client.put(
            f"/shell-descriptors/{b64(SHELL)}", json=shell_descriptor(SHELL, asset_kind="Type"),
            headers={"If-Match": '"0-0"'},
        ),  # 412
        await registry_client.delete(f"/submodel-descriptors/{b64(SUBMODEL)}"),  # 404
    ]  # fmt: skip
    # A write after them: once its event is there, any event of the refused ones would be too.
    await registry_client.post("/submodel-descriptors", json=submodel_descriptor(SUBMODEL))

    events = await registry_events(registry_client, 2)

    assert [response.status for response in refused] == [409, 400, 412, 404]
    assert [summary(event)[:2] for event in events] == [
        ("created", "shell_descriptor"),
        ("created", "submodel_descriptor"),
    ]


async def test_descriptor_events_are_filtered_by_their_entity_kind(registry_client: AppClient) -> None:
    await registry_client.post("/shell-descriptors", json=shell_descriptor(SHELL))
    await registry_client.post("/submodel-descriptors", json=submodel_descriptor(SUBMODEL))
    await registry_events(registry_client, 2)

    only = await registry_client.get("/events", params={"after": "0", "entity_types": "submodel_descriptor"})

    assert [event["titanid"] for event in (await only.json())["result"]] == [SUBMODEL]
