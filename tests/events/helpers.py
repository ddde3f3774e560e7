"""Helpers of the event tests: reading `/events`, validating envelopes, documents. The recording sink
is the kit's (`titan_core.testing.RecordingSink`)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from itertools import count
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1.http import from_json

from tests.support import twins
from tests.support.app import AppClient
from tests.support.twins import b64 as b64  # re-exported: the area's tests import it from here
from tests.support.twins import reading as prop  # this area's Property: a double, 1.5 by default
from titan_core.eventtypes.schema import validate_envelope

PREFIX = "io.admin-shell.events.v1."
_markers = count(1)


def assert_valid_event(published: bytes | Mapping[str, Any]) -> dict[str, Any]:
    """The envelope validates against the marshmallow schema and parses with the CloudEvents SDK."""
    data = published if isinstance(published, bytes) else json.dumps(published).encode()
    envelope: dict[str, Any] = json.loads(data)
    validate_envelope(envelope)
    parsed = JSONFormat().read(None, data)
    attributes = parsed.get_attributes()
    assert attributes["id"] == envelope["id"]
    assert attributes["type"] == envelope["type"]
    assert attributes["titanseq"] == envelope["titanseq"]
    assert parsed.get_data() == envelope.get("data")
    legacy = from_json(data)
    assert legacy["source"] == envelope["source"]
    return envelope


async def read_events(client: AppClient, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """One `GET /events` answer: the envelopes (each validated) and the cursor."""
    response = await client.get("/events", params={k: str(v) for k, v in params.items()})
    assert response.status == 200, await response.text()
    body = await response.json()
    return [assert_valid_event(item) for item in body["result"]], body["paging_metadata"]["cursor"]


async def wait_events(
    client: AppClient, after: int, count_: int, *, timeout: float = 10.0, **filters: Any
) -> list[dict[str, Any]]:
    """Events after `after` (matching `filters`) until `count_` came; fails after `timeout` s."""
    found: list[dict[str, Any]] = []
    cursor = after
    deadline = time.monotonic() + timeout
    while len(found) < count_:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"only {len(found)} of {count_} events arrived: {found}")
        batch, cursor_text = await read_events(
            client, after=cursor, wait=min(remaining, 2), limit=1000, **filters
        )
        found.extend(batch)
        cursor = int(cursor_text)
    return found


async def write_marker(client: AppClient) -> int:
    """Create a concept description no test looks at, and return its event's titanseq.

    Writes are committed one after the other, so the marker's event comes after every earlier write's.
    """
    marker_id = f"urn:titan-test:marker:{next(_markers)}:{time.time_ns()}"
    response = await client.post(
        "/concept-descriptions", json={"modelType": "ConceptDescription", "id": marker_id}
    )
    assert response.status == 201, await response.text()
    (event,) = await wait_events(client, 0, 1, ids=marker_id)
    return int(event["titanseq"])


async def events_caused_by(client: AppClient, action: Callable[[], Awaitable[Any]]) -> list[dict[str, Any]]:
    """Exactly the events of `action`'s writes: those between a marker before and one after."""
    before = await write_marker(client)
    await action()
    after = await write_marker(client)
    events = await wait_events(client, before, after - before)
    return [event for event in events if int(event["titanseq"]) < after]


def summary(events: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str | None]]:
    """(short type, entity, path) of each event, for compact assertions."""
    return [(e["type"].removeprefix(PREFIX), e["titanentity"], e.get("titanpath")) for e in events]


async def call(client: AppClient, method: str, url: str, expected: int, **kwargs: Any) -> Any:
    response = await client.request(method, url, **kwargs)
    text = await response.text()
    assert response.status == expected, f"{method} {url}: {response.status} {text}"
    return json.loads(text) if text else None


async def publish_speed_writes(client: AppClient, writes: int) -> None:
    """POST the area's submodel, PATCH its Speed `writes` times (10, 11, …) and wait until all those
    events are published (titanseq 1 to 1 + `writes`)."""
    await call(client, "POST", "/submodels", 201, json=submodel())
    for value in range(writes):
        await call(client, "PATCH", f"{ELEMENTS}/Speed/$value", 204, json=value + 10)
    await wait_events(client, writes, 1)


# --- documents --------------------------------------------------------------------------------------

SHELL_ID = "https://example.com/ids/aas/events-1"
SM_ID = "https://example.com/ids/sm/events-1"
SM2_ID = "https://example.com/ids/sm/events-2"
CD_ID = "https://example.com/ids/cd/events-1"
SEMANTIC = "0173-1#02-AAO677#002"
ELEMENTS = f"/submodels/{b64(SM_ID)}/submodel-elements"


def shell(shell_id: str = SHELL_ID, submodels: Sequence[str] = ()) -> dict[str, Any]:
    return twins.shell(shell_id, submodels, id_short="EventsShell")


def semantic(value: str = SEMANTIC) -> dict[str, Any]:
    return {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": value}]}


def submodel(submodel_id: str = SM_ID, elements: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    if elements is None:
        elements = [
            prop("Temperature", "20.5", semanticId=semantic()),
            prop("Speed", "3", value_type="xs:int"),
            *twins.box_and_series(),
            {
                "modelType": "Blob",
                "idShort": "Raw",
                "contentType": "application/octet-stream",
                "value": "AAEC",
            },
        ]
    return {
        "modelType": "Submodel",
        "id": submodel_id,
        "idShort": "EventsSubmodel",
        "semanticId": semantic("urn:sm-semantic"),
        "submodelElements": list(elements),
    }


def concept_description(cd_id: str = CD_ID, id_short: str = "Temp") -> dict[str, Any]:
    return {"modelType": "ConceptDescription", "id": cd_id, "idShort": id_short}
