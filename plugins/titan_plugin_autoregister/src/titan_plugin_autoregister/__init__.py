"""Titan-AAS automatic registration: keeps a Part 2 AAS Registry, Submodel Registry and (optionally)
a Discovery service in step with this instance's shells and submodels."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("titan-aas-autoregister")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
