"""`GET /events` reveals nothing outside the caller's scopes (issue 13, L1): a filter naming an
out-of-scope shell or twin is refused 403 as the WebSocket refuses it, alike for one that exists and
one that does not. A long poll ends when the caller's token expires (informational finding)."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from tests.support.app import AppClient

from .twins import OTHER_SHELL_ID, OTHER_SM_ID, SHELL_ID, SM_ID, api_key, b64, bearer, token

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
NO_SUCH_SHELL = "https://other.example/ids/aas/never-created"


async def refusal(client: AppClient, query: str) -> tuple[int, str]:
    """Status and message of `/events?<query>` for a reader limited to https://example.com/ids/*,
    with the named out-of-scope id blanked out (the rest must not differ)."""
    headers = bearer(token("line1", ["reader"], scopes=["https://example.com/ids/*"]))
    response = await client.get(f"/events?{query}", headers=headers)
    body = await response.json()
    text = body["messages"][0]["text"] if "messages" in body else repr(body)
    return response.status, re.sub(r"'https://other\.example/[^']*'", "<id>", text)


@SQLITE_ONLY
async def test_an_out_of_scope_shell_filter_is_refused_alike_whether_the_shell_exists(
    secure_client: AppClient,
) -> None:
    # Events of the in-scope submodel exist; the out-of-scope shell references another one.
    changed = await secure_client.patch(
        f"/submodels/{b64(OTHER_SM_ID)}/submodel-elements/Temperature/$value",
        json="30.5",
        headers=api_key("admin"),
    )
    assert changed.status == 204, await changed.text()

    existing = await refusal(secure_client, f"shell_ids={OTHER_SHELL_ID}")
    missing = await refusal(secure_client, f"shell_ids={NO_SUCH_SHELL}")
    by_id = await refusal(secure_client, f"ids={OTHER_SM_ID}")

    assert existing[0] == 403, existing
    assert existing == missing
    assert by_id[0] == 403


@SQLITE_ONLY
async def test_an_in_scope_shell_filter_still_works(secure_client: AppClient) -> None:
    headers = bearer(token("line1", ["reader"], scopes=["https://example.com/ids/*"]))
    response = await secure_client.get(f"/events?shell_ids={SHELL_ID}", headers=headers)
    assert response.status == 200, await response.text()
    twins = {event["titanid"] for event in (await response.json())["result"]}
    assert twins == {SHELL_ID, SM_ID}, "the filter should give the pump's shell and submodel events"


@SQLITE_ONLY
async def test_a_long_poll_ends_when_the_token_expires(secure_client: AppClient) -> None:
    after = (await secure_client.get("/events?limit=1", headers=api_key("reader"))).headers["X-Titan-Seq"]
    expiring = bearer(token("alice", ["reader"], expires_in=2))
    started = time.monotonic()

    # events_max_wait is 60 s: without the token's end the answer would come after a minute.
    response = await asyncio.wait_for(
        secure_client.get(f"/events?after={after}&wait=60", headers=expiring), timeout=30
    )
    body = await response.json()

    assert response.status == 200 and body["result"] == [], body
    assert time.monotonic() - started < 30, "the long poll outlived the token by far"
