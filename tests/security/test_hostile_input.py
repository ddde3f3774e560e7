"""Hostile input against a real server: oversized and endless bodies, deep JSON, path tricks and NUL
bytes, invalid UTF-8, absurd paging, slowloris. Each gets a clear 4xx (or the connection is timed
out), the server answers the next request normally, and its log shows no unhandled exception."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.support.live_server import LiveServer

from .live import ADMIN, get, module_server, raw_exchange, read_answer, unhandled_errors
from .twins import SHELL_ID, SM_ID, b64

BODY_TIMEOUT = 2
KEEPALIVE_TIMEOUT = 3
MB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from module_server(
        tmp_path_factory, body_timeout=str(BODY_TIMEOUT), keepalive_timeout=str(KEEPALIVE_TIMEOUT)
    )


@pytest.fixture(autouse=True)
def server_stays_healthy(server: LiveServer) -> Iterator[None]:
    errors_before = len(unhandled_errors(server))
    yield
    assert get(server, f"/shells/{b64(SHELL_ID)}") == 200, "the server no longer answers normally"
    assert unhandled_errors(server)[errors_before:] == []


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    fields = {"Host": "titan", **ADMIN, "Content-Type": "application/json", "Content-Length": str(len(body)),
              **(headers or {})}  # fmt: skip
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return head.encode("latin-1") + b"\r\n" + body


async def test_a_50_mb_body_is_refused_before_it_is_read(server: LiveServer) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    started = time.monotonic()
    writer.write(request("POST", "/shells", headers={"Content-Length": str(50 * MB)}) + b"x" * MB)
    await writer.drain()

    status, body = await read_answer(reader)
    writer.close()

    assert status == 413 and b"max_body_bytes" in body
    assert time.monotonic() - started < 5


async def test_a_50_mb_body_without_a_declared_length_is_cut_off_at_the_limit(server: LiveServer) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    head = request("POST", "/submodels", headers={"Transfer-Encoding": "chunked"})
    writer.write(head.replace(b"Content-Length: 0\r\n", b""))
    chunk = b"%x\r\n" % MB + b"[" * MB + b"\r\n"
    try:
        for _ in range(50):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass  # the server may stop reading once it has answered

    status, body = await read_answer(reader)
    writer.close()

    # status-only: the point is that the limit cuts the body off with 413; the 50 MB never parse.
    assert status == 413, body


@pytest.mark.parametrize("nested", [b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000])
async def test_json_nested_10000_deep_is_refused(server: LiveServer, nested: bytes) -> None:
    status, body = await raw_exchange(server, request("POST", "/submodels", nested))

    assert status == 400 and b"deep" in body


TRICKY_IDS = ["../../etc/passwd", "..", "id\x00with-nul", "\x00", "/", "a/../../b", "%00", "..%2f..%2f"]
TRICKY_PATHS = [
    "/shells/..%2F..%2Fetc%2Fpasswd",
    "/shells/%00",
    "/shells/AA%00",
    "/shells/../../../etc/passwd",
    "/submodels/%2e%2e",
    f"/submodels/{b64(SM_ID)}/submodel-elements/..%2FTemperature",
    f"/submodels/{b64(SM_ID)}/submodel-elements/Temperature%00",
    f"/submodels/{b64(SM_ID)}/submodel-elements/%00",
    f"/submodels/{b64(SM_ID)}/submodel-elements/Nested..Inner",
    f"/submodels/{b64(SM_ID)}/submodel-elements/Nested.%2e%2e.Inner/$value",
    f"/submodels/{b64(SM_ID)}/submodel-elements/Temperature%5B-1%5D",
    f"/submodels/{b64(SM_ID)}/submodel-elements/{'a.' * 5000}a",
]


@pytest.mark.parametrize("identifier", TRICKY_IDS)
async def test_dot_dot_and_nul_in_identifiers_are_opaque_text_or_refused(
    server: LiveServer, identifier: str
) -> None:
    """An identifier is opaque text, never a file path; control characters are refused (400)."""
    refused = "\x00" in identifier
    for path in (f"/shells/{b64(identifier)}", f"/submodels/{b64(identifier)}/$value"):
        status, _ = await raw_exchange(server, request("GET", path))
        assert status == (400 if refused else 404), (path, status)
    status, _ = await raw_exchange(
        server, request("GET", f"/concept-descriptions/{quote(identifier, safe='')}")
    )
    assert status == 400  # not base64url at all

    document = json.dumps({"modelType": "AssetAdministrationShell", "id": identifier,
                           "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:x"}})  # fmt: skip
    status, body = await raw_exchange(server, request("PUT", f"/shells/{b64(identifier)}", document.encode()))
    assert status == (400 if refused else 201), body
    if not refused:
        status, body = await raw_exchange(server, request("GET", f"/shells/{b64(identifier)}"))
        assert status == 200 and json.loads(body)["id"] == identifier


@pytest.mark.parametrize("path", TRICKY_PATHS)
async def test_dot_dot_and_nul_in_paths_and_id_short_paths_are_refused(server: LiveServer, path: str) -> None:
    for method, body in (("GET", b""), ("PATCH", b"1")):
        status, _ = await raw_exchange(server, request(method, path, body))
        # status-only: a refusal of the hostile path is the point; any of these codes refuses it.
        assert status in (400, 404, 405, 414, 431), (method, path, status)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/shells", b'{"id": "\xff\xfe"}', 400),
        ("POST", "/shells", b"\xc3\x28", 400),
        ("GET", "/shells/%FF%FE", b"", 400),
        ("GET", "/shells?limit=%FF", b"", 400),
        ("GET", "/events?types=%C0%AF", b"", 400),
        ("GET", "/shells?idShort=%FF", b"", 200),  # decoded to U+FFFD: a filter that matches nothing
    ],
)
async def test_invalid_utf8_is_refused_or_matches_nothing(
    server: LiveServer, method: str, path: str, body: bytes, status: int
) -> None:
    answer, text = await raw_exchange(server, request(method, path, body))

    assert answer == status, text
    if status == 200:
        assert json.loads(text)["result"] == []


async def test_invalid_utf8_in_a_credential_is_refused_with_401(server: LiveServer) -> None:
    raw = request("GET", "/shells").replace(b"X-API-Key: ", b"X-API-Key: \xff\xfe")

    status, _ = await raw_exchange(server, raw)

    # status-only: the point is a clean 401 (not a 500) for an undecodable credential.
    assert status == 401


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/shells?limit=" + "9" * 40, 200),
        ("/submodels/$path?limit=" + "9" * 40, 200),
        ("/events?limit=" + "9" * 40, 200),
        ("/shells?limit=0", 400),
        ("/shells?limit=-5", 400),
        ("/shells?limit=1e9", 400),
        ("/shells?limit=%C2%B2", 400),  # "²": a digit to str.isdigit, not to int()
        ("/events?limit=%C2%B2", 400),
        ("/events?after=" + "9" * 40, 400),
        ("/events?wait=1e308", 200),
        ("/shells?cursor=" + "9" * 400, 400),
        (f"/shells/{b64(SHELL_ID)}/submodel-refs?limit=" + "9" * 40, 200),
    ],
)
async def test_absurd_paging_is_capped_or_refused(server: LiveServer, path: str, status: int) -> None:
    started = time.monotonic()

    answer, body = await raw_exchange(server, request("GET", path))

    assert answer == status, body
    assert time.monotonic() - started < 5


async def test_a_slowloris_body_is_answered_408_after_the_body_timeout(server: LiveServer) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(request("POST", "/shells", headers={"Content-Length": "1000"}) + b"{")
    await writer.drain()
    started = time.monotonic()

    async def trickle() -> None:
        for _ in range(40):
            await asyncio.sleep(0.25)
            writer.write(b" ")
            await writer.drain()

    dripping = asyncio.create_task(trickle())
    try:
        status, body = await read_answer(reader, timeout=BODY_TIMEOUT + 5)
    finally:
        dripping.cancel()
        writer.close()

    assert status == 408 and b"body_timeout" in body
    assert BODY_TIMEOUT - 0.5 < time.monotonic() - started < BODY_TIMEOUT + 3


async def test_slowloris_headers_are_cut_off_after_the_keepalive_timeout(server: LiveServer) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: titan\r\n")
    await writer.drain()
    started = time.monotonic()

    async def trickle() -> None:
        for index in range(60):
            await asyncio.sleep(0.25)
            writer.write(b"X-Slow-%d: 1\r\n" % index)
            await writer.drain()

    dripping = asyncio.create_task(trickle())
    try:
        leftover = await asyncio.wait_for(reader.read(), timeout=KEEPALIVE_TIMEOUT + 10)
    finally:
        dripping.cancel()
        writer.close()

    assert leftover == b""  # closed without an answer
    assert time.monotonic() - started < KEEPALIVE_TIMEOUT + 3


async def test_many_idle_connections_do_not_stop_the_server_from_answering(server: LiveServer) -> None:
    connections = [await asyncio.open_connection(server.host, server.port) for _ in range(50)]
    try:
        status, body = await raw_exchange(server, request("GET", f"/submodels/{b64(SM_ID)}/$value"))
        assert status == 200, body
        assert json.loads(body)["Temperature"] == 21.5, body
    finally:
        for _, writer in connections:
            writer.close()


async def test_malformed_http_is_refused_with_400_and_logged_in_one_line(server: LiveServer) -> None:
    raw = request("GET", "/shells", headers={"X-Probe": "\x00"})

    status, _ = await raw_exchange(server, raw)

    assert status == 400
    assert "refused a malformed HTTP request with 400" in server.log()
