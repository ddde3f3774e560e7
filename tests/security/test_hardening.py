"""Security headers on every answer, CORS for configured origins, and limits with clear 4xx answers:
declared body size (413 before reading), uploads without a length (411), JSON nesting, slow bodies
(408)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.app import AppClient, AppClientFactory
from titan_core.app import create_app
from titan_core.plugins import TitanPluginManager
from titan_core.settings import Settings, SettingsError

from .twins import SHELL_ID, api_key, b64, shell

DASHBOARD = "https://dashboard.example"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Headers and limits do not depend on the database backend."""
    return f"sqlite+aiosqlite:///{tmp_path}/titan.sqlite3"


async def client_with(
    make_app_client: AppClientFactory, settings: Settings, plugins: TitanPluginManager, **changes: object
) -> AppClient:
    return await make_app_client(settings.replace(**changes), plugin_manager=plugins)


async def test_every_answer_carries_the_security_headers_and_no_hsts_by_default(
    secure_client: AppClient,
) -> None:
    for path, headers in (("/health", {}), ("/shells", api_key("reader")), ("/shells", {}), ("/nowhere", {})):
        response = await secure_client.get(path, headers=headers)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in response.headers
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_hsts_is_sent_once_configured(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await client_with(make_app_client, settings, core_plugins, hsts_max_age=31536000)

    response = await client.get("/health")

    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


async def test_security_headers_can_be_left_to_a_proxy(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await client_with(make_app_client, settings, core_plugins, security_headers=False)

    assert "X-Frame-Options" not in (await client.get("/health")).headers


@pytest.fixture
async def cors_client(
    make_app_client: AppClientFactory, secure_settings: Settings, core_plugins: TitanPluginManager
) -> AppClient:
    return await client_with(
        make_app_client, secure_settings, core_plugins, cors_allowed_origins=(DASHBOARD,)
    )


async def test_a_preflight_from_an_allowed_origin_is_answered_without_credentials(
    cors_client: AppClient,
) -> None:
    response = await cors_client.options(
        f"/shells/{b64(SHELL_ID)}",
        headers={"Origin": DASHBOARD, "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "authorization, content-type, if-match"},
    )  # fmt: skip

    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        {"Origin": DASHBOARD, "Access-Control-Request-Method": "TRACE"},
        {
            "Origin": DASHBOARD,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-secret",
        },
    ],
)
async def test_a_preflight_outside_the_configuration_is_refused(
    cors_client: AppClient, headers: dict[str, str]
) -> None:
    response = await cors_client.options("/shells", headers=headers)

    assert response.status == 403
    assert "Access-Control-Allow-Methods" not in response.headers
    assert (await response.json())["messages"][0]["text"]


async def test_answers_to_an_allowed_origin_expose_the_titan_headers(cors_client: AppClient) -> None:
    allowed = await cors_client.get("/shells", headers={"Origin": DASHBOARD, **api_key("reader")})
    refused = await cors_client.get("/shells", headers={"Origin": DASHBOARD})
    foreign = await cors_client.get(
        "/shells", headers={"Origin": "https://evil.example", **api_key("reader")}
    )

    assert allowed.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert allowed.headers["Vary"] == "Origin"
    assert set(allowed.headers["Access-Control-Expose-Headers"].split(", ")) == {
        "ETag",
        "Location",
        "X-Titan-Seq",
    }
    # A 401 carries CORS headers too, so the dashboard can read why.
    assert refused.status == 401 and refused.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert "Access-Control-Allow-Origin" not in foreign.headers


async def test_cors_with_credentials_names_the_origin(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await client_with(make_app_client, settings, core_plugins,
                               cors_allowed_origins=(DASHBOARD,), cors_allow_credentials=True)  # fmt: skip

    response = await client.get("/health", headers={"Origin": DASHBOARD})

    assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cors_allowed_origins": ("*",), "cors_allow_credentials": True}, "browsers refuse"),
        ({"body_timeout": 0}, "body_timeout"),
        ({"max_json_depth": -1}, "max_json_depth"),
        ({"auth_anonymous_roles": ("guest",)}, "unknown role"),
    ],
)
def test_unusable_settings_stop_the_app_from_being_built(
    settings: Settings, core_plugins: TitanPluginManager, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        create_app(settings.replace(**changes), plugin_manager=core_plugins)


async def test_a_body_declared_larger_than_the_limit_is_refused_with_413(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await client_with(make_app_client, settings, core_plugins, max_body_bytes=1000)
    document = json.dumps(shell(SHELL_ID, SHELL_ID)).encode()

    small = await client.post("/shells", data=document, headers={"Content-Type": "application/json"})
    large = await client.post(
        "/shells", data=document + b" " * 1000, headers={"Content-Type": "application/json"}
    )

    assert small.status == 201
    assert large.status == 413
    assert "max_body_bytes" in (await large.json())["messages"][0]["text"]


async def test_an_upload_without_a_length_is_refused_with_411(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await client_with(make_app_client, settings, core_plugins)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nx\r\n--b--\r\n'

    response = await client.put(
        f"/shells/{b64(SHELL_ID)}/asset-information/thumbnail",
        data=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )

    # status-only: the refusal before anything is read is the point; nothing was stored, as the shell's
    # thumbnail is absent in the fixture either way, so there is no body or state to compare.
    assert response.status == 411


@pytest.mark.parametrize(("depth", "status"), [(10, 400), (11, 400)])
async def test_json_nested_deeper_than_the_limit_is_refused(
    make_app_client: AppClientFactory,
    settings: Settings,
    core_plugins: TitanPluginManager,
    depth: int,
    status: int,
) -> None:
    client = await client_with(make_app_client, settings, core_plugins, max_json_depth=10)

    response = await client.post(
        "/shells", data="[" * depth + "]" * depth, headers={"Content-Type": "application/json"}
    )

    assert response.status == status
    text = (await response.json())["messages"][0]["text"]
    assert ("more than 10 levels" in text) == (depth > 10), text


async def test_a_body_that_does_not_arrive_in_time_is_answered_408_and_the_connection_closed(
    make_app_client: AppClientFactory, settings: Settings, core_plugins: TitanPluginManager
) -> None:
    client = await client_with(make_app_client, settings, core_plugins, body_timeout=1)
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(b"POST /shells HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{\"id\":")  # fmt: skip
    await writer.drain()

    # The answer comes at once; the connection closes after aiohttp's lingering time (10 s).
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    writer.close()

    assert head.startswith(b"HTTP/1.1 408"), head
    assert b"Connection: close" in head
    assert (await client.get("/health")).status == 200
