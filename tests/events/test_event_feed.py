"""The Event Feed (`GET /event-feed`, `/.well-known/event-feed.json`): cursor paging over 10,000 events
loses and repeats nothing; COMPACT vs FULL; the RSQL filter on `type` and on
`data.semanticId.keys[*].value` returns exactly the matching events; scopes hide other twins' events
without a trace; bad parameters are refused with what is accepted."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from tests.support.app import AppClient
from titan_core.auth import ANONYMOUS
from titan_core.credentials.api_keys import config_entry, hash_api_key
from titan_core.keys import REPOSITORY
from titan_core.model.paths import parse_id_short_path
from titan_core.settings import Settings

from .helpers import SM_ID, b64, call, prop, submodel, write_marker

OTHER_SM = "https://example.com/ids/sm/events-other"
SEMANTIC_A = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:first"},
                                                    {"type": "GlobalReference", "value": "urn:sem:A"}]}  # fmt: skip


async def feed(client: AppClient, expected: int = 200, **params: Any) -> Any:
    return await call(client, "GET", "/event-feed", expected, params=params)


async def all_records(client: AppClient, **params: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100_000):
        page = await feed(client, **params, **({"cursor": cursor} if cursor else {}))
        records += page["records"]
        if "cursor" not in page or (not page["records"] and page["cursor"] == cursor):
            return records
        cursor = page["cursor"]
    raise AssertionError("the feed never ended")


async def test_paging_through_10000_events_loses_and_repeats_nothing(
    make_titan_client: Any, settings: Settings
) -> None:
    # Retention above the count: this is about paging, not about expiry.
    titan_client = await make_titan_client(settings.replace(event_retention=20_000))
    await call(titan_client, "POST", "/submodels", 201, json=submodel())
    repository = titan_client.app[REPOSITORY]
    path = parse_id_short_path("Speed")
    for start in range(1, 10_001, 100):  # concurrent writes, committed in groups, as devices make them
        await asyncio.gather(
            *(
                repository.set_element_value(SM_ID, path, value, origin="rest", principal=ANONYMOUS)
                for value in range(start, start + 100)
            )
        )
    last = await write_marker(titan_client)

    seen: list[int] = []
    cursor: str | None = None
    while True:
        page = await feed(titan_client, limit=997, **({"cursor": cursor} if cursor else {}))
        seen += [int(record["titanseq"]) for record in page["records"]]
        if not page["records"]:
            break
        cursor = page["cursor"]
    assert seen == list(range(1, last + 1))


async def test_compact_and_full_presentations(titan_client: AppClient) -> None:
    element = {**prop("Tagged", "1"), "semanticId": SEMANTIC_A}
    await call(titan_client, "POST", "/submodels", 201, json=submodel(elements=[element]))
    await call(
        titan_client, "PATCH", f"/submodels/{b64(SM_ID)}/submodel-elements/Tagged/$value", 204, json=2.5
    )
    await write_marker(titan_client)

    full = (await feed(titan_client, filter="type==io.admin-shell.submodelelement.valuechanged.v1"))[
        "records"
    ]
    compact = (await feed(titan_client, presentation="COMPACT", filter=f"subject=='{SM_ID}'"))["records"]

    (changed,) = full
    assert (changed["data"]["idShort"], changed["data"]["value"], changed["semanticid"]) == (
        "Tagged",
        "2.5",
        "urn:first",
    )
    assert changed["dataschema"].endswith("#/components/schemas/Property")
    assert changed["subject"] == SM_ID and changed["source"].endswith("/submodel-elements/Tagged")
    assert [record["type"] for record in compact] == [
        "io.admin-shell.submodel.created.v1", "io.admin-shell.submodelelement.valuechanged.v1"
    ]  # fmt: skip
    assert compact[0]["data"] == {"id": SM_ID, "semanticId": submodel()["semanticId"]}
    assert compact[1]["data"] == {"id": SM_ID, "idShortPath": "Tagged", "semanticId": SEMANTIC_A}


async def test_the_filter_returns_exactly_the_matching_events(titan_client: AppClient) -> None:
    tagged = {**prop("Tagged", "1"), "semanticId": SEMANTIC_A}
    await call(titan_client, "POST", "/submodels", 201, json=submodel(elements=[tagged, prop("Speed", "1")]))
    await call(titan_client, "POST", "/submodels", 201, json=submodel(OTHER_SM))
    elements = f"/submodels/{b64(SM_ID)}/submodel-elements"
    for value in (2, 3):
        await call(titan_client, "PATCH", f"{elements}/Tagged/$value", 204, json=value)
        await call(titan_client, "PATCH", f"{elements}/Speed/$value", 204, json=value)
    await write_marker(titan_client)

    by_key = await all_records(titan_client, filter="data.semanticId.keys[*].value==urn:sem:A")
    assert [(r["type"], r["data"].get("value")) for r in by_key] == [
        ("io.admin-shell.submodelelement.valuechanged.v1", "2"),
        ("io.admin-shell.submodelelement.valuechanged.v1", "3"),
    ]
    created = await all_records(titan_client, filter="type==io.admin-shell.submodel.created.v1")
    assert [r["subject"] for r in created] == [SM_ID, OTHER_SM]
    either = await all_records(
        titan_client,
        filter="type==io.admin-shell.submodel.created.v1,data.semanticId.keys[*].value=in=(urn:first)",
    )
    assert len(either) == 4
    neither = await all_records(
        titan_client,
        filter="type!=io.admin-shell.submodelelement.valuechanged.v1;subject==" + f"'{OTHER_SM}'",
    )
    assert [r["type"] for r in neither] == ["io.admin-shell.submodel.created.v1"]


async def test_filters_of_one_shape_with_other_values_each_match_their_own(titan_client: AppClient) -> None:
    """The semanticId condition is compiled once per shape and cached: the values must not be."""
    other = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:sem:B"}]}
    elements = [{**prop("A", "1"), "semanticId": SEMANTIC_A}, {**prop("B", "1"), "semanticId": other}]
    await call(titan_client, "POST", "/submodels", 201, json=submodel(elements=elements))
    for name in ("A", "B"):
        await call(
            titan_client, "PATCH", f"/submodels/{b64(SM_ID)}/submodel-elements/{name}/$value", 204, json=2
        )
    await write_marker(titan_client)

    def paths(records: list[dict[str, Any]]) -> list[str]:
        return [record["data"]["idShortPath"] for record in records]

    key = "data.semanticId.keys[*].value"
    for _ in range(2):  # the second round runs on the cached statements
        assert paths(await all_records(titan_client, filter=f"{key}==urn:sem:A", presentation="COMPACT")) == [
            "A"
        ]
        assert paths(await all_records(titan_client, filter=f"{key}==urn:sem:B", presentation="COMPACT")) == [
            "B"
        ]
        both = await all_records(
            titan_client, filter=f"{key}=in=(urn:sem:B,urn:first)", presentation="COMPACT"
        )
        assert paths(both) == ["A", "B"]
        assert (
            paths(await all_records(titan_client, filter=f"{key}=in=(urn:none)", presentation="COMPACT"))
            == []
        )


async def test_scopes_hide_other_twins_and_filters_do_not_reveal_them(
    make_titan_client: Any, settings: Settings
) -> None:
    key = secrets.token_urlsafe(24)
    entry = config_entry(hash_api_key(key), "scoped", ["reader", "writer"], [OTHER_SM])
    admin_key = secrets.token_urlsafe(24)
    admin = config_entry(hash_api_key(admin_key), "admin", ["admin"])
    client = await make_titan_client(
        settings.replace(auth_enabled=True, api_keys=(entry, admin), insecure_no_auth=True)
    )
    as_admin = {"X-API-Key": admin_key}
    await call(client, "POST", "/submodels", 201, json=submodel(), headers=as_admin)
    await call(client, "POST", "/submodels", 201, json=submodel(OTHER_SM), headers=as_admin)

    async def scoped_feed(**params: Any) -> list[dict[str, Any]]:
        page = await call(client, "GET", "/event-feed", 200, params=params, headers={"X-API-Key": key})
        return list(page["records"])

    async def both_published() -> None:
        while len((await call(client, "GET", "/event-feed", 200, headers=as_admin))["records"]) < 2:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(both_published(), 10)
    assert [r["subject"] for r in await scoped_feed()] == [OTHER_SM]
    assert await scoped_feed(filter=f"subject=='{SM_ID}'") == []
    assert await scoped_feed(filter="type==io.admin-shell.submodel.created.v1", presentation="COMPACT") == [
        (await scoped_feed(presentation="COMPACT"))[0]
    ]


async def test_bad_parameters_are_refused_with_what_is_accepted(titan_client: AppClient) -> None:
    cases = {
        "presentation": ("SHORT", "accepted: FULL, COMPACT"),
        "limit": ("0", "from 1 to 1000"),
        "cursor": ("abc", "cursor of the previous page"),
        "since": ("yesterday", "RFC 3339"),
        "filter": ("typ==x", "filterable: type, subject"),
        "after": ("1", "accepted: cursor, limit, since, filter, presentation"),
    }
    for name, (value, message) in cases.items():
        body = await feed(titan_client, 400, **{name: value})
        assert message in body["messages"][0]["text"], (name, body)


async def test_discovery_describes_the_feed(titan_client: AppClient) -> None:
    described = await call(titan_client, "GET", "/.well-known/event-feed.json", 200)
    assert described["feed"].endswith("/event-feed")
    assert "io.admin-shell.submodel.updated.v1" in described["eventTypes"]
    assert "data.semanticId.keys[*].value" in described["filter"]["filterableFields"]
    assert described["presentation"] == {"supported": ["FULL", "COMPACT"], "default": "FULL"}
    schema = await call(titan_client, "GET", "/event-feed/schemas/compact.v1.json", 200)
    assert schema["required"] == ["id"]
