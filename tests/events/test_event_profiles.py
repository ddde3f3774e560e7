"""The event profiles (titan_core/delivery/profiles.py) built from real envelopes: every row of the
write→event table, as async-aas (validated against the async-aas AsyncAPI schemas, the CloudEvents
SDK and aas-core) and as BaSyx messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.app import AppClient
from tests.support.async_aas import SCHEMAS, assert_async_aas_event, message_schema_names
from titan_core.delivery.profiles import (
    DATASCHEMA_V30,
    AsyncAasOptions,
    BasyxOptions,
    ProfileError,
    async_aas_envelope,
    basyx_message,
    first_key_value,
    parse_profiles,
    public_base_url,
)
from titan_core.delivery.sink import Event
from titan_core.delivery.stored_elements import StoredElements
from titan_core.eventtypes.envelope import short_type
from titan_core.keys import DATABASE

from .helpers import ELEMENTS, SM_ID, b64, call, events_caused_by, prop, shell, submodel

BASE = "https://aas.example.com/api/v3.0"
OPTIONS = AsyncAasOptions(base_url=BASE)


def as_events(envelopes: list[dict[str, Any]]) -> list[Event]:
    return [Event(envelope=envelope, json=json.dumps(envelope).encode()) for envelope in envelopes]


async def profile_forms(
    client: AppClient, envelopes: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], Any]]:
    """(async-aas event, stored element) of each titan envelope, the element read as transports do."""
    stored = await StoredElements(client.app[DATABASE]).of(as_events(envelopes))
    result = []
    for envelope in envelopes:
        element = stored.get(int(envelope["titanseq"]))
        payload = json.dumps(async_aas_envelope(envelope, OPTIONS, element=element)).encode()
        event = assert_async_aas_event(
            payload, entity=envelope["titanentity"], kind=short_type(envelope["type"])
        )
        result.append((event, element))
    return result


def test_the_schema_table_covers_every_event_message_of_the_async_aas_files() -> None:
    for file in {file for file, _ in SCHEMAS.values()}:
        used = {schema for (f, schema) in SCHEMAS.values() if f == file}
        named = set(message_schema_names(file)) - {"operationInvokedEvent", "operationFinishedEvent"}
        assert named == used, file


async def test_every_write_of_the_table_becomes_a_valid_async_aas_event(titan_client: AppClient) -> None:
    sm = submodel()
    writes: list[tuple[str, str, int, Any]] = [
        ("POST", "/shells", 201, shell()),
        ("POST", "/submodels", 201, sm),
        ("PUT", f"/submodels/{b64(SM_ID)}", 204, {**sm, "idShort": "Renamed"}),
        ("POST", ELEMENTS, 201, prop("Added", "2")),
        ("PUT", f"{ELEMENTS}/Added", 204, prop("Added", "3")),
        ("PATCH", f"{ELEMENTS}/Added/$value", 204, 4.5),
        ("DELETE", f"{ELEMENTS}/Added", 204, None),
        ("DELETE", f"/submodels/{b64(SM_ID)}", 204, None),
    ]
    seen: list[tuple[str, str]] = []
    for method, url, status, body in writes:

        async def write(method: str = method, url: str = url, status: int = status, body: Any = body) -> None:
            await call(titan_client, method, url, status, **({} if body is None else {"json": body}))

        envelopes = await events_caused_by(titan_client, write)
        for (event, _element), envelope in zip(
            await profile_forms(titan_client, envelopes), envelopes, strict=True
        ):
            seen.append((envelope["titanentity"], short_type(envelope["type"])))
            assert event["source"] == BASE + envelope["source"]
            assert event["titanseq"] == envelope["titanseq"]
            assert not any(name.startswith("titan") and name != "titanseq" for name in event)
            assert "data" in event, event
    expected = {
        ("shell", "created"),
        ("submodel", "updated"),
        ("element", "valueChanged"),
        ("element", "deleted"),
    }
    assert expected <= set(seen)


async def test_a_value_change_carries_the_whole_element_as_the_change_left_it(
    titan_client: AppClient,
) -> None:
    semantic = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "first"},
                                                      {"type": "GlobalReference", "value": "last"}]}  # fmt: skip
    element = {**prop("Temp", "1"), "semanticId": semantic}
    await call(titan_client, "POST", "/submodels", 201, json=submodel(elements=[element]))

    async def patch(value: float) -> list[dict[str, Any]]:
        async def write() -> None:
            await call(titan_client, "PATCH", f"{ELEMENTS}/Temp/$value", 204, json=value)

        return await events_caused_by(titan_client, write)

    first = await patch(2.5)
    await patch(3.5)  # a later change must not show through the first event
    ((event, element),) = await profile_forms(titan_client, first)
    assert first[0]["data"] == 2.5  # the titan profile keeps the bare value
    assert element is not None and element["value"] == "2.5"
    assert event["data"]["value"] == "2.5" and event["data"]["idShort"] == "Temp"
    assert event["semanticid"] == "first"  # the FIRST key, as the async-aas base schema says
    assert first[0]["semanticid"] == "last"  # the titan profile is unchanged
    assert event["dataschema"] == f"{DATASCHEMA_V30}#/components/schemas/Property"
    assert event["source"] == f"{BASE}/submodels/{b64(SM_ID)}/submodel-elements/Temp"


async def test_slim_events_carry_no_data_and_still_validate(titan_client: AppClient) -> None:
    async def post() -> None:
        await call(titan_client, "POST", "/submodels", 201, json=submodel())

    (envelope,) = await events_caused_by(titan_client, post)
    slim = async_aas_envelope(envelope, AsyncAasOptions(base_url=BASE, slim=True))
    assert "data" not in slim
    assert_async_aas_event(json.dumps(slim).encode(), entity="submodel", kind="created")


async def test_basyx_messages_use_basyx_topics_and_whole_json(titan_client: AppClient) -> None:
    options = BasyxOptions(aas_repo_id="aas-r", sm_repo_id="sm-r")
    sm_topic = f"sm-repository/sm-r/submodels/{b64(SM_ID)}/submodelElements"
    cases: list[tuple[str, str, int, Any, list[str]]] = [
        ("POST", "/shells", 201, shell(), ["aas-repository/aas-r/shells/created"]),
        ("POST", "/submodels", 201, submodel(), ["sm-repository/sm-r/submodels/created"]),
        ("POST", ELEMENTS, 201, prop("Added", "2"), [f"{sm_topic}/Added/created"]),
        ("PATCH", f"{ELEMENTS}/Added/$value", 204, 4.5, [f"{sm_topic}/Added/updated"]),
        ("DELETE", f"{ELEMENTS}/Added", 204, None, [f"{sm_topic}/Added/deleted"]),
    ]
    for method, url, status, body, topics in cases:

        async def write(method: str = method, url: str = url, status: int = status, body: Any = body) -> None:
            await call(titan_client, method, url, status, **({} if body is None else {"json": body}))

        envelopes = await events_caused_by(titan_client, write)
        stored = await StoredElements(titan_client.app[DATABASE]).of(as_events(envelopes))
        messages = [basyx_message(e, options, element=stored.get(int(e["titanseq"]))) for e in envelopes]
        assert [m.topic for m in messages if m is not None] == topics
        for message, envelope in zip(messages, envelopes, strict=True):
            assert message is not None
            payload = json.loads(message.payload)
            if envelope["type"].endswith("valueChanged"):
                assert payload["value"] == "4.5" and payload["modelType"] == "Property"
            else:
                assert payload == envelope["data"]


def test_concept_descriptions_have_no_basyx_message() -> None:
    envelope = {"type": "io.admin-shell.events.v1.created", "titanentity": "concept_description",
                "titanid": "x", "data": {"id": "x", "modelType": "ConceptDescription"}}  # fmt: skip
    assert basyx_message(envelope, BasyxOptions()) is None


def test_first_key_value_and_settings_checks() -> None:
    assert first_key_value({"keys": [{"value": "a"}, {"value": "b"}]}) == "a"
    assert first_key_value({"keys": []}) is None
    assert first_key_value(None) is None
    assert parse_profiles("titan, async-aas,titan", setting="s") == ("titan", "async-aas")
    with pytest.raises(
        ProfileError, match=r"unknown event profile 'fa3st'.*accepted: titan, async-aas, basyx"
    ):
        parse_profiles(["fa3st"], setting="mqtt.profiles")
    with pytest.raises(ProfileError, match="names no event profile"):
        parse_profiles([], setting="mqtt.profiles")
    assert public_base_url("", host="127.0.0.1", port=8080) == "http://127.0.0.1:8080"
    assert public_base_url("https://x.example/api/", host="h", port=1) == "https://x.example/api"
    with pytest.raises(ProfileError, match="absolute http"):
        public_base_url("x.example", host="h", port=1)
