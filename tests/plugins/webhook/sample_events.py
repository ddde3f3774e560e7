"""Hand-built events for the webhook tests, as the core's pipeline would hand them to a sink."""

from __future__ import annotations

import json
import uuid
from typing import Any

from titan_core.delivery.sink import Event


def make_event(seq: int, value: Any = 23.5) -> Event:
    envelope = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "io.admin-shell.events.v1.valueChanged",
        "source": "/submodels/aHR0cHM6Ly9leGFtcGxlLmNvbS9pZHMvc20vNDcxMQ/submodel-elements/Temperature",
        "time": "2026-11-27T05:25:48.123456Z",
        "datacontenttype": "application/json",
        "titanseq": str(seq),
        "titanentity": "element",
        "titanid": "https://example.com/ids/sm/4711",
        "titanpath": "Temperature",
        "titanorigin": "rest",
        "data": value,
    }
    return Event(envelope=envelope, json=json.dumps(envelope, separators=(",", ":")).encode())
