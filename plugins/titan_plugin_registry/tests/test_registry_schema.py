"""The descriptor schema the plugin ships is the one derived from the IDTA files in tests/data, and
it accepts what the specification allows and refuses what it does not."""

from __future__ import annotations

import json

import pytest
from descriptor_schema_source import SHIPPED, XML_CHARACTERS, derive, rendered
from titan_plugin_registry.descriptors import check_descriptor, semantic_id_of

from titan_core.plugin_api import BadRequest


def test_the_shipped_schema_is_derived_from_the_idta_files() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == rendered(), (
        "descriptor_schema.json is out of date: run plugins/titan_plugin_registry/tests/descriptor_schema_source.py"
    )


def test_every_reference_resolves_inside_the_schema() -> None:
    schema = derive()
    text = json.dumps(schema)

    refs = {part.split('"')[0] for part in text.split('"$ref": "#/definitions/')[1:]}

    assert refs and refs <= set(schema["definitions"])
    assert "swaggerhub" not in text


@pytest.mark.parametrize(
    "text", ["Pump 4711", "tab\tand newline\n", "Ünïcödé", "emoji \U0001f527 beyond the BMP", "\ue000"]
)
def test_xml_characters_are_accepted(text: str) -> None:
    descriptor = {"id": text}

    assert check_descriptor("shell_descriptor", descriptor) is descriptor


@pytest.mark.parametrize("text", ["\x00", "bell\x07", "\x1f", "\ufffe"])
def test_characters_xml_does_not_allow_are_refused(text: str) -> None:
    with pytest.raises(BadRequest, match=r"^the AAS descriptor does not follow the IDTA schema .*id: "):
        check_descriptor("shell_descriptor", {"id": text})
    assert XML_CHARACTERS.startswith("^[")


def test_every_violation_is_named_with_its_place() -> None:
    descriptor = {
        "id": "https://plant.example/aas/1",
        "endpoints": [{"interface": "AAS-3.0", "protocolInformation": {"href": "x", "securityAttributes": [
            {"type": "PASSWORD", "key": "k", "value": "v"}]}}],
        "specificAssetIds": [{"name": "serial"}],
    }  # fmt: skip

    with pytest.raises(BadRequest) as refused:
        check_descriptor("shell_descriptor", descriptor)

    assert "endpoints[0].protocolInformation.securityAttributes[0].type: " in refused.value.message
    assert 'specificAssetIds[0]: "value" is a required property' in refused.value.message


def test_a_submodel_listed_twice_in_an_aas_descriptor_is_refused() -> None:
    nested = {
        "id": "urn:sm:1",
        "endpoints": [{"interface": "SUBMODEL-3.0", "protocolInformation": {"href": "x"}}],
    }

    with pytest.raises(BadRequest, match="listed twice"):
        check_descriptor("shell_descriptor", {"id": "urn:aas:1", "submodelDescriptors": [nested, nested]})


def test_the_semantic_id_column_is_the_last_key_value() -> None:
    reference = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:a"},
                                                       {"type": "FragmentReference", "value": "urn:b"}]}  # fmt: skip

    assert semantic_id_of({"semanticId": reference}) == "urn:b"
    assert semantic_id_of({}) is None
