"""The test suite, a package so its helpers are imported by name, not found by pytest's path insertion.

Shared helpers: `tests.support.<module>`; an area's own helpers: relative (`from .helpers import ...`).
Fixtures live in conftest.py files, which pytest loads; nothing imports a conftest or a test module
(tests/test_suite_hygiene.py checks it).
"""
