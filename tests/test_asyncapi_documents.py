"""Titan's AsyncAPI documents are valid AsyncAPI 3.0 for the AsyncAPI Initiative's own parser, there
is one for each profile on each transport, their examples fit their message schemas, and their
channels are the names and topics the MQTT plugin uses. Needs Node.js and `make venv` (which
installs the pinned parser into tools/asyncapi/node_modules); no network, no services.

The real messages are compared with the documents in tests/mqtt/test_mqtt_asyncapi.py and
tests/ws/test_ws_asyncapi.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from titan_plugin_mqtt.profile_messages import async_aas_channel
from titan_plugin_ws.protocol import WS_PROFILES

from tests.support.asyncapi_docs import (
    DOCUMENTS,
    address_pattern,
    channel_messages,
    examples,
    load,
    payload_errors,
    run_asyncapi_parser,
)
from titan_core.delivery.profiles import PROFILES, BasyxOptions, basyx_message
from titan_core.eventtypes.envelope import ENTITIES, EVENT_TYPE_PREFIX

UNIQUE = sorted(set(DOCUMENTS.values()))
# A document the parser must refuse: the titan one with the MQTT QoS put on a message binding (MQTT
# binding 0.2.0 has it on operations), a mistake docs/asyncapi.yaml itself once had.
BROKEN_BINDING = """      bindings:
        mqtt:
          contentType: application/cloudevents+json
"""


@pytest.fixture(scope="module")
def parser_report(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, dict[str, Any]]:
    """One parser run over every document and the broken one (the parser takes seconds each)."""
    titan = DOCUMENTS[("mqtt", "titan")].read_text(encoding="utf-8")
    assert BROKEN_BINDING in titan
    broken = tmp_path_factory.mktemp("asyncapi") / "broken.yaml"
    broken.write_text(titan.replace(BROKEN_BINDING, BROKEN_BINDING + "          qos: 1\n"), encoding="utf-8")
    return {Path(entry["document"]): entry for entry in run_asyncapi_parser(*UNIQUE, broken)}


def test_there_is_a_document_for_each_profile_and_transport() -> None:
    expected = {("mqtt", profile) for profile in PROFILES} | {("ws", profile) for profile in WS_PROFILES}
    assert set(DOCUMENTS) == expected
    for document in UNIQUE:
        assert document.is_file(), document


@pytest.mark.parametrize("document", UNIQUE, ids=lambda path: path.name)
def test_the_asyncapi_parser_accepts_the_document(
    document: Path, parser_report: dict[Path, dict[str, Any]]
) -> None:
    entry = parser_report[document]

    assert entry["errors"] == [], entry["errors"]
    assert entry["warnings"] == [], entry["warnings"]
    assert (entry["parsed"], entry["version"]) == (True, "3.0.0")


def test_the_asyncapi_parser_refuses_a_broken_document(parser_report: dict[Path, dict[str, Any]]) -> None:
    (entry,) = [entry for path, entry in parser_report.items() if path.name == "broken.yaml"]

    assert entry["parsed"] is False
    assert any(error["path"].endswith("mqttEvent/bindings/mqtt/qos") for error in entry["errors"]), entry


@pytest.mark.parametrize("document", UNIQUE, ids=lambda path: path.name)
def test_every_example_fits_its_message_schema(document: Path) -> None:
    checked = 0
    for message, name, payload in examples(document):
        assert payload_errors(document, message, payload) == [], (
            f"{document.name}: example {name} of {message}"
        )
        checked += 1
    assert checked > 0


def test_async_aas_channels_are_the_names_the_mqtt_plugin_puts_in_topics() -> None:
    document = DOCUMENTS[("mqtt", "async-aas")]
    kinds = {"shell": 3, "submodel": 3, "concept_description": 3, "element": 4}
    names = set()
    for entity in ENTITIES:
        for kind in ("created", "updated", "deleted", "valueChanged")[: kinds[entity]]:
            names.add(async_aas_channel({"titanentity": entity, "type": EVENT_TYPE_PREFIX + kind}))
    assert set(load(document)["channels"]) == names
    for channel, message in (
        ("aas/created", "shellCreated"),
        ("submodelelement/update/valuechanged", "valueChanged"),
    ):
        assert channel_messages(document, channel) == [message]


def test_basyx_channels_are_the_topics_of_basyx_messages() -> None:
    document = DOCUMENTS[("mqtt", "basyx")]
    options = BasyxOptions()
    parameters = load(document)["components"]["parameters"]
    assert (parameters["smRepoId"]["default"], options.sm_repo_id) == ("sm-repo", "sm-repo")
    data = {"modelType": "Property", "idShort": "Speed"}
    for entity, channel, message in (
        ("shell", "shellEvents", "shell"),
        ("submodel", "submodelEvents", "submodel"),
        ("element", "elementEvents", "element"),
    ):
        for kind in ("created", "updated", "deleted", "valueChanged"):
            if kind == "valueChanged" and entity != "element":
                continue
            envelope = {"type": EVENT_TYPE_PREFIX + kind, "titanentity": entity, "titanid": "urn:x",
                        "titanpath": "Box.Speed", "data": data}  # fmt: skip
            published = basyx_message(envelope, options, element=data)
            assert published is not None
            found = address_pattern(load(document)["channels"][channel]["address"]).match(published.topic)
            assert found is not None, f"{published.topic} is not an address of {channel}"
            assert found["action"] in parameters["action"]["enum"]
            assert channel_messages(document, channel) == [message]
