"""No-op writes emit nothing, on the paths `test_writes_that_change_nothing_emit_nothing` does not
already cover: a concept description PUT, a whole-submodel PATCH, `$metadata` PATCHes, a body whose
keys come in another order, and an element PATCH (the async-aas text: an event SHOULD NOT be triggered
if an operation does not actually change the stored data). MQTT write-back: tests/mqtt; titan load:
test_write_event_table."""

from __future__ import annotations

from typing import Any

from tests.support.app import AppClient

from .helpers import CD_ID, SM_ID, b64, call, concept_description, events_caused_by, submodel

SUBMODEL = f"/submodels/{b64(SM_ID)}"
ELEMENTS = f"{SUBMODEL}/submodel-elements"


def reordered(document: Any) -> Any:
    """The same JSON with every object's keys in reverse order."""
    if isinstance(document, dict):
        return {key: reordered(document[key]) for key in reversed(list(document))}
    if isinstance(document, list):
        return [reordered(item) for item in document]
    return document


async def test_identical_writes_on_the_remaining_paths_emit_nothing(titan_client: AppClient) -> None:
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    await call(titan_client, "POST", "/concept-descriptions", 201, json=concept_description())
    stored = await call(titan_client, "GET", SUBMODEL, 200)
    speed = await call(titan_client, "GET", f"{ELEMENTS}/Speed", 200)

    async def no_ops() -> None:
        await call(
            titan_client, "PUT", f"/concept-descriptions/{b64(CD_ID)}", 204, json=concept_description()
        )
        await call(titan_client, "PATCH", SUBMODEL, 204, json=submodel())
        await call(titan_client, "PUT", SUBMODEL, 204, json=reordered(submodel()))
        await call(titan_client, "PUT", f"{ELEMENTS}/Speed", 204, json=reordered(speed))
        await call(titan_client, "PATCH", f"{ELEMENTS}/Speed", 204, json=speed)
        await call(titan_client, "PATCH", f"{SUBMODEL}/$metadata", 204, json={"idShort": stored["idShort"]})
        await call(titan_client, "PATCH", f"{ELEMENTS}/Speed/$metadata", 204, json={"idShort": "Speed"})

    caused = await events_caused_by(titan_client, no_ops)
    assert caused == [], [(e["type"], e.get("titanpath"), e.get("data")) for e in caused]
