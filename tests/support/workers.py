"""Which pytest-xdist worker this process is, for names on the shared services.

Every name a test makes on the shared PostgreSQL, Redis or Mosquitto (a database, a key prefix, a
topic prefix) carries the worker id, so parallel workers (`make test`, `-n auto`) can never meet
and a leftover name says which worker left it. Without xdist the id is `main`.
"""

from __future__ import annotations

import os


def worker_id() -> str:
    """`gw0`, `gw1`, ... under pytest-xdist (PYTEST_XDIST_WORKER), else `main`."""
    return os.environ.get("PYTEST_XDIST_WORKER") or "main"
