"""The webhook plugin inside Titan, tested as any plugin author can (titan_core.testing only): found
through its entry point, wired by its hooks, reporting its health."""

from __future__ import annotations

from pathlib import Path

import pytest
from titan_plugin_webhook import plugin
from titan_plugin_webhook.sink import WebhookDeliveryError, WebhookSink

from titan_core.plugin_api import API_VERSION, Settings
from titan_core.testing import AppClient, HttpReceiver, TitanClients, check_entry_point, make_event

PLUGIN_DIR = Path(__file__).resolve().parents[1]


def webhook_sinks(client: AppClient) -> list[WebhookSink]:
    return list(client.app[plugin.SINKS])


def test_webhook_plugin_is_discovered_through_its_entry_point(titan_settings: Settings) -> None:
    webhook = check_entry_point(titan_settings, PLUGIN_DIR, "webhook", "titan_plugin_webhook.plugin")

    assert webhook.hooks == ("titan_event_sinks", "titan_health", "titan_setup_app")
    assert API_VERSION.split(".")[0] == "1" and plugin.TITAN_PLUGIN_API == ">=1.0,<2"


async def test_each_configured_url_becomes_a_once_sink_of_the_app(
    make_titan_client: TitanClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TITAN_WEBHOOK_URLS", "https://a.example/hook,https://b.example/hook")

    client = await make_titan_client(plugins=["webhook"])

    sinks = webhook_sinks(client)
    assert sorted(sink.url for sink in sinks) == ["https://a.example/hook", "https://b.example/hook"]
    assert {sink.fanout for sink in sinks} == {"once"}


async def test_without_urls_the_plugin_is_idle_and_says_so(make_titan_client: TitanClients) -> None:
    client = await make_titan_client(plugins=["webhook"])

    body = await (await client.get("/ready")).json()

    assert webhook_sinks(client) == []
    webhook = next(check for check in body["checks"] if check["plugin"] == "webhook")
    assert webhook == {
        "name": "webhook", "ok": True, "plugin": "webhook",
        "detail": "no URLs configured (TITAN_WEBHOOK_URLS); nothing to deliver",
    }  # fmt: skip


async def test_a_bad_setting_takes_the_plugin_out_naming_the_setting(
    make_titan_client: TitanClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TITAN_WEBHOOK_URL", "https://a.example/hook")  # URLS, with an S

    client = await make_titan_client(plugins=["webhook"])

    body = await (await client.get("/ready")).json()
    assert body["status"] == "ready"
    webhook = next(plugin for plugin in body["plugins"] if plugin["name"] == "webhook")
    assert webhook["state"] == "failed"
    assert "unknown webhook setting(s) url (TITAN_WEBHOOK_URL)" in webhook["reason"]


async def test_a_failing_receiver_shows_in_ready_without_failing_it(
    make_titan_client: TitanClients, monkeypatch: pytest.MonkeyPatch, http_receiver: HttpReceiver
) -> None:
    monkeypatch.setenv("TITAN_WEBHOOK_URLS", http_receiver.url)
    monkeypatch.setenv("TITAN_WEBHOOK_RETRIES", "0")
    client = await make_titan_client(plugins=["webhook"])
    (sink,) = webhook_sinks(client)
    http_receiver.answer(503)

    with pytest.raises(WebhookDeliveryError):
        await sink.deliver([make_event(1)])
    response = await client.get("/ready")

    assert response.status == 200
    webhook = next(check for check in (await response.json())["checks"] if check["plugin"] == "webhook")
    assert webhook["ok"] is False
    assert f"{http_receiver.url} ({sink.name}): 0 delivered; failing: HTTP 503" in webhook["detail"]
