"""Each webhook URL receives events as a reader with its configured scopes: a receiver scoped to one
line never gets another line's events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from titan_plugin_webhook.config import WebhookConfig
from titan_plugin_webhook.sink import WebhookSink

from titan_core.delivery.sink import Event
from titan_core.settings import SettingsError


def event(seq: int, identifier: str) -> Event:
    envelope = {"specversion": "1.0", "id": f"event-{seq}", "type": "io.admin-shell.events.v1.updated",
                "source": "/submodels/x", "titanseq": str(seq), "titanentity": "submodel", "titanid": identifier,
                "titanorigin": "rest", "data": {}}  # fmt: skip
    return Event(envelope=envelope, json=json.dumps(envelope).encode())


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def take(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", take)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("/hook")), received
    await server.close()


async def test_a_scoped_webhook_receives_only_events_of_its_twins(
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = receiver
    config = WebhookConfig.from_section({"urls": url, "scopes": json.dumps({url: ["https://plant/line1/*"]})})
    sink = WebhookSink(url, config)
    try:
        await sink.deliver([event(1, "https://plant/line1/sm"), event(2, "https://plant/line2/sm"),
                            event(3, "https://plant/line1/other")])  # fmt: skip
    finally:
        await sink.close()

    assert [body["titanid"] for body in received] == ["https://plant/line1/sm", "https://plant/line1/other"]
    assert sink.principal.scopes == ("https://plant/line1/*",)


async def test_a_webhook_without_scopes_receives_every_event(
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = receiver
    sink = WebhookSink(url, WebhookConfig.from_section({"urls": url}))
    try:
        await sink.deliver([event(1, "https://plant/line1/sm"), event(2, "https://plant/line2/sm")])
    finally:
        await sink.close()

    assert len(received) == 2


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        ({"https://elsewhere.example/hook": ["*"]}, "not one of the urls"),
        ({"https://a.example/hook": "https://plant/*"}, "list of identifier patterns"),
        ("not json", "must map URLs"),
    ],
)
def test_scopes_of_unknown_urls_or_of_the_wrong_shape_are_refused(scopes: Any, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        WebhookConfig.from_section({"urls": "https://a.example/hook", "scopes": scopes})
