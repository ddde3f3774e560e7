"""The SSE transport as its author tests it: only `titan_core.testing` fixtures and helpers, a real
app with the plugin loaded through its entry point, real REST writes, the stream read as a client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import ClientResponse

from titan_core.testing import AppClient, TitanClients, plugin_manager_with, wait_for_delivery

SHELL_ID = "https://example.com/ids/aas/sse-1"
SUBMODEL_ID = "https://example.com/ids/sm/sse-1"
TEMPERATURE_PATH = (
    "/submodels/aHR0cHM6Ly9leGFtcGxlLmNvbS9pZHMvc20vc3NlLTE/submodel-elements/Temperature/$value"
)


def shell(shell_id: str = SHELL_ID) -> dict[str, Any]:
    return {
        "modelType": "AssetAdministrationShell",
        "id": shell_id,
        "assetInformation": {"assetKind": "Instance", "globalAssetId": shell_id + "/asset"},
    }


SUBMODEL = {
    "modelType": "Submodel",
    "id": SUBMODEL_ID,
    "submodelElements": [
        {"modelType": "Property", "idShort": "Temperature", "valueType": "xs:double", "value": "20.5"}
    ],
}


class SseReader:
    """Reads SSE messages off a streaming response: (id, event, data) with `data` parsed as JSON."""

    def __init__(self, response: ClientResponse) -> None:
        self.response = response
        self.messages: list[tuple[str, str, dict[str, Any]]] = []

    async def read(self, count: int, timeout: float = 10.0) -> list[tuple[str, str, dict[str, Any]]]:
        async def one() -> None:
            fields: dict[str, str] = {}
            while True:
                line = (await self.response.content.readline()).decode().rstrip("\n")
                if not line:
                    if fields:
                        self.messages.append(
                            (fields.get("id", ""), fields["event"], json.loads(fields["data"]))
                        )
                        return
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value

        async def enough() -> bool:
            await asyncio.wait_for(one(), timeout)
            return len(self.messages) >= count

        await wait_for_delivery(
            enough, timeout=timeout, message=lambda: f"SSE messages so far: {self.messages}"
        )
        return self.messages[:count]


async def post(client: AppClient, path: str, body: Any, expected: int = 201) -> None:
    response = await client.post(path, json=body)
    assert response.status == expected, await response.text()


@pytest.fixture
async def sse_client(make_titan_client: TitanClients) -> AppClient:
    """An app with the plugin, loaded through its `titan` entry point as Titan would load it."""
    return await make_titan_client(plugins=["sse"])


def test_the_plugin_is_found_through_its_entry_point_and_fits_the_plugin_api(titan_settings: Any) -> None:
    manager = plugin_manager_with(titan_settings, ["sse"])

    record = next(record for record in manager.records if record.name == "sse")

    assert (record.state, record.distribution, record.hooks) == (
        "loaded",
        "titan-example-sse",
        ("titan_setup_app",),
    )


async def test_a_rest_write_arrives_as_an_sse_message_with_its_titanseq(sse_client: AppClient) -> None:
    response = await sse_client.get("/sse/events")
    assert response.headers["Content-Type"] == "text/event-stream"
    stream = SseReader(response)

    await post(sse_client, "/shells", shell())

    ((seq, kind, envelope),) = await stream.read(1)
    assert (kind, envelope["type"], envelope["titanid"]) == (
        "created",
        "io.admin-shell.events.v1.created",
        SHELL_ID,
    )
    assert seq == envelope["titanseq"]


async def test_filters_and_last_event_id_resume_with_no_gap_and_no_duplicate(sse_client: AppClient) -> None:
    await post(sse_client, "/submodels", SUBMODEL)
    first = SseReader(await sse_client.get("/sse/events", params={"types": "valueChanged", "since": "0"}))
    for value in ("21", "22"):
        response = await sse_client.patch(TEMPERATURE_PATH, json=float(value))
        assert response.status == 204, await response.text()
    (seen_id, _, seen), _ = await first.read(2)
    first.response.close()  # the connection drops after the first message was handled

    response = await sse_client.patch(TEMPERATURE_PATH, json=23.0)
    assert response.status == 204, await response.text()
    resumed = SseReader(
        await sse_client.get(
            "/sse/events", params={"types": "valueChanged"}, headers={"Last-Event-ID": seen_id}
        )
    )

    assert seen["data"] == 21.0
    assert [envelope["data"] for _, _, envelope in await resumed.read(2)] == [22.0, 23.0]
    assert {kind for _, kind, _ in resumed.messages} == {"valueChanged"}


async def test_a_bad_position_is_refused_saying_what_is_accepted(sse_client: AppClient) -> None:
    response = await sse_client.get("/sse/events", params={"since": "yesterday"})

    assert response.status == 400
    assert "pass a titanseq (decimal digits)" in (await response.json())["messages"][0]["text"]


async def test_a_misspelt_setting_takes_the_plugin_out_naming_it(
    make_titan_client: TitanClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TITAN_SSE_PATHS", "/x")

    client = await make_titan_client(plugins=["sse"])

    record = next(
        plugin for plugin in (await (await client.get("/ready")).json())["plugins"] if plugin["name"] == "sse"
    )
    assert record["state"] == "failed"
    assert "unknown sse setting(s) paths (TITAN_SSE_PATHS); known: path" in record["reason"]
