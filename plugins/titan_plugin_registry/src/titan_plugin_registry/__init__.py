"""Titan-AAS registry plugin: the IDTA Part 2 AAS Registry and Submodel Registry services."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("titan-aas-registry")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
