"""The webhook sink on its own: `deliver()` with `Event`s against a real local HTTP receiver (both
from titan_core.testing), and the sink contract check run against it."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from titan_plugin_webhook import SIGNATURE_HEADER, SignatureError, verify_signature
from titan_plugin_webhook.config import WebhookConfig
from titan_plugin_webhook.sink import WebhookDeliveryError, WebhookSink

from titan_core.plugin_api import EventSink, SettingsError
from titan_core.testing import (
    HANG,
    ContractLimits,
    HttpReceiver,
    SinkProbe,
    check_sink_contract,
    make_event,
    unused_port,
)

SECRET = "s3cr3t-for-tests"


@pytest.fixture
async def make_sink() -> AsyncIterator[Any]:
    """Sinks with fast retries by default; closed after the test (closing twice is harmless)."""
    sinks: list[WebhookSink] = []

    def make(url: str, **settings: Any) -> WebhookSink:
        config = WebhookConfig.from_section({"urls": url, "backoff": 0.01, "max_backoff": 0.05, **settings})
        sink = WebhookSink(url, config)
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        await sink.close()


async def test_each_event_is_posted_in_order_as_a_structured_cloudevent(
    http_receiver: HttpReceiver, make_sink: Any
) -> None:
    sink: WebhookSink = make_sink(http_receiver.url)
    events = [make_event(1, data=20.0), make_event(2, data=21.5)]

    await sink.deliver(events)
    await sink.close()

    assert isinstance(sink, EventSink) and sink.fanout == "once"
    assert [request.body for request in http_receiver.requests] == [event.json for event in events]
    for request, event in zip(http_receiver.requests, events, strict=True):
        assert request.headers["Content-Type"] == "application/cloudevents+json"
        assert not any(name.lower().startswith("ce-") for name in request.headers)  # not binary mode
        parsed = from_http_event(HTTPMessage(headers=dict(request.headers), body=request.body))
        assert parsed.get_id() == event.envelope["id"]
        assert parsed.get_type() == "io.admin-shell.events.v1.valueChanged"
        assert parsed.get_extension("titanseq") == event.envelope["titanseq"]
        assert parsed.get_data() == event.envelope["data"]
    assert sink.delivered_count == 2 and sink.healthy


async def test_signature_header_verifies_with_the_shared_secret(
    http_receiver: HttpReceiver, make_sink: Any
) -> None:
    sink: WebhookSink = make_sink(http_receiver.url, secret=SECRET)
    before = int(time.time())

    await sink.deliver([make_event(1)])
    await sink.close()

    request = http_receiver.requests[0]
    header = request.headers[SIGNATURE_HEADER]
    verify_signature(SECRET, header, request.body)
    # The documented recipe, by hand: HMAC-SHA256(secret, "<t>." + body), hex.
    fields = dict(part.split("=", 1) for part in header.split(","))
    assert before <= int(fields["t"]) <= time.time()
    expected = hmac.new(
        SECRET.encode(), fields["t"].encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert fields["v1"] == expected
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature("another secret", header, request.body)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, header, request.body.replace(b"23.5", b"99.9"))
    with pytest.raises(SignatureError, match="at most 300 s is accepted"):
        verify_signature(SECRET, header, request.body, now=time.time() + 301)
    with pytest.raises(SignatureError, match="no Titan-Signature header"):
        verify_signature(SECRET, None, request.body)


async def test_without_a_secret_no_signature_is_sent(http_receiver: HttpReceiver, make_sink: Any) -> None:
    sink: WebhookSink = make_sink(http_receiver.url)

    await sink.deliver([make_event(1)])
    await sink.close()

    assert SIGNATURE_HEADER not in http_receiver.requests[0].headers


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
async def test_server_errors_and_throttling_are_retried_until_delivered(
    http_receiver: HttpReceiver, make_sink: Any, status: int
) -> None:
    sink: WebhookSink = make_sink(http_receiver.url, secret=SECRET, retries=3)
    http_receiver.answer(status, status)
    event = make_event(1)

    await sink.deliver([event])
    await sink.close()

    assert [request.body for request in http_receiver.requests] == [event.json] * 3
    for request in http_receiver.requests:  # every attempt is signed on its own
        verify_signature(SECRET, request.headers[SIGNATURE_HEADER], request.body)
    assert sink.healthy


async def test_retry_after_is_honoured_instead_of_the_backoff(
    http_receiver: HttpReceiver, make_sink: Any
) -> None:
    # A backoff of a minute would fail the test; Retry-After: 0 says "now".
    sink: WebhookSink = make_sink(http_receiver.url, backoff=60, max_backoff=60)
    http_receiver.answer(429, headers={"Retry-After": "0"})

    started = time.monotonic()
    await sink.deliver([make_event(1)])
    await sink.close()

    assert len(http_receiver.requests) == 2
    assert time.monotonic() - started < 5


async def test_when_retries_run_out_deliver_raises_and_the_batch_retry_skips_what_went_through(
    http_receiver: HttpReceiver, make_sink: Any
) -> None:
    sink: WebhookSink = make_sink(http_receiver.url, retries=1)
    first, second = make_event(1), make_event(2)
    http_receiver.answer(204, 503, 503)  # first delivered; second fails twice

    with pytest.raises(WebhookDeliveryError, match=r"HTTP 503 after 2 attempt\(s\)"):
        await sink.deliver([first, second])
    assert not sink.healthy
    # Titan's sink runner delivers the same batch again: the first event is not sent twice.
    await sink.deliver([first, second])
    await sink.close()

    assert [request.body for request in http_receiver.requests] == [
        first.json,
        second.json,
        second.json,
        second.json,
    ]
    assert sink.healthy


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422, 301])
async def test_a_refusing_answer_drops_the_request_without_retry_and_goes_on(
    http_receiver: HttpReceiver, make_sink: Any, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    sink: WebhookSink = make_sink(http_receiver.url, retries=3)
    refused, following = make_event(1), make_event(2)
    http_receiver.answer(status, headers={"Location": "http://elsewhere.invalid/"} if status == 301 else None)

    with caplog.at_level(logging.ERROR):
        await sink.deliver([refused, following])
    await sink.close()

    assert [request.body for request in http_receiver.requests] == [refused.json, following.json]
    assert sink.dropped_count == 1 and sink.delivered_count == 1
    assert f"refused events {refused.envelope['id']} (HTTP {status}); dropped" in caplog.text


async def test_an_unreachable_receiver_is_retried_then_reported(make_sink: Any) -> None:
    sink: WebhookSink = make_sink(f"http://127.0.0.1:{unused_port()}/hook", retries=2)

    with pytest.raises(WebhookDeliveryError, match=r"ClientConnectorError.* after 3 attempt\(s\)"):
        await sink.deliver([make_event(1)])
    await sink.close()

    assert not sink.healthy
    assert sink.last_problem is not None and "ClientConnectorError" in sink.last_problem


async def test_a_receiver_that_does_not_answer_in_time_is_retried(
    http_receiver: HttpReceiver, make_sink: Any
) -> None:
    sink: WebhookSink = make_sink(http_receiver.url, timeout=0.3, retries=1)
    http_receiver.answer(HANG)
    event = make_event(1)

    await sink.deliver([event])
    await sink.close()

    assert [request.body for request in http_receiver.requests] == [event.json, event.json]


async def test_max_batch_sends_cloudevents_batches(http_receiver: HttpReceiver, make_sink: Any) -> None:
    sink: WebhookSink = make_sink(http_receiver.url, max_batch=2, secret=SECRET)
    events = [make_event(seq) for seq in (1, 2, 3)]

    await sink.deliver(events)
    await sink.close()

    assert [request.headers["Content-Type"] for request in http_receiver.requests] == [
        "application/cloudevents-batch+json"
    ] * 2
    assert [request.json() for request in http_receiver.requests] == [
        [dict(events[0].envelope), dict(events[1].envelope)],
        [dict(events[2].envelope)],
    ]
    for request in http_receiver.requests:
        verify_signature(SECRET, request.headers[SIGNATURE_HEADER], request.body)


async def test_a_closed_sink_refuses_to_deliver(http_receiver: HttpReceiver, make_sink: Any) -> None:
    sink: WebhookSink = make_sink(http_receiver.url)
    await sink.close()

    with pytest.raises(WebhookDeliveryError, match="the sink is closed"):
        await sink.deliver([make_event(1)])
    assert http_receiver.requests == []


def test_sink_names_are_stable_distinct_and_hide_the_url() -> None:
    config = WebhookConfig()
    secret_url = "https://user:pw@example.com/hook?token=abc"

    first, again = WebhookSink(secret_url, config), WebhookSink(secret_url, config)
    other = WebhookSink("https://example.com/other", config)

    assert first.name == again.name != other.name
    assert first.name.startswith("webhook-") and "abc" not in first.name
    assert first.display_url == "https://example.com/hook"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"url": "https://example.com"},
            "unknown webhook setting(s) url (TITAN_WEBHOOK_URL); known: backoff,",
        ),
        (
            {"urls": "ftp://example.com/x"},
            "'ftp://example.com/x' is not an http:// or https:// URL with a host",
        ),
        ({"urls": "https://a.example/x, https://a.example/x"}, "names the same URL twice"),
        ({"timeout": "soon"}, "webhook setting timeout must be a number, got 'soon'"),
        ({"retries": "-1"}, "webhook setting retries must be at least 0, got '-1'"),
        ({"max_batch": "2.5"}, "webhook setting max_batch must be a whole number, got '2.5'"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(section: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        WebhookConfig.from_section(section)
    assert message in str(refused.value)


def test_settings_accept_environment_strings_and_toml_lists() -> None:
    from_environment = WebhookConfig.from_section(
        {"urls": "https://a.example/hook, https://b.example/hook", "retries": "5", "timeout": "2.5"}
    )
    from_toml = WebhookConfig.from_section({"urls": ["https://a.example/hook"], "max_batch": 10})

    assert from_environment.urls == ("https://a.example/hook", "https://b.example/hook")
    assert (from_environment.retries, from_environment.timeout) == (5, 2.5)
    assert (from_toml.urls, from_toml.max_batch) == (("https://a.example/hook",), 10)


async def test_the_webhook_sink_keeps_the_sink_contract(http_receiver: HttpReceiver, make_sink: Any) -> None:
    sink: WebhookSink = make_sink(http_receiver.url, retries=1)

    def received() -> list[str]:
        return [
            str(event["id"]) for request in http_receiver.accepted for event in _events_in(request.json())
        ]

    def down() -> None:
        http_receiver.down = True

    def up() -> None:
        http_receiver.down = False

    await check_sink_contract(sink, SinkProbe(received, down, up), ContractLimits(events=8))


def _events_in(body: Any) -> list[Any]:
    """The envelopes of one request: structured mode sends one, batched mode a list."""
    return body if isinstance(body, list) else [body]
