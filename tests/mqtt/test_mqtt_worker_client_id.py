"""A fixed MQTT client id becomes each worker's own (`<client_id>-w<I>`) under `titan serve --workers`,
so the broker does not drop one worker's connection when another connects with the same id. The
live check with two workers on a real broker is tests/ops/test_serve_workers.py."""

from __future__ import annotations

import pytest
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.plugin import per_worker

from titan_core.workers import WORKER_VARIABLE, WorkerSlot


def _config(client_id: str) -> MqttConfig:
    return MqttConfig.from_section({"url": "mqtt://broker.example", "client_id": client_id})


def test_a_fixed_client_id_gets_the_worker_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKER_VARIABLE, WorkerSlot(2, 3, 100).encode())

    assert per_worker(_config("plant-7")).client_id == "plant-7-w2"
    # Without a fixed id each process already makes a unique one (host, pid, random).
    assert per_worker(_config("")).client_id == ""


def test_outside_workers_the_client_id_is_as_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKER_VARIABLE, raising=False)

    assert per_worker(_config("plant-7")).client_id == "plant-7"
