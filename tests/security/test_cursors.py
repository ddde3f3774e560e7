"""A cursor naming a position no database integer holds is a clear 400 on every paged route and on
both backends (issue 13, L5), never a 500 from an integer overflow in SQLite or PostgreSQL."""

from __future__ import annotations

import base64

import pytest

from tests.support.app import AppClient, AppClientFactory
from titan_core.plugins import TitanPluginManager
from titan_core.settings import Settings

from .stored import started_with_twins
from .twins import SHELL_ID, SM_ID, b64


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


HOSTILE_CURSORS = [
    "MTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA",  # 10^32, as the attack sent it
    cursor_of(str(2**63)),  # one past the largest 64-bit integer
    cursor_of(str(2**64 + 1)),
    cursor_of("-1"),
    cursor_of("1_000"),
    cursor_of(" 12"),
    cursor_of("12") + "." + cursor_of(str(10**30)),  # the two-part cursor of the $path lists
]


@pytest.fixture
async def client(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager
) -> AppClient:
    return await started_with_twins(make_app_client, settings, core_plugins)


async def paged_routes(client: AppClient) -> list[str]:
    """Every GET route whose OpenAPI operation takes a `cursor`, with the twins' ids filled in."""
    document = await (await client.get("/openapi.json")).json()
    routes = []
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if not isinstance(get, dict):
            continue
        parameters = [*get.get("parameters", []), *operations.get("parameters", [])]
        if any("cursor" in str(parameter).lower() for parameter in parameters):
            routes.append(
                path.replace("{aasIdentifier}", b64(SHELL_ID)).replace("{submodelIdentifier}", b64(SM_ID))
            )
    assert len(routes) >= 15, f"the OpenAPI document lists fewer paged routes than Titan serves: {routes}"
    return routes


async def test_a_cursor_beyond_any_database_integer_is_400_on_every_paged_route(client: AppClient) -> None:
    answers = {}
    for route in await paged_routes(client):
        for cursor in HOSTILE_CURSORS:
            response = await client.get(f"{route}?cursor={cursor}")
            body = await response.json()
            answers[(route, cursor)] = (
                response.status,
                body["messages"][0]["text"] if "messages" in body else body,
            )

    wrong = {
        key: answer for key, answer in answers.items() if answer[0] != 400 or "cursor" not in str(answer[1])
    }
    assert not wrong, wrong


async def test_the_cursors_the_server_hands_out_still_page(client: AppClient) -> None:
    first = await (await client.get("/submodels?limit=1")).json()
    cursor = first["paging_metadata"]["cursor"]

    second = await client.get(f"/submodels?limit=1&cursor={cursor}")

    assert second.status == 200
    assert [item["id"] for item in (await second.json())["result"]] != [
        item["id"] for item in first["result"]
    ]
