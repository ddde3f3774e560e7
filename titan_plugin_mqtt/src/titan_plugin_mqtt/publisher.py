"""`EventPublisher`: the connection every event goes out on.

The same client as write-back (client.py), on a connection of its own with client id
`<client_id>-events` and a clean session: events must not queue behind device writes and their
answers, and nothing is subscribed here, so what was in flight when a connection broke is simply
sent again on the next one.
"""

from __future__ import annotations

from titan_plugin_mqtt.client import MqttClient, Refused
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.link import default_client_id

__all__ = ["EventPublisher", "Refused"]


class EventPublisher(MqttClient):
    """The event-publishing connection: reconnects with backoff, publishes batches pipelined."""

    def __init__(self, config: MqttConfig) -> None:
        base = config.client_id or default_client_id()
        # Its own client id: a broker closes the older of two connections that share one.
        super().__init__(config, client_id=f"{base}-events", role="MQTT event publisher", clean=True)
