"""The registry's Alembic branch `titan_registry`: the core migrates it with its own chain."""

from pathlib import Path

VERSIONS = Path(__file__).with_name("versions")
BRANCH = "titan_registry"
