"""A principal limited to identifier patterns reads, lists, writes and receives events of those twins
only: enforced in the Repository (every transport) and in the event feed."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from tests.support.app import AppClient, AppClientFactory
from titan_core.auth import ANONYMOUS, ROLE_READER, ROLE_WRITER, Principal
from titan_core.errors import Forbidden
from titan_core.keys import REPOSITORY
from titan_core.model.paths import parse_id_short_path
from titan_core.plugins import TitanPluginManager
from titan_core.settings import Settings
from titan_core.store.records import Attachment

from .stored import snapshot
from .twins import (
    OTHER_SHELL_ID,
    OTHER_SM_ID,
    SCOPE,
    SHELL_ID,
    SM_ID,
    api_key,
    b64,
    bearer,
    prop,
    shell,
    submodel,
    token,
)

INSIDE = Principal("line1", frozenset({ROLE_WRITER}), scopes=(SCOPE,))


async def all_pages(client: AppClient, path: str, headers: dict[str, str], limit: int) -> list[list[str]]:
    """The ids on every page of a list, page by page."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(path + query, headers=headers)
        assert response.status == 200, await response.text()
        body = await response.json()
        pages.append([item["id"] for item in body["result"]])
        cursor = body["paging_metadata"].get("cursor")
        if cursor is None:
            return pages


