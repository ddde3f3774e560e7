"""Topic names (DESIGN §4 "MQTT"): where each event goes, which retained topics a delete clears, and
what a write-back topic addresses.

    {prefix}/{titanentity}/{b64url id}/events                    shells, submodels, concept descriptions,
                                                                 the kinds plugins register
    {prefix}/element/{b64url submodel id}/{idShortPath}/events   elements
    {prefix}/element/{b64url submodel id}/{idShortPath}/value    write-back (in)
    {prefix}/element/{b64url submodel id}/{idShortPath}/value/error

Identifiers are unpadded base64url, so their `/`, `#` and `+` never reach a topic; idShortPaths
(`a.b[2].c`) hold none of `/`, `#`, `+` either, so each is exactly one topic level.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from titan_core.plugin_api import (
    BadRequest,
    IdShortPath,
    decode_identifier,
    encode_identifier,
    format_id_short_path,
    iter_elements,
    parse_id_short_path,
)


def event_topic(prefix: str, envelope: Mapping[str, Any]) -> str:
    """The topic an event is published on."""
    entity = envelope["titanentity"]
    encoded = encode_identifier(envelope["titanid"])
    if entity == "element":
        return f"{prefix}/element/{encoded}/{envelope['titanpath']}/events"
    return f"{prefix}/{entity}/{encoded}/events"


def element_topic(prefix: str, submodel_id: str, path: str) -> str:
    return f"{prefix}/element/{encode_identifier(submodel_id)}/{path}/events"


def retained_topics_cleared_by(prefix: str, envelope: Mapping[str, Any]) -> list[str]:
    """The element topics whose retained message a `deleted` event makes stale.

    A deleted element takes its descendants with it; a deleted submodel all its elements. Both
    events carry the deleted entity as it was, so every such topic can be named.
    """
    entity = envelope["titanentity"]
    data = envelope.get("data")
    if not isinstance(data, dict):
        data = {}
    if entity == "element":
        base = str(envelope["titanpath"])
        below = [_join(base, path) for path in _descendant_paths(data)]
        return [element_topic(prefix, envelope["titanid"], path) for path in (base, *below)]
    if entity == "submodel":
        return [
            element_topic(prefix, envelope["titanid"], format_id_short_path(path))
            for path in _descendant_paths(data)
        ]
    return []


def _descendant_paths(node: dict[str, Any]) -> Iterator[IdShortPath]:
    for path, _element in iter_elements(node):
        yield path


def _join(base: str, relative: IdShortPath) -> str:
    text = format_id_short_path(relative)
    return f"{base}{text}" if text.startswith("[") else f"{base}.{text}"


@dataclass(frozen=True)
class ValueTopic:
    """What a write-back topic addresses: a submodel and the idShortPath of one of its elements."""

    topic: str
    submodel_id: str
    path: IdShortPath

    @property
    def error_topic(self) -> str:
        return error_topic_of(self.topic)


def error_topic_of(value_topic: str) -> str:
    return f"{value_topic}/error"


def parse_value_topic(prefix: str, topic: str, *, max_depth: int) -> ValueTopic:
    """The submodel id and element path of `{prefix}/element/{b64}/{path}/value`.

    Raises `BadRequest` (with a message a device author can act on) for a topic whose identifier is
    not base64url or whose path is not an idShortPath.
    """
    head = f"{prefix}/element/"
    levels = topic[len(head) :].split("/") if topic.startswith(head) else []
    if len(levels) != 3 or levels[2] != "value":
        raise BadRequest(
            f"{topic!r} is not a write-back topic; "
            f"write to {prefix}/element/<base64url submodel id>/<idShortPath>/value"
        )
    encoded, path_text, _ = levels
    try:
        submodel_id = decode_identifier(encoded)
    except BadRequest as error:
        raise BadRequest(f"the submodel id level of the topic is not valid: {error.message}") from None
    try:
        path = parse_id_short_path(path_text, max_depth=max_depth)
    except BadRequest as error:
        raise BadRequest(f"the idShortPath level of the topic is not valid: {error.message}") from None
    return ValueTopic(topic, submodel_id, path)
