"""Types for the in-process app fixtures (`app_client`, `make_app_client`), for test annotations.

Both are the plugin authors' kit (titan_core.testing) under the names this suite has always used.
"""

from __future__ import annotations

from titan_core.testing import AppClient, TitanClients

AppClientFactory = TitanClients
"""`make_app_client(settings=None, *, plugins=(), sinks=(), plugin_manager=None)`: a started client."""

__all__ = ["AppClient", "AppClientFactory"]
