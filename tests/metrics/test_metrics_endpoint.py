"""Issue 11, must-hold point 5: `GET /metrics` parses with prometheus_client's parser, and its
counters move as the tests drive them (a write, a delivered event, a lagging sink)."""

from __future__ import annotations

from tests.events.helpers import SM_ID, b64, prop, submodel
from titan_core.credentials.api_keys import config_entry, hash_api_key, new_api_key
from titan_core.settings import Settings
from titan_core.testing import RecordingSink, TitanClients

from .scrape import scrape, scrape_until

VALUE_ROUTE = "/submodels/{submodelIdentifier}/submodel-elements/{idShortPath}/$value"


async def test_a_write_moves_the_http_and_event_counters_and_a_delivered_event_the_sink_counters(
    make_titan_client: TitanClients,
) -> None:
    sink = RecordingSink("recorder")
    client = await make_titan_client(sinks=[sink])
    before = await scrape(client)
    assert before.value("titan_events_committed_total") == 0
    assert before.value("titan_sink_owner", sink="recorder") == 1

    created = await client.post(
        "/submodels", json=submodel(elements=[prop("Speed", "0", value_type="xs:int")])
    )
    assert created.status == 201, await created.text()
    written = await client.patch(f"/submodels/{b64(SM_ID)}/submodel-elements/Speed/$value", json=7)
    assert written.status == 204, await written.text()

    # The outbox is read before the live state, so one scrape may still count events the relay
    # was publishing meanwhile: wait for both.
    after = await scrape_until(
        client,
        lambda s: (
            s.value("titan_sink_delivered_events_total", sink="recorder") == 2
            and s.value("titan_outbox_pending_events") == 0
        ),
        "delivery of 2 events",
    )
    assert after.value("titan_http_requests_total", method="PATCH", route=VALUE_ROUTE, status="204") == 1
    assert after.value("titan_http_requests_total", method="POST", route="/submodels", status="201") == 1
    assert after.value("titan_http_request_duration_seconds_count", method="PATCH", route=VALUE_ROUTE) == 1
    assert after.value("titan_events_committed_total") == 2
    assert after.value("titan_events_published_total") == 2
    assert after.value("titan_bus_head_titanseq") == 2
    assert after.value("titan_sink_position_titanseq", sink="recorder", fanout="once") == 2
    assert after.value("titan_sink_lag_events", sink="recorder") == 0
    assert after.value("titan_database_up") == 1
    # The route label is the template: an identifier never becomes a label value.
    assert b64(SM_ID) not in after.text and SM_ID not in after.text


async def test_a_sink_that_keeps_failing_shows_its_lag_and_failures(
    make_titan_client: TitanClients,
) -> None:
    sink = RecordingSink("broken", fail_first=1_000_000)
    client = await make_titan_client(sinks=[sink])
    assert (await client.post("/submodels", json=submodel())).status == 201
    for value in range(3):
        response = await client.patch(f"/submodels/{b64(SM_ID)}/submodel-elements/Speed/$value", json=value)
        assert response.status == 204
    lagging = await scrape_until(
        client,
        lambda s: (
            s.value("titan_bus_head_titanseq") == 4 and (s.value("titan_sink_failures_total") or 0) >= 2
        ),
        "two failed deliveries after 4 events",
    )
    assert lagging.value("titan_sink_lag_events", sink="broken") == 4
    assert lagging.value("titan_sink_failing", sink="broken") == 1
    assert lagging.value("titan_sink_delivered_events_total", sink="broken") == 0


async def test_an_unmatched_path_is_counted_under_one_label_not_its_own(
    make_titan_client: TitanClients,
) -> None:
    client = await make_titan_client()
    for number in range(3):
        assert (await client.get(f"/no-such-thing/{number}")).status == 404
    found = await scrape(client)
    assert found.value("titan_http_requests_total", method="GET", route="unmatched", status="404") == 3
    assert "/no-such-thing" not in found.text


async def test_two_apps_in_one_process_count_separately(make_titan_client: TitanClients) -> None:
    first = await make_titan_client()
    second = await make_titan_client()
    for _ in range(2):
        assert (await first.get("/shells")).status == 200
    assert (await scrape(first)).value("titan_http_requests_total", route="/shells") == 2
    assert (await scrape(second)).value("titan_http_requests_total", route="/shells") is None


async def test_metrics_need_a_reader_credential_when_auth_is_on_unlike_health(
    make_titan_client: TitanClients, settings: Settings
) -> None:
    key = new_api_key()
    entry = config_entry(hash_api_key(key), "prometheus", ["reader"], ["metrics-only:nothing"])
    client = await make_titan_client(settings.replace(auth_enabled=True, api_keys=(entry,)))
    anonymous = await client.get("/metrics")
    assert anonymous.status == 401, await anonymous.text()
    assert (await client.get("/health")).status == 200
    found = await scrape(client, **{"X-API-Key": key})
    assert found.value("titan_http_requests_total", route="/metrics", status="401") == 1


async def test_metrics_can_be_switched_off(make_titan_client: TitanClients, settings: Settings) -> None:
    client = await make_titan_client(settings.replace(metrics_enabled=False))
    # status-only: the route's absence (404) is the point; there is no body to compare.
    assert (await client.get("/metrics")).status == 404
