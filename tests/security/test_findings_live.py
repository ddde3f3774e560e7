"""Issue 13's M3, L1 and L5 as the attack met them: against a real `titan serve` with authentication
on (API keys and HS256 JWTs). The variants are in test_token_scopes.py, test_events_access.py and
test_cursors.py, which run the app in-process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.live_server import LiveServer

from .live import ADMIN, module_server, unhandled_errors
from .twins import JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, OTHER_SM_ID, SM_ID, b64, bearer, shell, token

# Outside the scoped reader's `https://example.com/ids/*`, yet referencing its submodel SM_ID.
REFERRING_SHELL = "https://other.example/ids/aas/referring"
NO_SUCH_SHELL = "https://other.example/ids/aas/never-created"

pytestmark = pytest.mark.slow  # starts `titan serve` as a process


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from module_server(
        tmp_path_factory, jwt_secret=JWT_SECRET, jwt_issuer=JWT_ISSUER, jwt_audience=JWT_AUDIENCE
    )


def answer(server: LiveServer, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    """Status and JSON body of one request (a POST when `body` is given)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.base_url + path, data=data, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read() or b"null")


@pytest.mark.parametrize("claim", [[], "", "   "])
def test_m3_a_token_with_an_empty_scopes_claim_reads_no_submodel(server: LiveServer, claim: Any) -> None:
    headers = bearer(token("alice", ["reader"], extra={"titan_scopes": claim}))

    status, body = answer(server, f"/submodels/{b64(OTHER_SM_ID)}", headers)

    assert status == 403, body
    assert "titan_scopes" in body["messages"][0]["text"]


def test_l1_events_filtered_by_an_out_of_scope_shell_reveal_nothing(server: LiveServer) -> None:
    created, stored = answer(server, "/shells", ADMIN, shell(REFERRING_SHELL, SM_ID))
    assert created == 201, stored
    reader = bearer(token("line1", ["reader"], scopes=["https://example.com/ids/*"]))

    existing = answer(server, f"/events?shell_ids={quote(REFERRING_SHELL, safe='')}", reader)
    missing = answer(server, f"/events?shell_ids={quote(NO_SUCH_SHELL, safe='')}", reader)

    # Before the fix the existing shell's filter answered 200 with SM_ID's events, the missing one's
    # an empty page: the difference told that the shell exists.
    assert existing[0] == missing[0] == 403, (existing, missing)
    texts = [body["messages"][0]["text"] for _, body in (existing, missing)]
    assert texts[0].replace(REFERRING_SHELL, "<id>") == texts[1].replace(NO_SUCH_SHELL, "<id>"), texts


def test_l5_a_cursor_past_any_database_integer_is_400_not_500(server: LiveServer) -> None:
    status, body = answer(server, "/submodels?cursor=MTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA", ADMIN)

    assert status == 400, body
    assert "cursor" in body["messages"][0]["text"]
    assert unhandled_errors(server) == []
