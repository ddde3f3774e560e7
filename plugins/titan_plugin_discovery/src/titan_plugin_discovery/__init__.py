"""Titan-AAS discovery plugin: the Part 2 Discovery service (asset links -> shell ids).

Links come from two sources: derived from the repository's shells (their `assetInformation`, kept
in step in each shell write's own transaction) and posted by clients through the Discovery API.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("titan-aas-discovery")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
