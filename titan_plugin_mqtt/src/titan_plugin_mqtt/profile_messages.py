"""The MQTT messages of the async-aas and BaSyx profiles (the titan profile stays in `sink.py`).

The envelopes and payloads come from `titan_core.delivery.profiles`, shared with every transport; this
module only adds what is MQTT's: the topics and the message properties.

async-aas topic: `async_aas_topic` (default `noauth`, FA³ST's CloudEvents message bus layout: every
event on one topic); a `{channel}` in it becomes the async-aas channel name of the event, e.g.
`submodelelement/update/valuechanged`. The async-aas files name no channel for concept descriptions;
Titan uses `conceptdescription/{created,updated,deleted}` in their style, and for the kinds plugins
register (`titan_entity_kinds`) the name without underscores: `shelldescriptor/created`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from titan_core.plugin_api import (
    AsyncAasOptions,
    BasyxOptions,
    Event,
    async_aas_envelope,
    basyx_message,
    dump_json,
    short_type,
)
from titan_plugin_mqtt.client import Outgoing
from titan_plugin_mqtt.codec import MessageProperties
from titan_plugin_mqtt.config import MqttConfig

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"

_CHANNEL_ROOT = {
    "shell": "aas",
    "submodel": "submodel",
    "element": "submodelelement/update",
    "concept_description": "conceptdescription",
}
_ELEMENT_CHANNEL = {
    "created": "elementcreated",
    "updated": "elementupdated",
    "deleted": "elementdeleted",
    "valueChanged": "valuechanged",
}


def async_aas_channel(envelope: Any) -> str:
    """The async-aas channel name of an event: `aas/created`, `submodelelement/update/valuechanged`, …"""
    entity = str(envelope["titanentity"])
    kind = short_type(str(envelope["type"]))
    if entity == "element":
        return f"{_CHANNEL_ROOT[entity]}/{_ELEMENT_CHANNEL[kind]}"
    # Only elements have value changes in the spec; an identifiable's valueChanged does not occur.
    root = _CHANNEL_ROOT.get(entity) or entity.replace("_", "")
    return f"{root}/{kind.lower()}"


@dataclass(frozen=True)
class ProfileMessages:
    async_aas: AsyncAasOptions | None
    async_aas_topic: str
    basyx: BasyxOptions | None
    properties: MessageProperties | None
    json_properties: MessageProperties | None

    @classmethod
    def for_config(cls, config: MqttConfig, *, async_aas: AsyncAasOptions | None) -> ProfileMessages | None:
        wants_async_aas = "async-aas" in config.profiles
        wants_basyx = "basyx" in config.profiles
        if not (wants_async_aas or wants_basyx):
            return None
        if wants_async_aas and async_aas is None:
            raise ValueError("the async-aas profile needs its options (public_base_url, async_aas_slim)")
        properties = json_properties = None
        if config.protocol == "5":
            properties = _payload_properties(CLOUDEVENTS_CONTENT_TYPE)
            json_properties = _payload_properties("application/json")
        return cls(
            async_aas=async_aas if wants_async_aas else None,
            async_aas_topic=config.async_aas_topic,
            basyx=BasyxOptions(config.basyx_aas_repo, config.basyx_sm_repo) if wants_basyx else None,
            properties=properties,
            json_properties=json_properties,
        )

    def messages(self, event: Event, element: dict[str, Any] | None, *, qos: int) -> list[Outgoing]:
        result: list[Outgoing] = []
        envelope = event.envelope
        if self.async_aas is not None:
            topic = self.async_aas_topic.replace("{channel}", async_aas_channel(envelope))
            payload = dump_json(async_aas_envelope(envelope, self.async_aas, element=element))
            result.append(Outgoing(topic, payload, qos, False, self.properties))
        if self.basyx is not None:
            message = basyx_message(envelope, self.basyx, element=element)
            if message is not None:
                result.append(Outgoing(message.topic, message.payload, qos, False, self.json_properties))
        return result


def _payload_properties(content_type: str) -> MessageProperties:
    return MessageProperties(content_type=content_type, payload_format_indicator=1)  # UTF-8 text
