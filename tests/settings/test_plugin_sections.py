"""Each plugin's section goes through the core's mechanism: unknown keys, wrong types, ranges, origins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from titan_plugin_autoregister.config import AutoregisterConfig
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_webhook.config import WebhookConfig
from titan_plugin_ws.config import WsConfig

from titan_core.settings import SettingsError, load_section, load_settings

SECTIONS: dict[str, type[Any]] = {
    "ws": WsConfig,
    "mqtt": MqttConfig,
    "webhook": WebhookConfig,
    "autoregister": AutoregisterConfig,
}


def refusal(section: str, toml: str = "", tmp_path: Path | None = None, **environ: str) -> str:
    env = dict(environ)
    if tmp_path is not None:
        (tmp_path / "titan.toml").write_text(f"[{section}]\n{toml}", encoding="utf-8")
        env["TITAN_CONFIG"] = str(tmp_path / "titan.toml")
    with pytest.raises(SettingsError) as refused:
        load_section(load_settings(environ=env), section, SECTIONS[section])
    return str(refused.value)


@pytest.mark.parametrize(
    ("section", "variable", "known"),
    [("ws", "TITAN_WS_HEARTBEATS", "heartbeat"), ("mqtt", "TITAN_MQTT_URLL", "url"),
     ("webhook", "TITAN_WEBHOOK_URL", "urls"), ("autoregister", "TITAN_AUTOREGISTER_REGISTRY", "registry_url")],
)  # fmt: skip
def test_an_unknown_variable_of_a_section_is_refused_naming_it(
    section: str, variable: str, known: str
) -> None:
    key = variable.removeprefix(f"TITAN_{section.upper()}_").lower()

    message = refusal(section, **{variable: "x"})

    assert message.startswith(f"unknown {section} setting(s) {key} ({variable}); known: ")
    assert message.endswith(f"did you mean {known}?")


@pytest.mark.parametrize("section", ["ws", "mqtt", "webhook", "autoregister"])
def test_an_unknown_key_of_a_table_is_refused_naming_the_file_and_table(section: str, tmp_path: Path) -> None:
    message = refusal(section, "colour = 'blue'\n", tmp_path)

    assert f"unknown {section} setting(s) colour (in {tmp_path / 'titan.toml'} [{section}])" in message


@pytest.mark.parametrize(
    ("section", "environ", "message"),
    [
        (
            "ws",
            {"TITAN_WS_HEARTBEAT": "often"},
            "ws setting heartbeat must be a number, got 'often' (TITAN_WS_HEARTBEAT)",
        ),
        (
            "ws",
            {"TITAN_WS_CONSOLE": "sometimes"},
            "ws setting console must be true or false, got 'sometimes'",
        ),
        (
            "ws",
            {"TITAN_WS_ALLOWED_ORIGINS": "dash.example"},
            "ws setting allowed_origins must be origins like https://",
        ),
        ("mqtt", {"TITAN_MQTT_QOS": "3"}, "mqtt setting qos must be 0, 1 or 2, got '3' (TITAN_MQTT_QOS)"),
        ("mqtt", {"TITAN_MQTT_PROTOCOL": "4"}, "mqtt setting protocol must be 5 or 3.1.1, got '4'"),
        (
            "mqtt",
            {"TITAN_MQTT_QOS_ELEMENT": "x"},
            "mqtt setting qos_element must be 0, 1 or 2 (or empty: as qos)",
        ),
        (
            "webhook",
            {"TITAN_WEBHOOK_TIMEOUT": "soon"},
            "webhook setting timeout must be a number, got 'soon'",
        ),
        (
            "webhook",
            {"TITAN_WEBHOOK_MAX_BATCH": "2.5"},
            "webhook setting max_batch must be a whole number, got '2.5'",
        ),
    ],
)
def test_a_value_of_the_wrong_kind_is_refused_naming_it(
    section: str, environ: dict[str, str], message: str
) -> None:
    assert message in refusal(section, **environ)


@pytest.mark.parametrize(
    ("section", "environ", "message"),
    [
        (
            "ws",
            {"TITAN_WS_QUEUE_MESSAGES": "1"},
            "ws setting queue_messages must be at least 2, got '1' (TITAN_WS_QUEUE_MESSAGES)",
        ),
        (
            "ws",
            {"TITAN_WS_MAX_MESSAGE_BYTES": "100"},
            "ws setting max_message_bytes must be at least 256, got '100'",
        ),
        (
            "mqtt",
            {"TITAN_MQTT_KEEPALIVE": "0"},
            "mqtt setting keepalive must be at least 1, got '0' (TITAN_MQTT_KEEPALIVE)",
        ),
        (
            "mqtt",
            {"TITAN_MQTT_RECONNECT_MIN": "-1"},
            "mqtt setting reconnect_min must be at least 0, got '-1'",
        ),
        ("webhook", {"TITAN_WEBHOOK_RETRIES": "-1"}, "webhook setting retries must be at least 0, got '-1'"),
    ],
)
def test_a_value_out_of_range_is_refused_saying_the_range(
    section: str, environ: dict[str, str], message: str
) -> None:
    assert message in refusal(section, **environ)


def test_a_check_across_settings_names_where_the_value_came_from(tmp_path: Path) -> None:
    message = refusal("mqtt", 'prefix = "a/+/b"\n', tmp_path)

    assert message.startswith("mqtt setting prefix must be topic levels")
    assert message.endswith(f"(in {tmp_path / 'titan.toml'} [mqtt])")


def test_the_file_gives_typed_values_and_the_environment_overrides_them(tmp_path: Path) -> None:
    (tmp_path / "titan.toml").write_text("[ws]\nheartbeat = 5\nconsole = false\n", encoding="utf-8")
    env = {"TITAN_CONFIG": str(tmp_path / "titan.toml"), "TITAN_WS_HEARTBEAT": "7.5"}

    config = WsConfig.from_settings(load_settings(environ=env))

    assert (config.heartbeat, config.console) == (7.5, False)


def test_secrets_stay_out_of_messages() -> None:
    mqtt = refusal("mqtt", TITAN_MQTT_URL="http://user:hunter2@broker", TITAN_MQTT_PASSWORD="hunter2")
    webhook = refusal("webhook", TITAN_WEBHOOK_SECRET="hunter2", TITAN_WEBHOOK_URLS="ftp://u:hunter2@h/x")

    assert "hunter2" not in mqtt and "mqtt setting url must look like mqtt://" in mqtt
    assert "hunter2" not in webhook and "'ftp://h/x' is not an http:// or https:// URL" in webhook


def test_the_defaults_of_every_section_are_valid() -> None:
    for name, config_class in SECTIONS.items():
        assert load_section(load_settings(environ={}), name, config_class) == config_class()
