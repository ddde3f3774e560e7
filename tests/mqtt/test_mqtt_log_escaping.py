"""Issue 13, L2 (MQTT): what a device sends reaches Titan's log escaped. A payload or topic with a
newline used to forge a second log line, and an escape sequence could rewrite the operator's
terminal; now each refusal is one line with `\\n` and `\\x1b` spelled out."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from titan_plugin_mqtt.client import MqttClient
from titan_plugin_mqtt.codec import Message
from titan_plugin_mqtt.config import MqttConfig

from .mqtt_helpers import SM_ID, MqttAppFactory, Recorder, b64, publish_v5, submodel

FORGED = "WARNING titan_core: admin logged in"


async def refusal_lines(
    make_mqtt_app: MqttAppFactory,
    mqtt_url: str,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
    *,
    path: str,
    payload: bytes,
) -> list[str]:
    """Publish one bad write and return the writeback log lines that mention its refusal."""
    caplog.set_level(logging.DEBUG, logger="titan_plugin_mqtt.writeback")
    client = await make_mqtt_app()
    assert (await client.post("/submodels", json=submodel())).status == 201
    topic = f"{prefix}/element/{b64(SM_ID)}/{path}/value"
    async with Recorder(mqtt_url, [f"{prefix}/element/+/+/value/error"]) as answers:
        await publish_v5(mqtt_url, topic, payload)
        # The refusal is logged before it is answered: its answer is the barrier.
        await answers.wait_for(lambda messages: bool(messages), what="the refusal on …/value/error")
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "titan_plugin_mqtt.writeback" and "MQTT write refused" in record.getMessage()
    ]


async def test_newlines_and_escape_sequences_in_a_payload_are_escaped_in_the_log(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    payload = f"23\n{FORGED}\r\x1b[2J".encode()
    (line,) = await refusal_lines(
        make_mqtt_app, mqtt_url, mqtt_topic_prefix, caplog, path="Temperature", payload=payload
    )

    assert "malformed_json" in line
    assert not any(char in line for char in "\n\r\x1b"), line
    assert f"23\\n{FORGED}\\r\\x1b[2J" in line


async def test_line_separators_and_bidi_overrides_in_a_topic_are_escaped_in_the_log(
    make_mqtt_app: MqttAppFactory, mqtt_url: str, mqtt_topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Mosquitto drops a client that puts C0/C1 control characters in a topic, but passes U+2028 (a
    # line break to many log viewers) and U+202E (turns the rest of the line around on screen).
    lines = await refusal_lines(
        make_mqtt_app, mqtt_url, mqtt_topic_prefix, caplog, path="Temp\u2028X\u202eY", payload=b"1"
    )

    assert lines and all("\u2028" not in line and "\u202e" not in line for line in lines), lines
    assert "Temp\\u2028X\\u202eY" in lines[0]


async def test_a_handler_failure_logs_the_topic_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """The client's last-resort log line, when handling a message raised, escapes the topic too."""
    barrier_handled = asyncio.Event()

    async def broken(message: Message) -> None:
        if message.topic == "barrier":  # messages are handled one after another, in arrival order
            barrier_handled.set()
            return
        raise RuntimeError("the handler broke")

    client = MqttClient(MqttConfig(url="mqtt://h"), client_id="t", role="write-back", on_message=broken)
    client._incoming.put_nowait(Message("titan/element/x/Temp\u2028X\u202eY/value", b"1", 1, False, 1))
    client._incoming.put_nowait(Message("barrier", b"1", 1, False, 2))
    caplog.set_level(logging.ERROR, logger="titan_plugin_mqtt.client")
    dispatcher = asyncio.create_task(client._dispatch())
    try:
        await asyncio.wait_for(barrier_handled.wait(), timeout=10)
    finally:
        dispatcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dispatcher

    (line,) = [r.getMessage() for r in caplog.records if "handling a message" in r.getMessage()]
    assert "Temp\\u2028X\\u202eY" in line and "\u2028" not in line and "\u202e" not in line, line
