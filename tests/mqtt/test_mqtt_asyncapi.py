"""What Titan publishes on a real Mosquitto is what its AsyncAPI documents say, in every profile at
once: each message arrives on a topic one of the document's channels describes, validates against
that channel's message schema, and each example of the documents has the shape of a real message.

Documents: docs/asyncapi.yaml (titan), docs/asyncapi/mqtt-async-aas.yaml, docs/asyncapi/mqtt-basyx.yaml.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from titan_plugin_mqtt.config import MqttConfig

from tests.support.async_aas import assert_async_aas_event, assert_valid_element
from tests.support.asyncapi_docs import (
    DOCUMENTS,
    assert_examples_look_like,
    assert_payload_matches,
    channel_messages,
    channels_for_topic,
    examples,
    load,
)

from .mqtt_helpers import CD_ID, MqttAppFactory, Received, Recorder, b64, call, concept_description, lifecycle

BASE = "https://twins.example.com"
TITAN = DOCUMENTS[("mqtt", "titan")]
ASYNC_AAS = DOCUMENTS[("mqtt", "async-aas")]
BASYX = DOCUMENTS[("mqtt", "basyx")]
# The lifecycle's 11 events and a concept description's created, updated and deleted.
EVENTS = 14
BASYX_MESSAGES = 11  # BaSyx has no concept description topics
ENTITY_OF_CHANNEL = {"aas": "shell", "submodel": "submodel", "submodelelement": "element"}


def only_channel(document: Path, topic: str) -> tuple[str, dict[str, str]]:
    matches = channels_for_topic(document, topic)
    assert len(matches) == 1, f"{topic} matches {sorted(matches) or 'no channel'} of {document.name}"
    return next(iter(matches.items()))


async def test_every_profile_publishes_what_its_asyncapi_document_describes(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    ce_root, aas_repo, sm_repo = (
        f"{mqtt_topic_prefix}-ce",
        f"aas-{secrets.token_hex(4)}",
        f"sm-{secrets.token_hex(4)}",
    )
    client = await make_mqtt_app(
        profiles=["titan", "async-aas", "basyx"],
        async_aas_topic=f"{ce_root}/{{channel}}",
        basyx_aas_repo=aas_repo,
        basyx_sm_repo=sm_repo,
        core={"public_base_url": BASE},
    )
    topics = [
        f"{mqtt_topic_prefix}/#",
        f"{ce_root}/#",
        f"aas-repository/{aas_repo}/#",
        f"sm-repository/{sm_repo}/#",
    ]
    async with Recorder(mqtt_url, topics) as recorder:
        await lifecycle(client, mqtt_url, mqtt_topic_prefix)
        await call(client, "POST", "/concept-descriptions", 201, json=concept_description())
        await call(
            client, "PUT", f"/concept-descriptions/{b64(CD_ID)}", 204, json=concept_description(id_short="T2")
        )
        await call(client, "DELETE", f"/concept-descriptions/{b64(CD_ID)}", 204)

        def under(root: str) -> list[Received]:
            return [m for m in recorder.messages if m.topic.startswith(root + "/") and m.payload]

        await recorder.wait_for(
            lambda _: len(recorder.events(under=mqtt_topic_prefix + "/")) >= EVENTS, what="titan events"
        )
        await recorder.wait_for(lambda _: len(under(ce_root)) >= EVENTS, what="async-aas events")
        basyx = [f"aas-repository/{aas_repo}", f"sm-repository/{sm_repo}"]
        await recorder.wait_for(
            lambda _: sum(len(under(r)) for r in basyx) >= BASYX_MESSAGES, what="BaSyx messages"
        )

    # titan: the topic prefix is a setting; the document shows its default, `titan`.
    titan_received: dict[str, list[Any]] = {}
    for message in recorder.events(under=mqtt_topic_prefix + "/"):
        topic = "titan" + message.topic.removeprefix(mqtt_topic_prefix)
        channel, _ = only_channel(TITAN, topic)
        assert "mqttEvent" in channel_messages(TITAN, channel), f"{topic}: {channel} carries no event"
        payload = json.loads(message.payload)
        assert_payload_matches(TITAN, "mqttEvent", payload)
        titan_received.setdefault("mqttEvent", []).append(payload)
    assert len(titan_received["mqttEvent"]) == EVENTS

    # async-aas: `{channel}` in the topic setting is the channel's name in the document; its
    # address is the setting's default.
    assert {c["address"] for c in load(ASYNC_AAS)["channels"].values()} == {
        MqttConfig(url="mqtt://h").async_aas_topic
    }
    aas_received: dict[str, list[Any]] = {}
    for message in under(ce_root):
        channel = message.topic.removeprefix(ce_root + "/")
        assert channel in load(ASYNC_AAS)["channels"], (
            f"Titan published on channel {channel}, not in the document"
        )
        (name,) = channel_messages(ASYNC_AAS, channel)
        event = json.loads(message.payload)
        assert_payload_matches(ASYNC_AAS, name, event)
        assert message.properties.ContentType == "application/cloudevents+json"
        root = channel.split("/")[0]
        kind = event["type"].rsplit(".", 1)[-1]
        if root in ENTITY_OF_CHANNEL:  # the async-aas files have no concept description schemas
            assert_async_aas_event(message.payload, entity=ENTITY_OF_CHANNEL[root], kind=kind)
        else:
            assert_valid_element(event["data"], event["dataschema"])
        aas_received.setdefault(name, []).append(event)
    assert sum(map(len, aas_received.values())) == EVENTS
    assert set(aas_received) == set(load(ASYNC_AAS)["components"]["messages"]), "a message never sent"
    assert_examples_look_like(ASYNC_AAS, aas_received)

    # basyx: the repository ids are the channels' parameters.
    basyx_received: dict[str, list[Any]] = {}
    for message in under(basyx[0]) + under(basyx[1]):
        channel, parameters = only_channel(BASYX, message.topic)
        assert (
            parameters.get("aasRepoId", aas_repo) == aas_repo
            and parameters.get("smRepoId", sm_repo) == sm_repo
        )
        assert parameters["action"] in load(BASYX)["components"]["parameters"]["action"]["enum"]
        (name,) = channel_messages(BASYX, channel)
        payload = json.loads(message.payload)
        assert_payload_matches(BASYX, name, payload)
        assert_valid_element(payload, payload["modelType"])
        basyx_received.setdefault(name, []).append(payload)
    assert sum(map(len, basyx_received.values())) == BASYX_MESSAGES
    assert_examples_look_like(BASYX, basyx_received)
    # The topics the BaSyx examples name are topics of their message's channel.
    for message, name, _ in examples(BASYX):
        summary = next(
            e for e in load(BASYX)["components"]["messages"][message]["examples"] if e["name"] == name
        )["summary"]
        channel, _ = only_channel(BASYX, summary.removeprefix("On "))
        assert channel_messages(BASYX, channel) == [message], f"example {name} names a topic of {channel}"
