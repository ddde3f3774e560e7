"""titan-aas-ws: authenticated, filtered, resumable WebSocket events (`/ws/events`, DESIGN §4) and
the live console page (`/ws/console`) for Titan-AAS."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("titan-aas-ws")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
