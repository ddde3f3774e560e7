"""The broker connection: no broker configured, bad settings, `/ready` while the broker is away and
after it returns, events made meanwhile, TLS with client certificates and passwords, persistent
sessions."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.publish as paho_publish
import pytest
from aiohttp.test_utils import TestClient, TestServer
from titan_plugin_mqtt.sink import MqttSink

from tests.support.app import AppClient
from tests.support.mosquitto import ThrowawayMosquitto
from titan_core.keys import EVENT_SINKS
from titan_core.settings import Settings

from .mqtt_brokers import Certificates, make_certificates, tls_mosquitto
from .mqtt_helpers import SM_ID, MqttAppFactory, Recorder, b64, broker_host_port, build_app, prop, submodel


async def call(client: AppClient, method: str, url: str, expected: int, **kwargs: Any) -> None:
    response = await client.request(method, url, **kwargs)
    assert response.status == expected, f"{method} {url}: {response.status} {await response.text()}"


async def mqtt_check(client: AppClient) -> dict[str, Any]:
    body = await (await client.get("/ready")).json()
    return next(check for check in body["checks"] if check["plugin"] == "mqtt")


async def wait_mqtt_ok(client: AppClient, ok: bool, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        check = await mqtt_check(client)
        if check["ok"] is ok:
            return check
        assert time.monotonic() < deadline, f"/ready never showed mqtt ok={ok}: {check}"
        await asyncio.sleep(0.05)


async def test_without_a_broker_the_plugin_says_so_at_start_and_in_ready(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="titan_plugin_mqtt")
    client: AppClient = TestClient(TestServer(build_app(settings)))
    await client.start_server()
    try:
        check = await mqtt_check(client)
        sinks = [sink for sink in client.app[EVENT_SINKS] if isinstance(sink, MqttSink)]
    finally:
        await client.close()

    assert "no MQTT broker configured (set TITAN_MQTT_URL" in caplog.text
    assert check["ok"] is True and "no MQTT broker configured" in check["detail"]
    assert sinks == []


async def test_a_bad_setting_takes_the_plugin_out_naming_the_setting(settings: Settings) -> None:
    broken = settings.replace(extra={"mqtt": {"url": "mqtt://127.0.0.1:1883", "qos": "3"}})
    client: AppClient = TestClient(TestServer(build_app(broken)))
    await client.start_server()
    try:
        body = await (await client.get("/ready")).json()
    finally:
        await client.close()

    mqtt = next(plugin for plugin in body["plugins"] if plugin["name"] == "mqtt")
    assert mqtt["state"] == "failed"
    assert "mqtt setting qos must be 0, 1 or 2, got '3'" in mqtt["reason"]
    assert body["status"] == "ready"  # a plugin's trouble does not stop the core serving


async def test_ready_reports_the_broker_away_and_back_and_events_made_meanwhile_arrive(
    make_mqtt_app: MqttAppFactory, throwaway_mosquitto: ThrowawayMosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="titan_plugin_mqtt")
    client = await make_mqtt_app(throwaway_mosquitto.url, prefix="away")
    connected = await wait_mqtt_ok(client, True)
    assert f"connected to {throwaway_mosquitto.url}" in connected["detail"]

    throwaway_mosquitto.kill()
    away = await wait_mqtt_ok(client, False)
    assert f"NOT connected to {throwaway_mosquitto.url}" in away["detail"]
    assert f"MQTT connection to {throwaway_mosquitto.url} lost" in caplog.text
    await call(client, "POST", "/submodels", 201, json=submodel())
    await call(client, "PATCH", f"/submodels/{b64(SM_ID)}/submodel-elements/Speed/$value", 204, json=9)
    await asyncio.sleep(0.5)

    throwaway_mosquitto.start()
    # A clean session: the subscriber is there before Titan (reconnect pause at least 0.1 s)
    # publishes what waited, because its own reconnect loop polls every 20 ms.
    async with Recorder(throwaway_mosquitto.url, ["away/#"]) as recorder:
        await wait_mqtt_ok(client, True)
        await recorder.wait_for(
            lambda messages: len(recorder.events()) >= 2, what="the events made meanwhile"
        )

    assert [m.short_type for m in recorder.events()] == ["created", "valueChanged"]
    assert "unreachable" in caplog.text and "reconnecting in" in caplog.text


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Certificates, str]]:
    """A Mosquitto whose TLS listener wants a client certificate of the test CA and the password of
    user `titan` (s3cret): the certificates and the listener's mqtts:// URL."""
    certificates = make_certificates(tmp_path / "certs")
    with tls_mosquitto(certificates, "titan", "s3cret") as (_broker, tls_url):
        yield certificates, tls_url


async def test_tls_with_a_client_certificate_and_a_password(
    make_mqtt_app: MqttAppFactory, tls_broker: tuple[Certificates, str]
) -> None:
    certificates, tls_url = tls_broker
    client = await make_mqtt_app(
        tls_url, prefix="secure", username="titan", password="s3cret", **certificates.client_settings()
    )
    context = ssl.create_default_context(cafile=str(certificates.ca))
    context.load_cert_chain(str(certificates.client_cert), str(certificates.client_key))
    async with Recorder(
        tls_url, ["secure/#"], username="titan", password="s3cret", tls_context=context
    ) as rec:
        await wait_mqtt_ok(client, True)
        await call(client, "POST", "/submodels", 201, json=submodel())
        await rec.wait_for(lambda messages: len(rec.events()) == 1, what="the event over TLS")

    assert rec.events()[0].envelope()["titanid"] == SM_ID


async def test_a_wrong_password_keeps_the_plugin_disconnected_with_the_reason_in_ready(
    make_mqtt_app: MqttAppFactory, tls_broker: tuple[Certificates, str]
) -> None:
    certificates, tls_url = tls_broker
    client = await make_mqtt_app(
        tls_url, username="titan", password="wrong", **certificates.client_settings()
    )
    # Not a sleep: wait (bounded) until the refusal has reached /ready, then check it.
    deadline = time.monotonic() + 15
    while "authori" not in (check := await mqtt_check(client))["detail"].lower():
        assert time.monotonic() < deadline, f"/ready never gave the broker's refusal: {check}"
        await asyncio.sleep(0.05)

    assert check["ok"] is False
    assert "NOT connected" in check["detail"] and "authori" in check["detail"].lower()


async def test_a_persistent_session_applies_device_writes_made_while_titan_was_away(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str
) -> None:
    # A short session expiry: the session on the shared broker ends soon after the test.
    session = {"clean_session": False, "client_id": f"{mqtt_topic_prefix}-titan", "shared_group": "",
               "session_expiry": 10}  # fmt: skip
    first = await make_mqtt_app(**session)  # both apps use this test's database
    await call(first, "POST", "/submodels", 201, json=submodel(elements=[prop("Speed", "1", "xs:int")]))
    await wait_mqtt_ok(first, True)
    await first.close()

    host, port = broker_host_port(mqtt_url)
    topic = f"{mqtt_topic_prefix}/element/{b64(SM_ID)}/Speed/value"
    await asyncio.to_thread(paho_publish.single, topic, b"42", qos=1, hostname=host, port=port)

    second = await make_mqtt_app(**session)
    deadline = time.monotonic() + 10
    while True:
        response = await second.get(f"/submodels/{b64(SM_ID)}/submodel-elements/Speed/$value")
        if await response.json() == 42:
            break
        assert time.monotonic() < deadline, "the write made while Titan was away was not applied"
        await asyncio.sleep(0.05)
