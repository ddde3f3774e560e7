"""Every row of the write→event table (docs/events.md) arrives on its MQTT topic, as a CloudEvent,
at the configured QoS — against the shared Mosquitto, under a topic prefix of the test's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.app import AppClient
from tests.support.twins import submodel_reference
from titan_core.model.identifiers import encode_identifier

from .mqtt_helpers import (
    CD_ID,
    SHELL_ID,
    SM_ID,
    MqttAppFactory,
    Received,
    Recorder,
    b64,
    concept_description,
    prop,
    shell,
    submodel,
)


async def call(client: AppClient, method: str, url: str, expected: int, **kwargs: Any) -> None:
    response = await client.request(method, url, **kwargs)
    assert response.status == expected, f"{method} {url}: {response.status} {await response.text()}"


def summary(messages: list[Received]) -> list[tuple[str, str]]:
    """(topic, short event type) of each published event."""
    return [(m.topic, m.short_type) for m in messages]


async def events_after(recorder: Recorder, before: int, count: int) -> list[Received]:
    await recorder.wait_for(lambda messages: len(recorder.events()) >= before + count, what=f"{count} events")
    return recorder.events()[before:]


async def published(recorder: Recorder, count: int) -> int:
    """Wait until `count` events arrived in all; return that number (the start of what follows)."""
    await recorder.wait_for(lambda messages: len(recorder.events()) >= count, what=f"{count} set-up events")
    return len(recorder.events())


async def test_post_put_delete_of_identifiables_go_to_their_entity_topics(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app()
    prefix = mqtt_topic_prefix
    cases = [
        ("/shells", SHELL_ID, shell(), "shell"),
        ("/submodels", SM_ID, submodel(), "submodel"),
        ("/concept-descriptions", CD_ID, concept_description(), "concept_description"),
    ]
    async with Recorder(mqtt_url, [f"{prefix}/#"]) as recorder:
        for collection, identifier, document, entity in cases:
            one = f"{collection}/{b64(identifier)}"
            topic = f"{prefix}/{entity}/{b64(identifier)}/events"
            before = len(recorder.events())
            await call(client, "POST", collection, 201, json=document)
            await call(client, "PUT", one, 204, json={**document, "idShort": "Renamed"})
            await call(client, "DELETE", one, 204)

            created, updated, deleted = await events_after(recorder, before, 3)

            assert summary([created, updated, deleted]) == [
                (topic, "created"), (topic, "updated"), (topic, "deleted")
            ]  # fmt: skip
            envelope = deleted.envelope()
            assert (envelope["titanentity"], envelope["titanid"], envelope["titanorigin"]) == (
                entity, identifier, "rest"
            )  # fmt: skip
            assert envelope["data"]["idShort"] == "Renamed"
            assert {m.qos for m in (created, updated, deleted)} == {1}
            assert not any(m.retain for m in (created, updated, deleted))


async def test_element_events_go_to_the_element_topic_of_their_path(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app()
    prefix = mqtt_topic_prefix
    elements = f"/submodels/{b64(SM_ID)}/submodel-elements"
    element_topic = f"{prefix}/element/{b64(SM_ID)}/{{}}/events".format

    async with Recorder(mqtt_url, [f"{prefix}/#"]) as recorder:
        await call(client, "POST", "/submodels", 201, json=submodel())
        before = await published(recorder, 1)
        await call(client, "POST", f"{elements}/Box", 201, json=prop("Added", "2"))
        await call(client, "PUT", f"{elements}/Box.Added", 204, json=prop("Added", "3"))
        await call(client, "PATCH", f"{elements}/Series[1]/$value", 204, json=7.5)
        await call(client, "PATCH", f"{elements}/Temperature/$value", 204, json=20.5)  # unchanged: nothing
        await call(client, "DELETE", f"{elements}/Box.Added", 204)

        messages = await events_after(recorder, before, 4)

    assert summary(messages) == [
        (element_topic("Box.Added"), "created"),
        (element_topic("Box.Added"), "updated"),
        (element_topic("Series[1]"), "valueChanged"),
        (element_topic("Box.Added"), "deleted"),
    ]
    value_changed = messages[2].envelope()
    assert (value_changed["titanpath"], value_changed["data"], value_changed["titanid"]) == (
        "Series[1]",
        7.5,
        SM_ID,
    )


async def test_whole_submodel_writes_publish_updated_and_a_value_change_per_changed_element(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app()
    prefix = mqtt_topic_prefix
    changed = submodel(elements=[prop("Temperature", "30"), prop("Speed", "3", value_type="xs:int")])

    async with Recorder(mqtt_url, [f"{prefix}/#"]) as recorder:
        await call(client, "POST", "/submodels", 201, json=submodel())
        before = await published(recorder, 1)
        await call(client, "PUT", f"/submodels/{b64(SM_ID)}", 204, json=changed)
        await call(client, "PATCH", f"/submodels/{b64(SM_ID)}", 204, json={"idShort": "Patched"})

        messages = await events_after(recorder, before, 3)

    submodel_topic = f"{prefix}/submodel/{b64(SM_ID)}/events"
    assert summary(messages) == [
        (submodel_topic, "updated"),
        (f"{prefix}/element/{b64(SM_ID)}/Temperature/events", "valueChanged"),
        (submodel_topic, "updated"),
    ]
    assert messages[1].envelope()["data"] == 30


async def test_shell_submodel_reference_and_asset_information_changes_publish_shell_updated(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app()
    prefix = mqtt_topic_prefix
    one = f"/shells/{b64(SHELL_ID)}"

    async with Recorder(mqtt_url, [f"{prefix}/#"]) as recorder:
        await call(client, "POST", "/shells", 201, json=shell())
        before = await published(recorder, 1)
        await call(client, "POST", f"{one}/submodel-refs", 201, json=submodel_reference(SM_ID))
        asset = {"assetKind": "Instance", "globalAssetId": "https://example.com/assets/other"}
        await call(client, "PUT", f"{one}/asset-information", 204, json=asset)

        messages = await events_after(recorder, before, 2)

    topic = f"{prefix}/shell/{b64(SHELL_ID)}/events"
    assert summary(messages) == [(topic, "updated"), (topic, "updated")]


async def test_qos_is_configurable_globally_and_per_entity_type(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app(qos=0, qos_submodel=2, qos_element=1)
    prefix = mqtt_topic_prefix

    async with Recorder(mqtt_url, [f"{prefix}/#"]) as recorder:
        await call(client, "POST", "/shells", 201, json=shell())
        await call(client, "POST", "/submodels", 201, json=submodel())
        await call(client, "PATCH", f"/submodels/{b64(SM_ID)}/submodel-elements/Speed/$value", 204, json=4)

        messages = await events_after(recorder, 0, 3)

    # Sorted: MQTT keeps order per topic and QoS only; a QoS 2 message waits for its PUBREL.
    assert sorted((m.envelope()["titanentity"], m.qos) for m in messages) == [
        ("element", 1), ("shell", 0), ("submodel", 2)
    ]  # fmt: skip


async def test_mqtt5_events_carry_the_cloudevents_content_type_and_311_works_without_it(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str, tmp_path: Path
) -> None:
    v5 = await make_mqtt_app(protocol="5")
    v311 = await make_mqtt_app(
        protocol="3.1.1",
        prefix=f"{mqtt_topic_prefix}-311",
        core={"database_url": f"sqlite+aiosqlite:///{tmp_path}/other.sqlite3"},
    )

    async with Recorder(mqtt_url, [f"{mqtt_topic_prefix}/#", f"{mqtt_topic_prefix}-311/#"]) as recorder:
        await call(v5, "POST", "/shells", 201, json=shell())
        await call(v311, "POST", "/shells", 201, json=shell())
        await recorder.wait_for(lambda messages: len(recorder.events()) >= 2)

    (from_v5,) = recorder.events(under=f"{mqtt_topic_prefix}/")
    (from_v311,) = recorder.events(under=f"{mqtt_topic_prefix}-311/")
    assert from_v5.properties.ContentType == "application/cloudevents+json"
    assert not hasattr(from_v311.properties, "ContentType")
    assert from_v5.envelope()["titanid"] == from_v311.envelope()["titanid"] == SHELL_ID


async def test_identifiers_with_slashes_hashes_and_pluses_become_one_topic_level(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app()
    awkward = "urn:x/y#z+w?q=1 &é"
    async with Recorder(mqtt_url, [f"{mqtt_topic_prefix}/submodel/+/events"]) as recorder:
        await call(client, "POST", "/submodels", 201, json=submodel(awkward))
        (message,) = await recorder.wait_count(1, topic_filter=lambda m: True)

    assert message.topic == f"{mqtt_topic_prefix}/submodel/{encode_identifier(awkward)}/events"
    assert message.envelope()["titanid"] == awkward
