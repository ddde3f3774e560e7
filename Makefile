# The two entry points on a fresh machine:
#   make run   - set up .venv, serve the demo twin shipped in the package (loaded only into an
#                empty database) on the embedded defaults (SQLite file titan.sqlite3, memory bus,
#                http://127.0.0.1:8080)
#   make test  - set up .venv, make sure PostgreSQL/Redis/Mosquitto answer, run the whole suite on
#                two pytest-xdist workers
# Both reinstall into .venv only when a pyproject.toml changed (scripts/bootstrap.sh).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
# Extra flags: `make run SERVE_ARGS="--port 9000"`, `make test PYTEST_ARGS="-k events -x"`.
SERVE_ARGS ?=
PYTEST_ARGS ?=
# Both test targets run on pytest-xdist workers; each worker has its own database, Redis key prefix,
# MQTT topic prefix, temporary directories and free ports (docs/testing.md). `loadgroup` keeps a
# module whose tests share a module-scoped fixture on one worker (tests/support/parallel.py).
# Serial: `make test PYTEST_ARGS="-n 0"` (or TEST_WORKERS=0); every core: PYTEST_ARGS="-n auto".
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadgroup
# `make test-fast` leaves out these lanes (markers put on by tests/support/lanes.py, and `slow`).
FAST_LANES := not slow and not postgresql and not redis and not mqtt and not fault and not conformance and not fresh_venv and not browser

export VENV

.PHONY: help venv services run test test-fast lint

help:
	@echo "make run    set up .venv, serve the demo twin on http://127.0.0.1:8080 (your changes are kept)"
	@echo "make test   set up .venv, start missing test services, run the whole test suite (2 workers; PYTEST_ARGS=\"-n 0\": serial)"
	@echo "make test-fast  unit and API tests on SQLite only, 2 workers: no services, no slow/fault/conformance/fresh-venv/browser tests"
	@echo "make lint   ruff, mypy and the import-linter layer contracts"

venv:
	@bash scripts/bootstrap.sh

services:
	@bash scripts/ensure-services.sh

# --demo loads the demo twin (titan_core/sample/) only into a database never used, so a second
# `make run` keeps what was changed and says so.
run: venv
	exec $(VENV)/bin/titan serve --demo $(SERVE_ARGS)

# services first: it installs missing OS packages, among them the npm that `venv` needs for the
# AsyncAPI parser.
test: services venv
	$(VENV)/bin/python -m pytest $(PARALLEL) $(PYTEST_ARGS)

# Needs no PostgreSQL, Redis or Mosquitto: tests that use them are deselected by their lane marker.
test-fast: venv
	$(VENV)/bin/python -m pytest $(PARALLEL) -m "$(FAST_LANES)" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
