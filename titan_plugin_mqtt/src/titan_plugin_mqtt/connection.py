"""The write-back connection: subscribe, take device writes, publish their answers.

The same client as the event publisher (client.py), with the value-topic subscriptions, the
session the settings ask for (`clean_session`, `session_expiry`) and a handler for incoming
messages. One background task owns the connection for the life of the app, reconnecting with
exponential backoff; answers never connect on their own: they wait (briefly) for the task's
connection and fail fast when there is none. Events go out on the event publisher (publisher.py),
a connection of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

from titan_plugin_mqtt.client import MessageHandler, MqttClient, Outgoing, PublishFailed, tls_context
from titan_plugin_mqtt.config import MqttConfig
from titan_plugin_mqtt.link import default_client_id

__all__ = ["MqttConnection", "Outgoing", "PublishFailed", "tls_context"]


class MqttConnection(MqttClient):
    """The write-back connection of an app: its subscription, incoming messages, published answers."""

    def __init__(
        self, config: MqttConfig, *, subscriptions: Sequence[str], on_message: MessageHandler
    ) -> None:
        super().__init__(
            config,
            client_id=config.client_id or default_client_id(),
            role="MQTT connection",
            clean=config.clean_session,
            subscriptions=subscriptions,
            on_message=on_message,
        )

    async def publish(self, message: Outgoing, *, timeout: float = 10.0) -> None:
        """Publish one message (an answer to a device) and wait for the broker's acknowledgement.

        Raises `NotConnected` or `PublishFailed`, also when the broker refuses the message.
        """
        refused = await self.publish_many([message], timeout=timeout)
        if refused:
            raise PublishFailed(f"the MQTT broker {self.address.display} refused it: {refused[0].reason}", 0)
