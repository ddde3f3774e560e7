"""Every route the app serves, asked by every kind of caller: the documented 401, 403 or success
(docs/security.md), and a refused request never changes the database.

The routes are read from the app's router, so a new route is in this matrix without anyone adding it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.app import AppClient, AppClientFactory
from titan_core.keys import SETTINGS
from titan_core.plugins import TitanPluginManager
from titan_core.settings import Settings

from .routes import PUBLIC, ROOT_ONLY, UNNAMED, RouteRequest, route_request, served_routes
from .stored import load_twins, snapshot
from .twins import CD_ID, KEYS, SCOPE, SHELL_ID, SM_ID, api_key, bearer, token


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The matrix does not depend on the database backend: SQLite keeps it fast."""
    return f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"


ROUTES = [route_request(method, path) for method, path in served_routes()]
READS = [route for route in ROUTES if not route.is_write]
WRITES = [route for route in ROUTES if route.is_write]

Headers = dict[str, str]


def refused_callers() -> dict[str, tuple[Headers, int]]:
    """Callers that never get in, and the status they get.

    Minted when a test asks, never at import: a token "not valid yet" made at collection would have
    become valid by the time a slow run reached the test.
    """
    return {
        "anonymous": ({}, 401),
        "expired token": (bearer(token(roles=["admin"], expires_in=-120)), 401),
        "token not valid yet": (bearer(token(roles=["admin"], not_before_in=600)), 401),
        "wrong signature": (
            bearer(token(roles=["admin"], secret="another-secret-of-more-than-32-bytes!!")),
            401,
        ),
        "wrong audience": (bearer(token(roles=["admin"], audience="another-service")), 401),
        "wrong issuer": (bearer(token(roles=["admin"], issuer="https://evil.example")), 401),
        "unknown API key": ({"X-API-Key": "titan_" + "x" * 43}, 401),
        "garbage bearer": (bearer("not-a-credential"), 401),
        "token without roles": (bearer(token(roles=None)), 403),
    }


def allowed_callers() -> dict[str, Headers]:
    """Callers allowed everything they ask here (a writer reads, an admin writes); minted per test."""
    return {
        "writer key": api_key("writer"),
        "admin key": api_key("admin"),
        "writer token scoped to the twins": bearer(token(roles=["writer"], scopes=[SCOPE])),
    }


async def ask(client: AppClient, route: RouteRequest, headers: dict[str, str]) -> tuple[int, str]:
    response = await client.request(route.method, route.url, headers=headers, **route.body())
    return response.status, (await response.read()).decode("utf-8", "replace")


async def fresh_client(
    make: AppClientFactory, settings: Settings, plugins: TitanPluginManager, database: Path
) -> AppClient:
    """An app on a new SQLite database holding the twins."""
    client = await make(
        settings.replace(database_url=f"sqlite+aiosqlite:///{database}"), plugin_manager=plugins
    )
    await load_twins(client.server.app)
    return client


@pytest.mark.parametrize("route", READS, ids=str)
async def test_read_route_answers_each_caller_as_documented(
    secure_client: AppClient, route: RouteRequest
) -> None:
    app = secure_client.server.app
    before = await snapshot(app)

    for name, (headers, refusal) in refused_callers().items():
        status, text = await ask(secure_client, route, headers)
        expected = route.success if route.template in PUBLIC else refusal
        assert status == expected, f"{name}: {status} {text}"
    for name, headers in {
        "reader key": api_key("reader"),
        "reader token": bearer(token()),
        **allowed_callers(),
    }.items():
        status, text = await ask(secure_client, route, headers)
        assert status == route.success, f"{name}: {status} {text}"

    status, text = await ask(secure_client, route, api_key("outsider"))
    if route.names_a_twin:
        assert status == 403, text
        assert "outside its scopes" in text
    else:
        assert status == route.success, text
        for identifier in (SHELL_ID, SM_ID, CD_ID):
            assert identifier not in text, f"the outsider sees {identifier}"
    assert await snapshot(app) == before


@pytest.mark.parametrize("route", WRITES, ids=str)
async def test_write_route_refuses_callers_without_changing_anything_and_lets_writers_in(
    make_app_client: AppClientFactory,
    secure_settings: Settings,
    core_plugins: TitanPluginManager,
    route: RouteRequest,
    tmp_path: Path,
) -> None:
    client = await fresh_client(make_app_client, secure_settings, core_plugins, tmp_path / "first.sqlite3")
    app = client.server.app
    before = await snapshot(app)

    refused = {**refused_callers(), "reader key": (api_key("reader"), 403), "reader token": (bearer(token()), 403),
               "writer scoped elsewhere": (api_key("outsider"), 403)}  # fmt: skip
    for name, (headers, status_wanted) in refused.items():
        status, text = await ask(client, route, headers)
        assert status == status_wanted, f"{name}: {status} {text}"
        assert await snapshot(app) == before, f"{name} changed the database"

    for index, (name, headers) in enumerate(allowed_callers().items()):
        if index:
            # Each allowed caller writes to twins as they were at the start.
            client = await fresh_client(
                make_app_client, secure_settings, core_plugins, tmp_path / f"{index}.sqlite3"
            )
        status, text = await ask(client, route, headers)
        assert status == route.success, f"{name}: {status} {text}"


async def test_every_route_below_the_alias_prefix_is_guarded_too(secure_client: AppClient) -> None:
    prefix = secure_client.server.app[SETTINGS].api_prefix
    for route in ROUTES:
        if route.template in PUBLIC - {"/description"} or route.template in ROOT_ONLY:
            continue
        response = await secure_client.request(route.method, prefix + route.url, **route.body())
        wanted = route.success if route.template == "/description" else 401
        # status-only: the route table's guard is the point (401 without a credential, on every route).
        assert response.status == wanted, f"{route} below {prefix}: {response.status}"


def test_the_matrix_covers_every_kind_of_route() -> None:
    methods = {route.method for route in ROUTES}
    assert methods == {"GET", "POST", "PUT", "PATCH", "DELETE"}
    assert len(ROUTES) > 100
    assert {"/events", "/openapi.json", "/serialization"} <= {route.template for route in ROUTES}
    assert len(KEYS) == 4
    assert {route.template for route in ROUTES} >= UNNAMED
