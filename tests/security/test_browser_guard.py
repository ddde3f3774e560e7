"""Web pages in a user's browser cannot reach a Titan with authentication off (issue 13, M2): it
answers only its own Host names (DNS rebinding), refuses changes sent by pages of other origins
(cross-site requests, uploads included), takes bodies only in their documented media types (a
browser sends `text/plain` or no type without asking first), and its WebSocket checks `Origin`
against the allow-list. Programs that send no `Origin` (curl, devices) are not affected."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from tests.support.live_server import LiveServer, start_live_server
from titan_core.api.browser_guard import BrowserPolicy
from titan_core.settings import Settings

from .live import module_server, raw_exchange
from .twins import SHELL_ID, api_key, b64, shell

DASHBOARD = "https://dashboard.example"
EVIL = "http://evil.example"
REBIND = "rebind.evil.example"


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`titan serve` as a developer runs it: authentication off, on 127.0.0.1; one dashboard listed."""
    directory = tmp_path_factory.mktemp("open")
    server = start_live_server(
        f"sqlite+aiosqlite:///{directory}/titan.sqlite3", log_dir=directory,
        env={"TITAN_ALLOWED_ORIGINS": DASHBOARD},
    )  # fmt: skip
    yield server
    server.stop()
    print(f"\n=== titan serve on port {server.port} ===\n{server.log_tail(200)}")


@pytest.fixture(scope="module")
def named_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Authentication on, behind a load balancer that sends `Host: titan.example`."""
    yield from module_server(tmp_path_factory, allowed_hosts="127.0.0.1,titan.example")


@pytest.fixture(scope="module")
def secure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Authentication on, `allowed_hosts` not set."""
    yield from module_server(tmp_path_factory)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # No automatic Content-Type: the tests say exactly which one a request carries.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def fresh_shell(name: str) -> dict[str, object]:
    return shell(f"https://example.com/ids/aas/{name}", "https://example.com/ids/sm/none")


async def post_shell(
    http: aiohttp.ClientSession,
    server: LiveServer,
    name: str,
    *,
    origin: str | None = None,
    accepted: tuple[int, ...] = (201,),
) -> dict[str, object]:
    """POST the `fresh_shell(name)` as JSON (with `Origin: origin` if given); the answer's status must
    be one of `accepted`. Returns the shell."""
    document = fresh_shell(name)
    headers = {"Content-Type": "application/json", **({"Origin": origin} if origin else {})}
    async with http.post(f"{server.base_url}/shells", data=json.dumps(document), headers=headers) as response:
        assert response.status in accepted, await response.text()
    return document


async def shell_exists(http: aiohttp.ClientSession, server: LiveServer, shell_id: str) -> bool:
    async with http.get(f"{server.base_url}/shells/{b64(shell_id)}") as response:
        assert response.status in (200, 404), await response.text()
        return response.status == 200


def raw_post(server: LiveServer, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {server.host}:{server.port}", f"Content-Length: {len(body)}",
             "Connection: close", *(f"{name}: {value}" for name, value in headers.items())]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def assert_shell_post_refused(
    server: LiveServer,
    http: aiohttp.ClientSession,
    name: str,
    headers: dict[str, str],
    *,
    status: int,
    says: str,
) -> None:
    """POSTs a new shell with exactly `headers`: refused with `status`, the message naming `says`, nothing stored."""
    document = fresh_shell(name)
    answer_status, body = await raw_exchange(
        server, raw_post(server, "/shells", json.dumps(document).encode(), headers)
    )

    assert answer_status == status, body
    assert says in json.loads(body)["messages"][0]["text"]
    assert not await shell_exists(http, server, str(document["id"]))


# --- Host: DNS rebinding ------------------------------------------------------------------------


async def test_with_auth_off_a_rebinding_host_is_refused_and_nothing_is_read(
    open_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    await post_shell(http, open_server, "rebinding-target")

    async with http.get(
        f"{open_server.base_url}/shells", headers={"Host": f"{REBIND}:{open_server.port}"}
    ) as got:
        body = await got.text()

    assert got.status == 400, body
    assert "allowed_hosts" in json.loads(body)["messages"][0]["text"]
    assert "rebinding-target" not in body


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]"])
@pytest.mark.parametrize("with_port", [True, False])
async def test_with_auth_off_the_loopback_names_are_answered(
    open_server: LiveServer, http: aiohttp.ClientSession, name: str, with_port: bool
) -> None:
    host = f"{name}:{open_server.port}" if with_port else name
    async with http.get(f"{open_server.base_url}/shells", headers={"Host": host}) as response:
        assert response.status == 200, await response.text()
        assert isinstance((await response.json())["result"], list)  # the shells page, not an error body


