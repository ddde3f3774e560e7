"""Every row of the write→event table (docs/events.md), through the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData

from tests.support.app import AppClient
from tests.support.twins import submodel_reference
from titan_core.settings import Settings

from .helpers import (
    CD_ID,
    SEMANTIC,
    SHELL_ID,
    SM2_ID,
    SM_ID,
    b64,
    call,
    concept_description,
    events_caused_by,
    prop,
    shell,
    submodel,
    summary,
)

SHELLS = f"/shells/{b64(SHELL_ID)}"
SUBMODEL = f"/submodels/{b64(SM_ID)}"
ELEMENTS = f"{SUBMODEL}/submodel-elements"

KINDS: dict[str, tuple[str, str, Callable[[], dict[str, Any]]]] = {
    "shell": ("/shells", SHELL_ID, shell),
    "submodel": ("/submodels", SM_ID, submodel),
    "concept_description": ("/concept-descriptions", CD_ID, concept_description),
}


@pytest.mark.parametrize("kind", KINDS)
async def test_post_put_delete_of_an_identifiable_emit_created_updated_deleted(
    titan_client: AppClient, kind: str
) -> None:
    collection, identifier, make = KINDS[kind]
    one = f"{collection}/{b64(identifier)}"
    document = make()

    async def post() -> None:
        await call(titan_client, "POST", collection, 201, json=document)

    (created,) = await events_caused_by(titan_client, post)
    assert (created["type"], created["titanentity"], created["titanid"]) == (
        "io.admin-shell.events.v1.created",
        kind,
        identifier,
    )
    assert created["source"] == one and created["titanorigin"] == "rest" and "titanpath" not in created
    assert created["data"]["id"] == identifier

    changed = {**document, "idShort": "Renamed"}
    updates = await events_caused_by(titan_client, lambda: call(titan_client, "PUT", one, 204, json=changed))
    assert summary(updates)[0] == ("updated", kind, None)
    assert updates[0]["data"]["idShort"] == "Renamed"

    (deleted,) = await events_caused_by(titan_client, lambda: call(titan_client, "DELETE", one, 204))
    assert summary([deleted]) == [("deleted", kind, None)]
    assert deleted["data"]["idShort"] == "Renamed"  # the last state, so consumers can clean up


async def test_put_of_a_new_identifiable_emits_created(titan_client: AppClient) -> None:
    events = await events_caused_by(
        titan_client,
        lambda: call(
            titan_client, "PUT", f"/concept-descriptions/{b64(CD_ID)}", 201, json=concept_description()
        ),
    )
    assert summary(events) == [("created", "concept_description", None)]


async def test_deleted_submodel_is_one_event_carrying_its_elements(titan_client: AppClient) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    events = await events_caused_by(titan_client, lambda: call(titan_client, "DELETE", SUBMODEL, 204))
    assert summary(events) == [("deleted", "submodel", None)]
    assert [e["idShort"] for e in events[0]["data"]["submodelElements"]][:2] == ["Temperature", "Speed"]
    assert events[0]["semanticid"] == "urn:sm-semantic"


async def test_put_of_a_whole_submodel_emits_updated_and_value_changed_per_changed_element(
    titan_client: AppClient,
) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    document = submodel()
    elements = document["submodelElements"]
    elements[0]["value"] = "21.5"  # Temperature changes
    elements[2]["value"][0]["value"] = "7"  # Box.Inner changes
    elements[3]["value"][1]["value"] = "9"  # Series[1] changes
    elements.append(prop("Added", "5"))  # new: not a value change
    events = await events_caused_by(
        titan_client, lambda: call(titan_client, "PUT", SUBMODEL, 204, json=document)
    )
    assert summary(events) == [
        ("updated", "submodel", None),
        ("valueChanged", "element", "Temperature"),
        ("valueChanged", "element", "Box.Inner"),
        ("valueChanged", "element", "Series[1]"),
    ]
    assert [e["data"] for e in events[1:]] == [21.5, 7, 9]
    assert events[1]["semanticid"] == SEMANTIC
    assert events[3]["source"] == f"{ELEMENTS}/Series%5B1%5D"


async def test_patch_of_a_whole_submodel_emits_updated_and_value_changed(titan_client: AppClient) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    elements = submodel()["submodelElements"]
    elements[1]["value"] = "4"
    events = await events_caused_by(
        titan_client,
        lambda: call(titan_client, "PATCH", SUBMODEL, 204, json={"submodelElements": elements}),
    )
    assert summary(events) == [("updated", "submodel", None), ("valueChanged", "element", "Speed")]
    assert events[1]["data"] == 4


async def test_blob_contents_are_left_out_of_events_but_their_change_counts(titan_client: AppClient) -> None:
    events = await events_caused_by(
        titan_client, lambda: call(titan_client, "POST", "/submodels", 201, json=submodel())
    )
    blob = events[0]["data"]["submodelElements"][4]
    assert blob["idShort"] == "Raw" and "value" not in blob
    document = submodel()
    document["submodelElements"][4]["value"] = "AAED"
    events = await events_caused_by(
        titan_client, lambda: call(titan_client, "PUT", SUBMODEL, 204, json=document)
    )
    assert summary(events) == [("updated", "submodel", None), ("valueChanged", "element", "Raw")]
    assert events[1]["data"] == {"contentType": "application/octet-stream"}
    assert "value" not in events[0]["data"]["submodelElements"][4]


async def test_element_post_put_delete_emit_element_created_updated_deleted(titan_client: AppClient) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    created = await events_caused_by(
        titan_client, lambda: call(titan_client, "POST", ELEMENTS, 201, json=prop("Pressure", "1.0"))
    )
    assert summary(created) == [("created", "element", "Pressure")]
    assert created[0]["titanid"] == SM_ID and created[0]["source"] == f"{ELEMENTS}/Pressure"
    assert created[0]["data"]["idShort"] == "Pressure"

    nested = await events_caused_by(
        titan_client, lambda: call(titan_client, "POST", f"{ELEMENTS}/Box", 201, json=prop("Deep", "2"))
    )
    assert summary(nested) == [("created", "element", "Box.Deep")]

    updated = await events_caused_by(
        titan_client,
        lambda: call(
            titan_client,
            "PUT",
            f"{ELEMENTS}/Pressure",
            204,
            json=prop(
                "Pressure",
                "2.0",
                semanticId={
                    "type": "ExternalReference",
                    "keys": [{"type": "GlobalReference", "value": "urn:pressure"}],
                },
            ),
        ),
    )
    assert summary(updated) == [("updated", "element", "Pressure")]
    assert updated[0]["semanticid"] == "urn:pressure"

    put_new = await events_caused_by(
        titan_client, lambda: call(titan_client, "PUT", f"{ELEMENTS}/Flow", 201, json=prop("Flow", "3.0"))
    )
    assert summary(put_new) == [("created", "element", "Flow")]

    deleted = await events_caused_by(
        titan_client, lambda: call(titan_client, "DELETE", f"{ELEMENTS}/Pressure", 204)
    )
    assert summary(deleted) == [("deleted", "element", "Pressure")]
    assert deleted[0]["data"]["value"] == "2.0"


async def test_patch_of_an_element_emits_element_updated(titan_client: AppClient) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    events = await events_caused_by(
        titan_client,
        lambda: call(titan_client, "PATCH", f"{ELEMENTS}/Speed", 204, json={"category": "PARAMETER"}),
    )
    assert summary(events) == [("updated", "element", "Speed")]


async def test_patch_of_an_element_value_emits_value_changed_with_the_bare_value(
    titan_client: AppClient,
) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    events = await events_caused_by(
        titan_client, lambda: call(titan_client, "PATCH", f"{ELEMENTS}/Temperature/$value", 204, json=23.5)
    )
    assert summary(events) == [("valueChanged", "element", "Temperature")]
    assert events[0]["data"] == 23.5 and events[0]["semanticid"] == SEMANTIC
    listed = await events_caused_by(
        titan_client, lambda: call(titan_client, "PATCH", f"{ELEMENTS}/Series[0]/$value", 204, json=8)
    )
    assert summary(listed) == [("valueChanged", "element", "Series[0]")]


_REFERENCE = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:sensor"}]}
_VALUE_KINDS = [
    {"modelType": "Range", "idShort": "Limits", "valueType": "xs:double", "min": "0", "max": "1"},
    {"modelType": "MultiLanguageProperty", "idShort": "Label", "value": [{"language": "en", "text": "a"}]},
    {"modelType": "File", "idShort": "Doc", "contentType": "text/plain", "value": "a.txt"},
    {"modelType": "ReferenceElement", "idShort": "Sensor"},
    {"modelType": "Entity", "idShort": "Part", "entityType": "CoManagedEntity", "statements": [prop("Mass")]},
]
# (idShortPath, a new value in ValueOnly form) of elements whose own value is the event's subject.
_VALUE_WRITES: list[tuple[str, Any]] = [
    ("Temperature", 23.5),
    ("Speed", 4),
    ("Box.Inner", 2.5),
    ("Series[1]", 7.5),
    ("Raw", {"contentType": "text/plain"}),
    ("Limits", {"min": -1.5, "max": 2}),
    ("Label", [{"en": "b"}, {"de": "c"}]),
    ("Doc", {"contentType": "text/markdown", "value": "b.md"}),
    ("Sensor", _REFERENCE),
    ("Part.Mass", 9.25),
]


async def test_value_changed_data_is_what_was_written_and_what_get_value_answers(
    titan_client: AppClient,
) -> None:
    """DESIGN §4: one bare ValueOnly value for the `$value` PATCH body, the event and GET `$value`."""
    document = submodel()
    document["submodelElements"] += _VALUE_KINDS
    await call(titan_client, "POST", "/submodels", 201, json=document)
    for path, value in _VALUE_WRITES:
        url = f"{ELEMENTS}/{path}/$value"
        write = functools.partial(call, titan_client, "PATCH", url, 204, json=value)
        events = await events_caused_by(titan_client, write)
        assert summary(events) == [("valueChanged", "element", path)], path
        assert events[0]["data"] == value == await call(titan_client, "GET", url, 200), path


async def test_value_patch_of_a_collection_emits_value_changed_per_changed_element(
    titan_client: AppClient,
) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    events = await events_caused_by(
        titan_client, lambda: call(titan_client, "PATCH", f"{ELEMENTS}/Box/$value", 204, json={"Inner": 5})
    )
    assert summary(events) == [("valueChanged", "element", "Box.Inner")]
    assert events[0]["data"] == 5


async def test_patch_of_a_submodel_value_emits_value_changed_per_changed_element(
    titan_client: AppClient,
) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    events = await events_caused_by(
        titan_client,
        lambda: call(
            titan_client,
            "PATCH",
            f"{SUBMODEL}/$value",
            204,
            json={"Temperature": 20.5, "Speed": 9, "Box": {"Inner": 2}},
        ),
    )
    # Temperature came unchanged: no event for it.
    assert summary(events) == [("valueChanged", "element", "Speed"), ("valueChanged", "element", "Box.Inner")]
    assert [e["data"] for e in events] == [9, 2]


def _upload(name: str) -> FormData:
    form = FormData()
    form.add_field("file", b"hello", filename=name, content_type="text/plain")
    form.add_field("fileName", name)
    return form


async def test_file_attachment_upload_and_removal_emit_value_changed(titan_client: AppClient) -> None:
    file_element = {"modelType": "File", "idShort": "Manual", "contentType": "text/plain"}
    await call(titan_client, "POST", "/submodels", 201, json=submodel(elements=[file_element]))
    attachment = f"{ELEMENTS}/Manual/attachment"
    events = await events_caused_by(
        titan_client, lambda: call(titan_client, "PUT", attachment, 204, data=_upload("manual.txt"))
    )
    assert summary(events) == [("valueChanged", "element", "Manual")]
    assert events[0]["data"]["contentType"] == "text/plain"
    removed = await events_caused_by(titan_client, lambda: call(titan_client, "DELETE", attachment, 200))
    assert summary(removed) == [("valueChanged", "element", "Manual")]
    # The attachment is gone, the File's contentType stays: the event carries its `$value` now.
    assert removed[0]["data"] == await call(titan_client, "GET", f"{ELEMENTS}/Manual/$value", 200)


async def test_metadata_patches_emit_updated(titan_client: AppClient) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())

    async def patches() -> None:
        await call(titan_client, "PATCH", f"{ELEMENTS}/Speed/$metadata", 204, json={"category": "PARAMETER"})
        await call(titan_client, "PATCH", f"{SUBMODEL}/$metadata", 204, json={"idShort": "Renamed"})

    events = await events_caused_by(titan_client, patches)
    assert summary(events) == [("updated", "element", "Speed"), ("updated", "submodel", None)]


async def test_shell_submodel_reference_and_asset_information_changes_emit_shell_updated(
    titan_client: AppClient,
) -> None:
    await call(titan_client, "POST", "/shells", 201, json=shell())
    added = await events_caused_by(
        titan_client,
        lambda: call(titan_client, "POST", f"{SHELLS}/submodel-refs", 201, json=submodel_reference(SM2_ID)),
    )
    assert summary(added) == [("updated", "shell", None)]
    assert added[0]["data"]["submodels"] == [submodel_reference(SM2_ID)]

    removed = await events_caused_by(
        titan_client, lambda: call(titan_client, "DELETE", f"{SHELLS}/submodel-refs/{b64(SM2_ID)}", 204)
    )
    assert summary(removed) == [("updated", "shell", None)]
    assert "submodels" not in removed[0]["data"]

    information = {"assetKind": "Type", "globalAssetId": "https://example.com/assets/2"}
    changed = await events_caused_by(
        titan_client,
        lambda: call(titan_client, "PUT", f"{SHELLS}/asset-information", 204, json=information),
    )
    assert summary(changed) == [("updated", "shell", None)]
    assert changed[0]["data"]["assetInformation"]["assetKind"] == "Type"

    thumbnail = f"{SHELLS}/asset-information/thumbnail"
    for method, expected, body in (("PUT", 204, _upload("logo.txt")), ("DELETE", 204, None)):
        events = await events_caused_by(
            titan_client,
            lambda method=method, expected=expected, body=body: call(  # type: ignore[misc]
                titan_client, method, thumbnail, expected, data=body
            ),
        )
        assert summary(events) == [("updated", "shell", None)]


async def test_writes_that_change_nothing_emit_nothing(titan_client: AppClient) -> None:
    await call(titan_client, "POST", "/shells", 201, json=shell())
    await call(titan_client, "POST", "/submodels", 201, json=submodel())

    async def no_ops() -> None:
        await call(titan_client, "PUT", SHELLS, 204, json=shell())
        await call(titan_client, "PUT", SUBMODEL, 204, json=submodel())
        await call(
            titan_client, "PUT", f"{ELEMENTS}/Speed", 204, json=prop("Speed", "3", value_type="xs:int")
        )
        await call(titan_client, "PATCH", f"{ELEMENTS}/Temperature/$value", 204, json=20.5)
        await call(titan_client, "PATCH", f"{SUBMODEL}/$value", 204, json={"Speed": 3})
        await call(titan_client, "PATCH", f"{ELEMENTS}/Speed", 204, json={"value": "3"})
        await call(titan_client, "PUT", f"{SHELLS}/asset-information", 204, json=shell()["assetInformation"])

    assert await events_caused_by(titan_client, no_ops) == []


async def test_refused_writes_emit_nothing(titan_client: AppClient) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())

    async def refused() -> None:
        await call(titan_client, "PATCH", f"{ELEMENTS}/Speed/$value", 400, json="fast")
        await call(titan_client, "POST", "/submodels", 409, json=submodel())
        await call(titan_client, "PUT", SUBMODEL, 412, json=submodel(), headers={"If-Match": '"0-0"'})

    assert await events_caused_by(titan_client, refused) == []


@pytest.mark.slow  # starts `titan` as a process: not in `make test-fast`
async def test_titan_load_upserts_emit_created_then_updated_with_origin_load(
    titan_client: AppClient, settings: Settings, tmp_path: Path
) -> None:
    environment: dict[str, Any] = {"assetAdministrationShells": [shell()], "submodels": [submodel()]}
    path = tmp_path / "environment.json"

    async def load() -> None:
        # A real `titan load` process: its rows reach this app's relay by its poll, not a wake-up.
        path.write_text(json.dumps(environment))
        # Only the core's events: the discovery plugin, where installed, adds an asset_link event to
        # every shell write (its own tests cover `titan load` with it), of a kind this app never loaded.
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "titan_core", "load", str(path), "--database-url", settings.database_url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "TITAN_DISABLE_PLUGINS": "discovery"},
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, output.decode()

    first = await events_caused_by(titan_client, load)
    assert summary(first) == [("created", "shell", None), ("created", "submodel", None)]
    assert {event["titanorigin"] for event in first} == {"load"}

    environment["submodels"][0]["submodelElements"][1]["value"] = "8"
    second = await events_caused_by(titan_client, load)
    assert summary(second) == [("updated", "submodel", None), ("valueChanged", "element", "Speed")]

    assert await events_caused_by(titan_client, load) == []  # loading the same file again: nothing
