"""The webhook plugin inside Titan: found through its entry point, wired by its hooks, reporting
its health, and delivering a REST change end to end from a real `titan serve`."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from titan_plugin_webhook.sink import WebhookDeliveryError, WebhookSink

from tests.support.app import AppClientFactory
from titan_core.keys import EVENT_SINKS
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings

from .end_to_end import create_shell_and_expect_its_webhook, start_titan, webhook_environment
from .sample_events import make_event  # the same hand-built events as the sink tests
from .webhook_receiver import WebhookReceiver

PLUGIN_DIR = Path(__file__).resolve().parents[3] / "plugins" / "titan_plugin_webhook"


def test_webhook_plugin_is_discovered_through_its_entry_point(settings: Settings) -> None:
    project = tomllib.loads((PLUGIN_DIR / "pyproject.toml").read_text())["project"]

    webhook = next(record for record in get_plugin_manager(settings).records if record.name == "webhook")

    assert project["entry-points"]["titan"] == {"webhook": "titan_plugin_webhook.plugin"}
    assert (webhook.state, webhook.version, webhook.distribution) == (
        "loaded",
        project["version"],
        project["name"],
    )
    assert webhook.hooks == ("titan_event_sinks", "titan_health", "titan_setup_app")


async def test_each_configured_url_becomes_a_once_sink_of_the_app(
    make_app_client: AppClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TITAN_WEBHOOK_URLS", "https://a.example/hook,https://b.example/hook")

    client = await make_app_client()

    webhook_sinks = [sink for sink in client.app[EVENT_SINKS] if isinstance(sink, WebhookSink)]
    assert sorted(sink.url for sink in webhook_sinks) == ["https://a.example/hook", "https://b.example/hook"]
    assert {sink.fanout for sink in webhook_sinks} == {"once"}


async def test_without_urls_the_plugin_is_idle_and_says_so(make_app_client: AppClientFactory) -> None:
    client = await make_app_client()

    body = await (await client.get("/ready")).json()

    assert not [sink for sink in client.app[EVENT_SINKS] if isinstance(sink, WebhookSink)]
    webhook = next(check for check in body["checks"] if check["plugin"] == "webhook")
    assert webhook == {
        "name": "webhook", "ok": True, "plugin": "webhook",
        "detail": "no URLs configured (TITAN_WEBHOOK_URLS); nothing to deliver",
    }  # fmt: skip


async def test_a_bad_setting_takes_the_plugin_out_naming_the_setting(
    make_app_client: AppClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TITAN_WEBHOOK_URL", "https://a.example/hook")  # URLS, with an S

    client = await make_app_client()

    body = await (await client.get("/ready")).json()
    assert body["status"] == "ready"
    webhook = next(plugin for plugin in body["plugins"] if plugin["name"] == "webhook")
    assert webhook["state"] == "failed"
    assert "unknown webhook setting(s) url (TITAN_WEBHOOK_URL)" in webhook["reason"]


async def test_a_failing_receiver_shows_in_ready_without_failing_it(
    make_app_client: AppClientFactory, monkeypatch: pytest.MonkeyPatch, receiver: WebhookReceiver
) -> None:
    monkeypatch.setenv("TITAN_WEBHOOK_URLS", receiver.url)
    monkeypatch.setenv("TITAN_WEBHOOK_RETRIES", "0")
    client = await make_app_client()
    sink = next(sink for sink in client.app[EVENT_SINKS] if isinstance(sink, WebhookSink))
    receiver.answer(503)

    with pytest.raises(WebhookDeliveryError):
        await sink.deliver([make_event(1)])
    response = await client.get("/ready")

    assert response.status == 200
    webhook = next(check for check in (await response.json())["checks"] if check["plugin"] == "webhook")
    assert webhook["ok"] is False
    assert f"{receiver.url} ({sink.name}): 0 delivered; failing: HTTP 503" in webhook["detail"]


@pytest.mark.slow  # starts `titan` as a process: not in `make test-fast`
async def test_webhook_delivers_a_rest_change_end_to_end_and_retries_on_5xx(
    receiver: WebhookReceiver, database_url: str, tmp_path: Path
) -> None:
    import sys

    server = start_titan(
        [sys.executable, "-m", "titan_core"],
        database_url,
        log_dir=tmp_path,
        env=webhook_environment(receiver),
    )
    try:
        await create_shell_and_expect_its_webhook(server.base_url, receiver)
    finally:
        server.stop()
        print(server.log_tail(100))
