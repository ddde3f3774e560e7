"""The IDTA Part 2 HTTP API: one module per resource family, wired by `routes.py`."""
