"""Keeping the tests that share an expensive module-scoped fixture on one pytest-xdist worker.

Under `--dist loadgroup` (`make test`, `make test-fast`), xdist hands out single tests, so the tests
of one module can land on both workers and each would build the module's fixture: a second set of
wheels and fresh venvs (minutes), a second live server or browser. Every test that uses a fixture of
module (or package, or class) scope gets an `xdist_group` named after its module, so the module runs
on one worker and builds the fixture once. Session-scoped fixtures are per worker by nature (each
worker has its own database and prefixes, tests/support/workers.py) and group nothing.

Correctness does not depend on this: every fixture takes its own temporary directory, free port and
names, so a split module would only cost time.
"""

from __future__ import annotations

import pytest

_SHARED_SCOPES = {"module", "package", "class"}


def shares_a_module_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture that outlives it within its module (or class, or package)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        definitions and definitions[-1].scope in _SHARED_SCOPES
        for definitions in info.name2fixturedefs.values()
    )


def group_shared_fixtures(items: list[pytest.Item]) -> None:
    for item in items:
        if shares_a_module_fixture(item) and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
