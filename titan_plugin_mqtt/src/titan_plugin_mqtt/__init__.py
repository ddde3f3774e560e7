"""Titan-AAS MQTT plugin: every change published on MQTT, and value write-back from devices.

The hooks are in `titan_plugin_mqtt.plugin`; topics in `titan_plugin_mqtt.topics`.
"""

from importlib.metadata import PackageNotFoundError, version

from titan_plugin_mqtt.topics import element_topic, error_topic_of, event_topic

try:
    __version__ = version("titan-aas-mqtt")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "element_topic", "error_topic_of", "event_topic"]