async def test_with_auth_on_the_host_is_checked_only_when_configured(
    secure_server: LiveServer, named_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    async def status(server: LiveServer, host: str) -> int:
        headers = {"Host": f"{host}:{server.port}", **api_key("reader")}
        async with http.get(f"{server.base_url}/shells", headers=headers) as response:
            return response.status

    assert await status(secure_server, REBIND) == 200
    assert await status(named_server, "titan.example") == 200
    assert await status(named_server, "TITAN.example") == 200
    assert await status(named_server, REBIND) == 400
    assert await status(named_server, "localhost") == 400


def test_bound_beyond_loopback_with_auth_off_ip_addresses_are_answered_but_no_other_names() -> None:
    policy = BrowserPolicy.from_settings(Settings(host="0.0.0.0", insecure_no_auth=True))

    assert [policy.host_allowed(host) for host in ("192.0.2.7:8080", "[2001:db8::1]:8080", "localhost")] == [
        True, True, True,
    ]  # fmt: skip
    assert not policy.host_allowed(f"{REBIND}:8080")


# --- Origin: cross-site changes -----------------------------------------------------------------


async def test_a_cross_site_post_with_an_empty_content_type_is_refused_and_stores_nothing(
    open_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    await assert_shell_post_refused(
        open_server,
        http,
        "cross-site",
        {"Origin": EVIL, "Content-Type": ""},
        status=403,
        says="allowed_origins",
    )


async def test_a_cross_site_multipart_upload_is_refused_and_one_without_origin_is_taken(
    open_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    document = await post_shell(http, open_server, "upload-target")
    thumbnail = f"{open_server.base_url}/shells/{b64(str(document['id']))}/asset-information/thumbnail"

    def form() -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field("file", b"\x89PNG-evil", filename="evil.png", content_type="image/png")
        data.add_field("fileName", "evil.png")
        return data

    async with http.put(thumbnail, data=form(), headers={"Origin": EVIL}) as cross_site:
        assert cross_site.status == 403, await cross_site.text()
    async with http.get(thumbnail) as unchanged:
        assert unchanged.status == 404, "the refused upload stored a thumbnail"
    async with http.put(thumbnail, data=form()) as from_a_program:
        assert from_a_program.status == 204, await from_a_program.text()
    async with http.get(thumbnail) as stored:
        assert (stored.status, await stored.read()) == (200, b"\x89PNG-evil")


@pytest.mark.parametrize("origin", ["own", DASHBOARD])
async def test_the_servers_own_origin_and_listed_origins_may_post(
    open_server: LiveServer, http: aiohttp.ClientSession, origin: str
) -> None:
    sent = open_server.base_url if origin == "own" else origin
    document = await post_shell(
        http, open_server, f"from-{'own' if origin == 'own' else 'dashboard'}", origin=sent
    )
    async with http.get(f"{open_server.base_url}/shells/{b64(str(document['id']))}") as stored:
        assert (await stored.json())["id"] == document["id"]


@pytest.mark.parametrize("origin", ["null", "http://localhost:1", f"http://{REBIND}"])
async def test_other_origins_may_not_delete(
    open_server: LiveServer, http: aiohttp.ClientSession, origin: str
) -> None:
    # 409: the module's server has it from an earlier origin's run.
    document = await post_shell(http, open_server, "not-deleted", accepted=(201, 409))
    url = f"{open_server.base_url}/shells/{b64(str(document['id']))}"

    async with http.delete(url, headers={"Origin": origin}) as refused:
        assert refused.status == 403, await refused.text()

    assert await shell_exists(http, open_server, str(document["id"]))


async def test_a_read_with_a_foreign_origin_is_answered_without_cors_headers(
    open_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{open_server.base_url}/shells", headers={"Origin": EVIL}) as response:
        assert response.status == 200
        assert "Access-Control-Allow-Origin" not in response.headers


# --- Media types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
async def test_a_body_in_an_undocumented_media_type_is_refused_415_and_stores_nothing(
    open_server: LiveServer, http: aiohttp.ClientSession, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    await assert_shell_post_refused(
        open_server, http, f"typed-{abs(hash(content_type))}", headers, status=415, says="application/json"
    )


async def test_a_json_body_on_an_upload_route_is_refused_415(
    open_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    url = f"{open_server.base_url}/shells/{b64(SHELL_ID)}/asset-information/thumbnail"
    async with http.put(url, data=b"{}", headers={"Content-Type": "application/json"}) as response:
        body = await response.json()

    assert response.status == 415
    assert "multipart/form-data" in body["messages"][0]["text"]


# --- The WebSocket ------------------------------------------------------------------------------


async def test_the_websocket_answers_no_rebinding_host_and_no_foreign_origin(
    open_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    url = f"ws://{open_server.host}:{open_server.port}/ws/events"
    rebound = {"Host": f"{REBIND}:{open_server.port}", "Origin": f"http://{REBIND}:{open_server.port}"}

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(url, headers=rebound)
    assert refused.value.status == 400

    async with http.ws_connect(url, headers={"Origin": EVIL}) as foreign:
        message = await foreign.receive(timeout=10)
        if message.type is aiohttp.WSMsgType.TEXT:  # the error message comes before the close
            assert json.loads(message.data)["code"] == "forbidden"
            message = await foreign.receive(timeout=10)
        assert message.type is aiohttp.WSMsgType.CLOSE and message.data == 4403

    for origin in (DASHBOARD, open_server.base_url):
        async with http.ws_connect(url, headers={"Origin": origin}) as allowed:
            welcome = await allowed.receive_json(timeout=10)
            assert welcome["type"] == "welcome", (origin, welcome)


def test_allowed_hosts_and_origins_are_checked_when_read() -> None:
    from titan_core.settings import SettingsError

    with pytest.raises(SettingsError, match="allowed_origins"):
        BrowserPolicy.from_settings(Settings(allowed_origins=("dashboard.example",)))
    with pytest.raises(SettingsError, match="allowed_hosts"):
        BrowserPolicy.from_settings(Settings(allowed_hosts=("https://titan.example/",)))
