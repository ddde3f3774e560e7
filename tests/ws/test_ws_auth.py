"""Authentication, token expiry and the Origin allowlist of `/ws/events`: the upgrade is always
accepted, and refusals are close codes 4401, 4403 and 4408 (DESIGN §4), live, with both clients."""

from __future__ import annotations

import asyncio
import logging

import pytest

from titan_core.auth import ALL_ROLES, ROLE_READER
from titan_core.credentials.api_keys import config_entry, hash_api_key
from titan_core.settings import Settings

from .helpers import WsServer, WsServerFactory
from .ws_clients import expect_close, receive_type, subscribe

REQUIRE_AUTH = {"require_auth": True}
# The principals the token plugin (helpers.PRINCIPALS) and the core's API key give.
READER = ("reader", frozenset({ROLE_READER}))
KEY_HOLDER = ("dashboard", frozenset({ROLE_READER}))


async def auth_server(make_ws_server: WsServerFactory, **ws: object) -> WsServer:
    return await make_ws_server(ws={**REQUIRE_AUTH, **ws}, tokens=True)


async def test_with_auth_off_a_client_without_token_is_anonymous(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await make_ws_server(tokens=True)
    client = await server.connect(client_kind)

    await receive_type(client, "welcome")
    await subscribe(client, "s")
    assert server.principals() == [("anonymous", ALL_ROLES)]


async def test_token_in_the_query_string_authenticates(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await auth_server(make_ws_server)
    client = await server.connect(client_kind, query="?token=reader-token")

    await receive_type(client, "welcome")
    await subscribe(client, "s")
    assert server.principals() == [READER]


async def test_authorization_header_authenticates_non_browser_clients(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await auth_server(make_ws_server)
    client = await server.connect(client_kind, headers={"Authorization": "Bearer reader-token"})

    await receive_type(client, "welcome")
    assert server.principals() == [READER]


async def test_auth_as_first_message_authenticates_and_the_welcome_follows(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await auth_server(make_ws_server)
    client = await server.connect(client_kind)

    await client.send({"type": "auth", "token": "reader-token"})

    await receive_type(client, "welcome")
    await subscribe(client, "s")
    assert server.principals() == [READER]


async def test_unknown_token_in_the_query_closes_with_4401(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await auth_server(make_ws_server)
    client = await server.connect(client_kind, query="?token=stolen")

    error = await receive_type(client, "error")
    closed = await expect_close(client)

    assert error["code"] == "unauthenticated" and "unknown token" in error["message"]
    assert closed.code == 4401 and "unknown token" in closed.reason


async def test_unknown_token_in_an_auth_message_closes_with_4401(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await auth_server(make_ws_server)
    client = await server.connect(client_kind)

    await client.send({"type": "auth", "token": "stolen"})

    assert (await expect_close(client)).code == 4401


async def test_any_other_first_message_closes_with_4401(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await auth_server(make_ws_server)
    client = await server.connect(client_kind)

    await client.send({"type": "subscribe", "id": "s"})

    error = await receive_type(client, "error")
    closed = await expect_close(client)
    assert error["code"] == "unauthenticated"
    assert closed.code == 4401 and "authenticate first" in closed.reason


async def test_no_auth_message_before_the_deadline_closes_with_4408(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await auth_server(make_ws_server, auth_timeout=0.3)
    client = await server.connect(client_kind)

    closed = await expect_close(client, timeout=5)

    assert closed.code == 4408 and "no auth message within 0.3 s" in closed.reason


async def test_a_principal_without_the_reader_role_closes_with_4403(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await auth_server(make_ws_server)
    client = await server.connect(client_kind, query="?token=no-role-token")

    error = await receive_type(client, "error")
    closed = await expect_close(client)

    assert error["code"] == "forbidden"
    assert closed.code == 4403 and "reader role" in closed.reason


async def test_an_expired_token_closes_with_4401(make_ws_server: WsServerFactory, client_kind: str) -> None:
    server = await auth_server(make_ws_server)
    client = await server.welcomed(client_kind, query="?token=expires-in-0.5")
    await subscribe(client, "s")

    closed = await expect_close(client, timeout=5)

    assert closed.code == 4401 and "token expired" in closed.reason


async def test_a_fresh_auth_before_expiry_keeps_the_connection(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await auth_server(make_ws_server)
    await server.load_twin()
    client = await server.welcomed(client_kind, query="?token=expires-in-0.6")
    await subscribe(client, "s")

    await client.send({"type": "auth", "token": "expires-in-60"})
    await asyncio.sleep(1.0)  # past the first token's expiry

    await client.send({"type": "ping"})
    assert await client.receive() == {"type": "pong"}
    await server.set_value("Speed", 1)
    assert (await client.receive())["type"] == "event"


async def test_a_refused_re_auth_closes_with_4401(make_ws_server: WsServerFactory, client_kind: str) -> None:
    server = await auth_server(make_ws_server)
    client = await server.welcomed(client_kind, query="?token=reader-token")

    await client.send({"type": "auth", "token": "stolen"})

    assert (await expect_close(client)).code == 4401


async def test_a_re_auth_naming_another_subject_closes_with_4403(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    """A connection belongs to one caller (issue 13): a token of another subject cannot take it over."""
    server = await auth_server(make_ws_server)
    client = await server.welcomed(client_kind, query="?token=reader-token")

    await client.send({"type": "auth", "token": "scoped-token"})

    closed = await expect_close(client)
    assert closed.code == 4403 and "another subject" in closed.reason


async def test_a_scheme_that_raises_is_logged_in_one_escaped_line_without_a_traceback(
    make_ws_server: WsServerFactory, client_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """As for REST (issue 13, L2 and L3): anyone can send a token that makes a scheme raise, so each
    refused connection costs one log line, with the scheme's message escaped; the traceback is DEBUG."""
    server = await auth_server(make_ws_server)
    caplog.set_level(logging.DEBUG, logger="titan_plugin_ws.access")

    client = await server.connect(client_kind, query="?token=broken-token")

    assert (await expect_close(client)).code == 4401
    logged = [r for r in caplog.records if r.name == "titan_plugin_ws.access" and r.levelno >= logging.INFO]
    assert len(logged) == 1 and logged[0].exc_info is None, (
        "a traceback per refused connection floods the log"
    )
    assert logged[0].getMessage() == (
        "titan_authenticate raised RuntimeError on a WebSocket connection: "
        "the scheme broke\\nINFO titan: admin logged in"
    )


async def test_an_origin_that_is_not_allowed_closes_with_4403(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await make_ws_server(ws={"allowed_origins": "https://dashboard.example"})
    client = await server.connect(client_kind, origin="https://evil.example")

    error = await receive_type(client, "error")
    closed = await expect_close(client)

    assert error["code"] == "forbidden"
    assert closed.code == 4403 and "origin https://evil.example is not allowed" in closed.reason


async def test_a_listed_origin_is_allowed(make_ws_server: WsServerFactory, client_kind: str) -> None:
    server = await make_ws_server(ws={"allowed_origins": "https://dashboard.example, https://other.example"})
    client = await server.connect(client_kind, origin="https://dashboard.example")

    await receive_type(client, "welcome")
    assert server.principals() == [("anonymous", ALL_ROLES)]  # auth off: the origin was the only check


async def test_without_a_list_only_the_servers_own_origin_is_allowed(
    make_ws_server: WsServerFactory, client_kind: str
) -> None:
    server = await make_ws_server()
    own = server.url("/").rstrip("/")
    same = await server.connect(client_kind, origin=own)
    other = await server.connect(client_kind, origin="http://localhost:1")

    await receive_type(same, "welcome")
    assert (await expect_close(other)).code == 4403


# --- With the core's own access control (auth_enabled, API keys) ----------------------------------

READER_KEY = "ws-test-reader-key"


def core_auth(settings: Settings, **changes: object) -> Settings:
    entry = config_entry(hash_api_key(READER_KEY), "dashboard", ["reader"])
    return settings.replace(auth_enabled=True, api_keys=(entry,), **changes)


async def test_with_core_auth_an_api_key_in_the_query_opens_the_socket(
    make_ws_server: WsServerFactory, settings: Settings, client_kind: str
) -> None:
    server = await make_ws_server(core_auth(settings))
    client = await server.connect(client_kind, query=f"?token={READER_KEY}")

    await receive_type(client, "welcome")
    await subscribe(client, "s")
    assert server.principals() == [KEY_HOLDER]


async def test_with_core_auth_the_upgrade_is_accepted_and_a_missing_auth_message_is_4408(
    make_ws_server: WsServerFactory, settings: Settings, client_kind: str
) -> None:
    server = await make_ws_server(core_auth(settings), ws={"auth_timeout": 0.3})
    client = await server.connect(client_kind)  # no HTTP 401: browsers could not read it

    assert (await expect_close(client)).code == 4408


async def test_with_core_auth_an_api_key_in_the_auth_message_or_header_works(
    make_ws_server: WsServerFactory, settings: Settings, client_kind: str
) -> None:
    server = await make_ws_server(core_auth(settings))
    by_message = await server.connect(client_kind)
    by_header = await server.connect(client_kind, headers={"X-API-Key": READER_KEY})

    await by_message.send({"type": "auth", "token": f"ApiKey {READER_KEY}"})

    await receive_type(by_message, "welcome")
    await receive_type(by_header, "welcome")
    assert server.principals() == [KEY_HOLDER, KEY_HOLDER]


async def test_with_core_auth_a_wrong_api_key_closes_with_4401(
    make_ws_server: WsServerFactory, settings: Settings, client_kind: str
) -> None:
    server = await make_ws_server(core_auth(settings))
    client = await server.connect(client_kind, query="?token=not-a-key")

    assert (await expect_close(client)).code == 4401


async def test_with_core_auth_anonymous_roles_apply_to_clients_without_a_token(
    make_ws_server: WsServerFactory, settings: Settings, client_kind: str
) -> None:
    server = await make_ws_server(core_auth(settings, auth_anonymous_roles=("reader",)))
    client = await server.connect(client_kind)

    await receive_type(client, "welcome")
    assert server.principals() == [("anonymous", frozenset({"reader"}))]