async def test_a_scoped_list_has_full_pages_of_its_own_twins_only(
    make_app_client: AppClientFactory, secure_settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await make_app_client(secure_settings, plugin_manager=core_plugins)
    repository = client.server.app[REPOSITORY]
    mine = [f"https://other.example/ids/sm/{n}" for n in range(5)]
    theirs = [f"https://example.com/ids/sm/{n}" for n in range(7)]
    for index in range(7):  # interleaved, so a page of the database holds both
        await repository.create("submodel", submodel(theirs[index]), origin="load", principal=ANONYMOUS)
        if index < len(mine):
            await repository.create("submodel", submodel(mine[index]), origin="load", principal=ANONYMOUS)

    outsider_pages = await all_pages(client, "/submodels", api_key("outsider"), limit=2)
    everyone_pages = await all_pages(client, "/submodels", api_key("reader"), limit=2)

    assert outsider_pages == [mine[0:2], mine[2:4], mine[4:5]]
    interleaved = [identifier for pair in zip(theirs, [*mine, "", ""], strict=True) for identifier in pair]
    assert list(itertools.chain.from_iterable(everyone_pages)) == [
        identifier for identifier in interleaved if identifier
    ]


@pytest.mark.parametrize(
    ("scope", "sees_other"),
    [
        ("https://other.example/*", True),
        ("https://OTHER.example/*", False),  # identifiers are case-sensitive, on SQLite too
        ("*press*", True),  # a leading wildcard: no prefix for the database to narrow by
        ("https://other.example/ids/sm/press-dat?", True),
        ("https://other.example/ids/[as][am]*", True),
        ("https://other.example/ids/aas/press", False),  # a shell's scope does not cover its submodel
    ],
)
async def test_scope_patterns_match_identifiers_exactly_in_lists(
    secure_client: AppClient, scope: str, sees_other: bool
) -> None:
    headers = bearer(token(roles=["reader"], scopes=[scope]))

    response = await secure_client.get("/submodels", headers=headers)

    assert response.status == 200
    ids = [item["id"] for item in (await response.json())["result"]]
    assert ids == ([OTHER_SM_ID] if sees_other else [])


async def test_serialization_leaves_out_twins_outside_the_scopes(secure_client: AppClient) -> None:
    response = await secure_client.get("/serialization", headers=api_key("outsider"))
    assert response.status == 200
    environment = await response.json()
    assert [item["id"] for item in environment["assetAdministrationShells"]] == [OTHER_SHELL_ID]
    assert [item["id"] for item in environment["submodels"]] == [OTHER_SM_ID]
    assert "conceptDescriptions" not in environment  # empty sections are left out

    named = await secure_client.get(f"/serialization?aasIds={b64(SHELL_ID)}", headers=api_key("outsider"))
    assert named.status == 403


async def test_a_superpath_needs_both_the_shell_and_the_submodel_in_scope(secure_client: AppClient) -> None:
    only_the_shell = bearer(token(roles=["reader"], scopes=[SHELL_ID]))
    both = bearer(token(roles=["reader"], scopes=[SHELL_ID, SM_ID]))
    path = f"/shells/{b64(SHELL_ID)}/submodels/{b64(SM_ID)}/submodel-elements/Temperature/$value"

    # status-only: the refusal that only the shell-only scope gets is the point (403 against 200 with both).
    assert (await secure_client.get(f"/shells/{b64(SHELL_ID)}", headers=only_the_shell)).status == 200
    assert (await secure_client.get(path, headers=only_the_shell)).status == 403
    assert (await secure_client.get(path, headers=both)).status == 200


async def test_repository_refuses_writes_outside_the_scopes_for_every_transport(
    secure_client: AppClient,
) -> None:
    """MQTT write-back and plugins write through the Repository with their principal: same rules."""
    app = secure_client.server.app
    repository = app[REPOSITORY]
    outsider = Principal("line2-gateway", frozenset({ROLE_WRITER}), scopes=("https://other.example/*",))
    reader = Principal("dashboard", frozenset({ROLE_READER}))
    path = parse_id_short_path("Temperature")
    before = await snapshot(app)

    writes: dict[str, Any] = {
        "value": lambda who: repository.set_element_value(SM_ID, path, 99.5, origin="mqtt", principal=who),
        "create": lambda who: repository.create("submodel", submodel(SCOPE[:-1] + "new"), origin="plugin:x",
                                                principal=who),
        "put": lambda who: repository.put("shell", SHELL_ID, shell(SHELL_ID, SM_ID), origin="rest", principal=who),
        "delete": lambda who: repository.delete("submodel", SM_ID, origin="rest", principal=who),
        "element": lambda who: repository.create_element(SM_ID, None, prop("X", "1"), origin="rest", principal=who),
        "thumbnail": lambda who: repository.put_thumbnail(SHELL_ID, Attachment("image/png", "t.png", b"x"),
                                                          origin="rest", principal=who),
    }  # fmt: skip
    for name, write in writes.items():
        for who in (outsider, reader):
            with pytest.raises(Forbidden):
                await write(who)
            assert await snapshot(app) == before, f"{name} by {who.subject} changed the database"

    await repository.set_element_value(SM_ID, path, 99.5, origin="mqtt", principal=INSIDE)
    assert (await repository.get("submodel", SM_ID, principal=ANONYMOUS)).document()["submodelElements"][0][
        "value"
    ] == "99.5"


async def test_repository_reads_check_the_principal(secure_client: AppClient) -> None:
    repository = secure_client.server.app[REPOSITORY]
    outsider = Principal("line2", frozenset({ROLE_READER}), scopes=("https://other.example/*",))
    nobody = Principal("nobody")

    with pytest.raises(Forbidden):
        await repository.get("shell", SHELL_ID, principal=outsider)
    with pytest.raises(Forbidden):
        await repository.get_attachment("shell", SHELL_ID, "", principal=outsider)
    with pytest.raises(Forbidden):
        await repository.page("shell", limit=10, principal=nobody)
    assert (await repository.get("shell", OTHER_SHELL_ID, principal=outsider)).identifier == OTHER_SHELL_ID


async def events_seen(client: AppClient, headers: dict[str, str], wanted: str) -> list[dict[str, Any]]:
    """The events the caller gets from /events, once the event about `wanted` has been published."""
    for _ in range(100):
        response = await client.get("/events?limit=1000", headers=headers)
        assert response.status == 200, await response.text()
        events: list[dict[str, Any]] = (await response.json())["result"]
        if any(event.get("titanid") == wanted and event["titanorigin"] == "rest" for event in events):
            return events
        await asyncio.sleep(0.05)
    raise AssertionError(f"no event about {wanted} within 5 s")


async def test_a_scoped_reader_never_sees_events_of_other_twins(secure_client: AppClient) -> None:
    writer = api_key("writer")
    for submodel_id in (OTHER_SM_ID, SM_ID):
        url = f"/submodels/{b64(submodel_id)}/submodel-elements/Temperature/$value"
        assert (await secure_client.patch(url, json=42.5, headers=writer)).status == 204

    scoped = await events_seen(secure_client, bearer(token(scopes=[SCOPE])), wanted=SM_ID)
    everyone = await events_seen(secure_client, api_key("reader"), wanted=SM_ID)

    assert {event["titanid"] for event in scoped} == {
        SHELL_ID,
        SM_ID,
        "https://example.com/ids/cd/temperature",
    }
    assert OTHER_SM_ID in {event["titanid"] for event in everyone}
    assert (await secure_client.get("/events", headers=bearer(token(roles=[])))).status == 403
    assert (await secure_client.get("/events")).status == 401
