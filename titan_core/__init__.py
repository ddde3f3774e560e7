"""Titan-AAS core: the IDTA Part 2 repository server, its event feed and its plugin host."""

from importlib.metadata import PackageNotFoundError, version

# Plugins mark their hook implementations with `@titan_core.hookimpl` (see docs/plugins.md).
from titan_core.hookspecs import hookimpl

# The name on PyPI (`pip install titan-aas`); the import package stays `titan_core`.
DISTRIBUTION = "titan-aas"

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["DISTRIBUTION", "__version__", "hookimpl"]
