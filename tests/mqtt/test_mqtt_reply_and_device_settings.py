"""The reply prefix and the device list are checked when Titan starts (no broker needed): a reply
prefix that overlaps Titan's event or value topics, or a device entry Titan cannot use, stops the
plugin with a message naming the setting; and which response topics Titan answers on."""

from __future__ import annotations

import pytest
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.devices import device_of, parse_device
from titan_plugin_mqtt.replies import reply_refusal

from titan_core.settings import SettingsError


def test_replies_go_under_prefix_reply_by_default_and_devices_add_a_subscription() -> None:
    config = MqttConfig.from_section({"url": "mqtt://h", "prefix": "plant", "shared_group": ""})
    assert (config.effective_reply_prefix, config.value_subscriptions) == (
        "plant/reply", ("plant/element/+/+/value",)
    )  # fmt: skip
    with_devices = MqttConfig.from_section({"url": "mqtt://h", "devices": "gw-1;role=writer"})
    assert with_devices.value_subscriptions == (
        "$share/titan/titan/element/+/+/value", "$share/titan/titan/device/+/element/+/+/value"
    )  # fmt: skip


@pytest.mark.parametrize(
    "reply_prefix", ["titan", "titan/element", "titan/submodel/x", "titan/device", "titan/#", "$SYS/x", ""]
)
def test_a_reply_prefix_that_overlaps_titans_own_topics_is_refused(reply_prefix: str) -> None:
    section = {"url": "mqtt://h", "reply_prefix": reply_prefix}
    if not reply_prefix:
        assert MqttConfig.from_section(section).effective_reply_prefix == "titan/reply"
        return
    with pytest.raises(SettingsError, match="reply_prefix"):
        MqttConfig.from_section(section)


@pytest.mark.parametrize(
    ("response_topic", "allowed"),
    [
        ("titan/reply/press-7/1", True),
        ("titan/reply/press-7", False),  # not below the prefix
        ("titan/reply/", False),
        ("titan/submodel/abc/events", False),
        ("titan/element/abc/Speed/value", False),
        ("titan/replyX/1", False),
        ("titan/reply/+/x", False),
        ("titan/reply/#", False),
        ("other/reply/press-7/1", False),
    ],
)
def test_titan_answers_only_below_the_allowed_reply_level(response_topic: str, allowed: bool) -> None:
    assert (reply_refusal(response_topic, "titan/reply/press-7/") is None) == allowed


def test_a_device_names_its_topic_level_roles_and_scopes() -> None:
    device = parse_device("line1-gateway;role=writer;role=reader;scope=https://plant.example/line1/*")
    assert (device.name, sorted(device.principal.roles), device.principal.scopes) == (
        "line1-gateway", ["reader", "writer"], ("https://plant.example/line1/*",)
    )  # fmt: skip
    assert parse_device("gw").principal.roles == frozenset({"writer"})
    assert device_of("titan", "titan/device/gw/element/x/y/value") == "gw"
    assert device_of("titan", "titan/element/x/y/value") is None


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        ("a/b;role=writer", "one topic level"),
        ("+;role=writer", "one topic level"),
        ("$gw", "one topic level"),
        ("gw;role=owner", "unknown role 'owner'"),
        ("gw;colour=red", "is not role=… or scope=…"),
        (["gw", "gw;role=reader"], "listed twice"),
    ],
)
def test_a_device_entry_titan_cannot_use_is_refused(devices: str | list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        MqttConfig.from_section({"url": "mqtt://h", "devices": devices})
