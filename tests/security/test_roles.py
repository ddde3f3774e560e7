"""Roles include the ones below them, scopes are shell-style patterns, and routes say what they need:
by HTTP method, or as a plugin marks them (`public`, `requires_role`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from tests.support.app import AppClientFactory
from titan_core import hookimpl
from titan_core.auth import (
    ANONYMOUS,
    ROLE_ADMIN,
    ROLE_READER,
    ROLE_WRITER,
    Principal,
    may_read,
    public,
    requires_role,
)
from titan_core.keys import HOOKS
from titan_core.plugins import TitanPluginManager
from titan_core.settings import Settings

from .twins import SHELL_ID, api_key, b64, bearer, token


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"


def test_each_role_includes_the_ones_below_it() -> None:
    reader, writer, admin = (
        Principal(name, frozenset({name})) for name in (ROLE_READER, ROLE_WRITER, ROLE_ADMIN)
    )

    assert [reader.has_role(role) for role in (ROLE_READER, ROLE_WRITER, ROLE_ADMIN)] == [True, False, False]
    assert [writer.has_role(role) for role in (ROLE_READER, ROLE_WRITER, ROLE_ADMIN)] == [True, True, False]
    assert [admin.has_role(role) for role in (ROLE_READER, ROLE_WRITER, ROLE_ADMIN)] == [True, True, True]
    assert Principal("x", frozenset({"dashboard"})).has_role("dashboard")
    assert not Principal("nobody").has_role(ROLE_READER)
    assert ANONYMOUS.has_role(ROLE_ADMIN) and not ANONYMOUS.scopes


def test_an_event_is_readable_by_readers_whose_scopes_cover_its_twin() -> None:
    event = {"titanid": "https://plant/line1/sm", "titanentity": "element", "titanpath": "Speed"}

    assert may_read(Principal("a", frozenset({ROLE_READER})), event)
    assert may_read(Principal("a", frozenset({ROLE_WRITER}), scopes=("https://plant/line1/*",)), event)
    assert not may_read(Principal("a", frozenset({ROLE_READER}), scopes=("https://plant/line2/*",)), event)
    assert not may_read(Principal("a", frozenset({ROLE_READER}), scopes=("https://PLANT/line1/*",)), event)
    assert not may_read(Principal("a"), event)
    assert not may_read(Principal("a", frozenset({ROLE_READER}), scopes=("*",)), {"titanid": None})


def test_an_unknown_role_cannot_be_required() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        requires_role("root")


class MarkedRoutes:
    """A plugin with an admin route and a public one."""

    @hookimpl
    def titan_setup_app(self, app: web.Application) -> None:
        @requires_role(ROLE_ADMIN)
        async def purge(request: web.Request) -> web.Response:
            return web.json_response({"purged": True})

        @public
        async def status(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        app.router.add_get("/admin/purge", purge)
        app.router.add_get("/plugin-status", status)


async def test_plugins_mark_admin_routes_and_public_routes(
    make_app_client: AppClientFactory, secure_settings: Settings, core_plugins: TitanPluginManager
) -> None:
    core_plugins.add_plugin(MarkedRoutes(), "marked")
    client = await make_app_client(secure_settings, plugin_manager=core_plugins)

    # status-only: refusals that only these identities get are the point (writer 403, admin 200, none 401).
    assert (await client.get("/admin/purge", headers=api_key("writer"))).status == 403
    assert (await client.get("/admin/purge", headers=bearer(token(roles=["admin"])))).status == 200
    assert (await client.get("/admin/purge")).status == 401
    assert (await client.get("/plugin-status")).status == 200


async def test_anonymous_roles_open_reads_and_still_ask_writers_for_a_credential(
    make_app_client: AppClientFactory, secure_settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await make_app_client(secure_settings.replace(auth_anonymous_roles=("reader",)),
                                   plugin_manager=core_plugins)  # fmt: skip

    assert (await client.get("/shells")).status == 200
    refused = await client.delete(f"/shells/{b64(SHELL_ID)}")
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="titan"'
    assert (await client.get("/shells", headers=bearer("garbage.token.here"))).status == 401


async def test_with_authentication_off_everyone_is_the_anonymous_admin(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager
) -> None:
    # Events name who made each change (`titansubject`): that is who the server thought the caller was.
    client = await make_app_client(settings.replace(events_include_subject=True), plugin_manager=core_plugins)

    response = await client.post("/concept-descriptions", json={"modelType": "ConceptDescription", "id": "urn:cd"},
                                 headers=bearer("ignored, since nobody checks"))  # fmt: skip
    events = await client.get("/events")

    assert response.status == 201, await response.text()
    assert [(event["titanid"], event["titansubject"]) for event in (await events.json())["result"]] == [
        ("urn:cd", "anonymous")
    ]


async def test_a_plugin_scheme_answers_before_the_built_ins_and_may_refuse_with_403(
    make_app_client: AppClientFactory, secure_settings: Settings, core_plugins: TitanPluginManager
) -> None:
    class Blocked(Exception):
        status = 403

    class Certificates:
        @hookimpl
        def titan_authenticate(self, request: web.Request, token: str | None) -> Principal | None:
            if token == "Cert line1":
                return Principal("line1", frozenset({ROLE_READER}))
            if token == "Cert revoked":
                raise Blocked("the certificate was revoked")
            return None

    core_plugins.add_plugin(Certificates(), "certificates")
    client = await make_app_client(secure_settings, plugin_manager=core_plugins)

    assert (await client.get("/shells", headers={"Authorization": "Cert line1"})).status == 200
    revoked = await client.get("/shells", headers={"Authorization": "Cert revoked"})
    assert revoked.status == 403 and "revoked" in (await revoked.json())["messages"][0]["text"]
    assert (await client.get("/shells", headers={"Authorization": "Cert unknown"})).status == 401
    assert (await client.get("/shells", headers=api_key("reader"))).status == 200


async def test_with_authentication_off_transports_can_still_check_configured_credentials(
    make_app_client: AppClientFactory, secure_settings: Settings, core_plugins: TitanPluginManager
) -> None:
    """The WebSocket plugin may require tokens (`require_auth`) while REST stays open."""

    class WhoAmI:
        @hookimpl
        def titan_setup_app(self, app: web.Application) -> None:
            async def whoami(request: web.Request) -> web.Response:
                principal = await request.app[HOOKS].authenticate(request, request.headers.get("X-API-Key"))
                return web.json_response({"subject": principal.subject if principal else None})

            app.router.add_get("/whoami", whoami)

    core_plugins.add_plugin(WhoAmI(), "whoami")
    client = await make_app_client(secure_settings.replace(auth_enabled=False), plugin_manager=core_plugins)

    assert await (await client.get("/whoami", headers=api_key("reader"))).json() == {"subject": "dashboard"}
    assert await (await client.get("/whoami")).json() == {"subject": None}
