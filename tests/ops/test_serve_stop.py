"""How long `titan serve` lets a request in flight finish when it is stopped: half of
`stop_timeout`, then the request is cut and the shutdown runs (the workers' variant is in
test_serve_workers.py)."""

from __future__ import annotations

import pytest

from tests.support.in_flight import stop_with_a_request_in_flight
from tests.support.live_server import LiveServerFactory
from tests.support.services import LOOPBACK

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

STOP_TIMEOUT_S = 8  # requests in flight get 4 s of it


def test_a_request_in_flight_gets_half_the_stop_timeout_then_the_server_exits(
    start_live_server: LiveServerFactory,
) -> None:
    server = start_live_server(env={"TITAN_STOP_TIMEOUT": str(STOP_TIMEOUT_S)})
    # aiohttp's own default would have waited 60 s for the request.
    code, took = stop_with_a_request_in_flight(server.process, LOOPBACK, server.port, deadline=45,
                                               diagnostics=server.log_tail)  # fmt: skip
    assert code == 0, server.log_tail()
    # Not a speed check: a lower bound, which a slow machine only makes larger. Shorter would mean
    # the request was not waited for.
    assert took >= STOP_TIMEOUT_S / 2, f"stopped after {took:.1f} s, without waiting for the request"
