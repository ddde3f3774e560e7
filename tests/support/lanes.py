"""Lane markers put on tests by what they need, so `make test-fast` can leave out the slow lanes.

Marked from the fixtures a test uses and where it lives, not by hand: a new test that asks for
`redis_url` is in the `redis` lane without anyone remembering to mark it.

- `postgresql`, `redis`, `mqtt`: the test uses that service (shared or throwaway), or runs on the
  PostgreSQL backend (the `postgresql` case of `database_url`).
- `fault`: the test stops, kills or restarts a service (a `throwaway_*` fixture).
- `conformance`: under tests/conformance (the IDTA test engines).
- `fresh_venv`: a file named `*fresh_venv*.py` (builds wheels and installs them into a new venv).
- `browser`: a file named `*browser*.py` (headless Chromium).

Markers written by hand (`slow`) stay as they are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

LANES = {
    "postgresql": "uses PostgreSQL (the shared server, a throwaway one, or the postgresql backend case)",
    "redis": "uses Redis (shared or throwaway)",
    "mqtt": "uses an MQTT broker (shared or throwaway)",
    "fault": "stops, kills or restarts a service (throwaway_* fixtures)",
    "conformance": "runs the IDTA conformance test engines (tests/conformance)",
    "fresh_venv": "builds wheels and installs them into a fresh venv",
    "browser": "drives headless Chromium",
}

_FIXTURE_LANES = {
    "postgres_server": "postgresql",
    "postgres_session_database": "postgresql",
    "make_postgres_database": "postgresql",
    "throwaway_postgres": "postgresql",
    "redis_url": "redis",
    "redis_prefix": "redis",
    "throwaway_redis": "redis",
    "mqtt_url": "mqtt",
    "mqtt_topic_prefix": "mqtt",
    "throwaway_mosquitto": "mqtt",
}


def lanes_of(item: pytest.Item) -> set[str]:
    """The lanes of one collected test (see the module docstring for the rules)."""
    fixtures = set(getattr(item, "fixturenames", ()))
    lanes = {lane for fixture, lane in _FIXTURE_LANES.items() if fixture in fixtures}
    if any(name.startswith("throwaway_") for name in fixtures):
        lanes.add("fault")
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("database_url") == "postgresql":
        lanes.add("postgresql")
    path = Path(str(item.path))
    if "conformance" in path.parts:
        lanes.add("conformance")
    if "fresh_venv" in path.name:
        lanes.add("fresh_venv")
    if "browser" in path.name:
        lanes.add("browser")
    return lanes


def mark_lanes(items: list[pytest.Item]) -> None:
    for item in items:
        for lane in sorted(lanes_of(item)):
            item.add_marker(lane)
