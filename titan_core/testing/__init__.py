"""`titan_core.testing`: what a plugin author needs to test a Titan plugin, without copying Titan's
own test helpers. The fixtures come with the pytest plugin (`titan_core.testing.pytest_plugin`,
active wherever titan-aas is installed); the names here are for imports in tests.

Documented for outsiders in docs/testing-plugins.md. Like `titan_core.plugin_api`, this surface
follows the plugin API's compatibility policy.
"""

from __future__ import annotations

from titan_core.testing.apps import (
    INSTALLED,
    AppClient,
    PluginChoice,
    TitanClients,
    check_entry_point,
    plugin_manager_with,
)
from titan_core.testing.contract import (
    ContractLimits,
    SinkContractError,
    SinkProbe,
    check_batch_acknowledgement,
    check_ordering,
    check_retries,
    check_shutdown,
    check_sink_contract,
    check_sink_shape,
)
from titan_core.testing.documents import json_refs
from titan_core.testing.events import EventFactory, make_event
from titan_core.testing.http_receiver import HANG, HttpReceiver, ReceivedRequest, unused_port
from titan_core.testing.processes import kill_process, stop_process
from titan_core.testing.sinks import RecordingSink
from titan_core.testing.waiting import wait_for_delivery

__all__ = [
    "HANG",
    "INSTALLED",
    "AppClient",
    "ContractLimits",
    "EventFactory",
    "HttpReceiver",
    "PluginChoice",
    "ReceivedRequest",
    "RecordingSink",
    "SinkContractError",
    "SinkProbe",
    "TitanClients",
    "check_batch_acknowledgement",
    "check_entry_point",
    "check_ordering",
    "check_retries",
    "check_shutdown",
    "check_sink_contract",
    "check_sink_shape",
    "json_refs",
    "kill_process",
    "make_event",
    "plugin_manager_with",
    "stop_process",
    "unused_port",
    "wait_for_delivery",
]
