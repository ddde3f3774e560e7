"""Helpers for the test suite: real services (shared and throwaway), live servers, waiting.

Imported by tests as `from support.<module> import ...` (pytest puts `tests/` on `sys.path`).
"""
