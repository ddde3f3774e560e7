"""The MQTT contract documents say what the plugin does: the AsyncAPI channels are the plugin's
topics, and the refusal codes of the code, docs/mqtt.md and docs/asyncapi.yaml are the same."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.topics import error_topic_of, event_topic
from titan_plugin_mqtt.writeback import REFUSAL_CODES

from titan_core.model.identifiers import encode_identifier

DOCS = Path(__file__).resolve().parents[2] / "docs"


def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DOCS / "asyncapi.yaml").read_text(encoding="utf-8"))
    return document


def test_asyncapi_channels_are_the_topics_the_plugin_uses() -> None:
    channels = asyncapi()["channels"]
    identifier = "urn:x"
    encoded = encode_identifier(identifier)

    def address(entity: str, placeholder: str = "{id}") -> str:
        envelope = {"titanentity": entity, "titanid": identifier, "titanpath": "{idShortPath}"}
        return event_topic("titan", envelope).replace(encoded, placeholder)

    assert channels["mqttShellEvents"]["address"] == address("shell")
    assert channels["mqttSubmodelEvents"]["address"] == address("submodel")
    assert channels["mqttConceptDescriptionEvents"]["address"] == address("concept_description")
    assert channels["mqttElementEvents"]["address"] == address("element", "{submodelId}")
    value = channels["mqttElementValue"]["address"]
    assert value == address("element", "{submodelId}").removesuffix("events") + "value"
    assert channels["mqttElementValueError"]["address"] == error_topic_of(value)
    assert MqttConfig(url="mqtt://h").value_subscription in channels["mqttElementValue"]["description"]


def test_every_refusal_code_is_documented_in_asyncapi_and_docs_mqtt() -> None:
    outcome = asyncapi()["components"]["messages"]["mqttWriteOutcome"]["payload"]["properties"]["code"]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", (DOCS / "mqtt.md").read_text(encoding="utf-8"), re.M))

    assert set(outcome["enum"]) == {"ok", *REFUSAL_CODES}
    assert set(REFUSAL_CODES) <= documented


def test_every_setting_is_documented_in_docs_mqtt() -> None:
    text = (DOCS / "mqtt.md").read_text(encoding="utf-8")
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]

    missing = [field.name for field in dataclasses.fields(MqttConfig) if f"`{field.name}`" not in table]
    assert not missing, f"settings missing from docs/mqtt.md: {missing}"
