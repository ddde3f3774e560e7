"""The async-aas and BaSyx profiles on a real Mosquitto, as consumers written from those texts alone
receive them: they know the topic they were told (the async-aas channel address; BaSyx's
`{aas,sm}-repository/{repoId}/…`) and nothing of Titan's own topics."""

from __future__ import annotations

import json
import secrets

import pytest
from titan_plugin_mqtt.config import MqttConfig

from tests.support.async_aas import assert_async_aas_event
from titan_core.settings import SettingsError

from .mqtt_helpers import ELEMENTS, SHELL_ID, SM_ID, MqttAppFactory, Recorder, b64, call, lifecycle, submodel

BASE = "https://twins.example.com"
SOURCE_SM = f"{BASE}/submodels/{b64(SM_ID)}"
ENTITY_OF_SOURCE = {"shells": "shell", "submodels": "submodel"}


def entity_of(source: str) -> str:
    """What a consumer reads from `source` alone: `/submodel-elements/` marks an element."""
    if "/submodel-elements/" in source:
        return "element"
    return ENTITY_OF_SOURCE[source.removeprefix(BASE).split("/")[1]]


async def test_an_async_aas_consumer_receives_the_whole_lifecycle(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    topic = f"{mqtt_topic_prefix}-async-aas"  # the channel address this deployment was given
    client = await make_mqtt_app(
        profiles=["async-aas"], async_aas_topic=topic, core={"public_base_url": BASE}
    )
    async with Recorder(mqtt_url, [topic, f"{mqtt_topic_prefix}/#"]) as recorder:
        await lifecycle(client, mqtt_url, mqtt_topic_prefix)
        await recorder.wait_for(lambda messages: len(recorder.on(topic)) >= 11, what="11 async-aas events")
        titan_topics = [m.topic for m in recorder.messages if m.topic.endswith("/events")]

    received = []
    for message in recorder.on(topic):
        assert message.properties.ContentType == "application/cloudevents+json"
        event = json.loads(message.payload)
        kind = event["type"].removeprefix("io.admin-shell.events.v1.")
        assert_async_aas_event(message.payload, entity=entity_of(event["source"]), kind=kind)
        received.append((kind, event["source"].removeprefix(BASE), event.get("data", {}).get("value")))
    assert received == [
        ("created", f"/shells/{b64(SHELL_ID)}", None),
        ("updated", f"/shells/{b64(SHELL_ID)}", None),
        ("created", f"/submodels/{b64(SM_ID)}", None),
        ("updated", f"/submodels/{b64(SM_ID)}", None),
        ("created", f"{ELEMENTS}/Added", "2"),
        ("updated", f"{ELEMENTS}/Added", "3"),
        ("valueChanged", f"{ELEMENTS}/Added", "4.5"),
        ("valueChanged", f"{ELEMENTS}/Temperature", "21.5"),
        ("deleted", f"{ELEMENTS}/Added", "4.5"),  # as it was when deleted
        ("deleted", f"/submodels/{b64(SM_ID)}", None),
        ("deleted", f"/shells/{b64(SHELL_ID)}", None),
    ]
    assert titan_topics == [], "profiles = ['async-aas'] must not publish the titan profile"


async def test_the_async_aas_topic_can_carry_the_channel_name_and_events_go_slim(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    client = await make_mqtt_app(
        profiles=["titan", "async-aas"],
        async_aas_topic=f"{mqtt_topic_prefix}-ce/{{channel}}",
        core={"public_base_url": BASE, "async_aas_slim": True},
    )
    async with Recorder(mqtt_url, [f"{mqtt_topic_prefix}-ce/#", f"{mqtt_topic_prefix}/#"]) as recorder:
        await call(client, "POST", "/submodels", 201, json=submodel())
        await call(client, "PATCH", f"{ELEMENTS}/Temperature/$value", 204, json=30.5)
        await recorder.wait_for(lambda m: len(recorder.events()) >= 2, what="2 titan events")
        await recorder.wait_for(
            lambda m: len([x for x in m if x.topic.startswith(f"{mqtt_topic_prefix}-ce/")]) >= 2,
            what="2 async-aas",
        )
    cloud = [m for m in recorder.messages if m.topic.startswith(f"{mqtt_topic_prefix}-ce/")]
    assert [m.topic.split("-ce/", 1)[1] for m in cloud] == [
        "submodel/created",
        "submodelelement/update/valuechanged",
    ]
    for message, (entity, kind) in zip(
        cloud, [("submodel", "created"), ("element", "valueChanged")], strict=True
    ):
        event = assert_async_aas_event(message.payload, entity=entity, kind=kind)
        assert "data" not in event
    assert recorder.events()[1].envelope()["data"] == 30.5  # the titan profile, unchanged beside it


async def test_a_basyx_consumer_receives_the_whole_lifecycle_on_basyx_topics(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    aas_repo, sm_repo = f"aas-{secrets.token_hex(4)}", f"sm-{secrets.token_hex(4)}"
    client = await make_mqtt_app(profiles=["titan", "basyx"], basyx_aas_repo=aas_repo, basyx_sm_repo=sm_repo)
    topics = [f"aas-repository/{aas_repo}/#", f"sm-repository/{sm_repo}/#"]
    async with Recorder(mqtt_url, topics) as recorder:
        await lifecycle(client, mqtt_url, mqtt_topic_prefix)
        await recorder.wait_for(lambda messages: len(messages) >= 11, what="11 BaSyx messages")

    element_topic = f"sm-repository/{sm_repo}/submodels/{b64(SM_ID)}/submodelElements/{{}}".format
    received = [(m.topic, json.loads(m.payload)) for m in recorder.messages]
    assert [topic for topic, _ in received] == [
        f"aas-repository/{aas_repo}/shells/created",
        f"aas-repository/{aas_repo}/shells/updated",
        f"sm-repository/{sm_repo}/submodels/created",
        f"sm-repository/{sm_repo}/submodels/updated",
        element_topic("Added/created"),
        element_topic("Added/updated"),
        element_topic("Added/updated"),  # BaSyx reports a value write as the element's update
        element_topic("Temperature/updated"),
        element_topic("Added/deleted"),
        f"sm-repository/{sm_repo}/submodels/deleted",
        f"aas-repository/{aas_repo}/shells/deleted",
    ]
    payloads = [payload for _, payload in received]
    assert payloads[1]["idShort"] == "Renamed" and payloads[1]["modelType"] == "AssetAdministrationShell"
    assert [payloads[i]["value"] for i in (4, 5, 6, 7, 8)] == ["2", "3", "4.5", "21.5", "4.5"]
    assert payloads[7]["idShort"] == "Temperature" and payloads[7]["valueType"] == "xs:double"
    assert payloads[9]["id"] == SM_ID


def test_profile_settings_are_checked_at_startup() -> None:

    assert MqttConfig.from_section({"profiles": "titan, basyx"}).profiles == ("titan", "basyx")
    with pytest.raises(
        SettingsError, match=r"unknown event profile 'faaast'; accepted: titan, async-aas, basyx"
    ):
        MqttConfig.from_section({"profiles": ["titan", "faaast"]})
    with pytest.raises(SettingsError, match="async_aas_topic must be topic levels"):
        MqttConfig.from_section({"async_aas_topic": "events/#"})
    with pytest.raises(SettingsError, match="basyx_sm_repo must be one topic level"):
        MqttConfig.from_section({"basyx_sm_repo": "a/b"})
