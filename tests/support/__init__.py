"""Helpers for the test suite: real services (shared and throwaway), live servers, waiting, twins.

Imported by tests as `from tests.support.<module> import ...` (`tests` is a package; pyproject's
`pythonpath = ["."]` puts the repository root on `sys.path` for pytest).
"""
