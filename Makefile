# The two entry points on a fresh machine:
#   make run   - set up .venv, load a real IDTA sample, serve on the embedded defaults
#                (SQLite file titan.sqlite3, memory bus, http://127.0.0.1:8080)
#   make test  - set up .venv, make sure PostgreSQL/Redis/Mosquitto answer, run the whole suite
# Both reinstall into .venv only when a pyproject.toml changed (scripts/bootstrap.sh).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Where the shared data lives (the IDTA samples); a checkout has it beside the repository.
SHARED ?= ../shared
SAMPLE ?= $(SHARED)/data/idta/IDTA_02006-3-0_Template_Digital_Nameplate.json
VENV ?= .venv
# Extra flags: `make run SERVE_ARGS="--port 9000"`, `make test PYTEST_ARGS="-k events -x"`.
SERVE_ARGS ?=
PYTEST_ARGS ?=
# `make test-fast` leaves out these lanes (markers put on by tests/support/lanes.py, and `slow`).
FAST_LANES := not slow and not postgresql and not redis and not mqtt and not fault and not conformance and not fresh_venv and not browser

export VENV

.PHONY: help venv services run test test-fast lint

help:
	@echo "make run    set up .venv, load $(SAMPLE), serve on http://127.0.0.1:8080"
	@echo "make test   set up .venv, start missing test services, run the whole test suite"
	@echo "make test-fast  unit and API tests on SQLite only: no services, no slow/fault/conformance/fresh-venv/browser tests"
	@echo "make lint   ruff and mypy"

venv:
	@bash scripts/bootstrap.sh

services:
	@bash scripts/ensure-services.sh

# --lenient: the published IDTA files break the schema in small ways. Loading again upserts, so
# `make run` can be repeated on the same database.
run: venv
	@test -f "$(SAMPLE)" || { echo "make run: sample $(SAMPLE) not found; set SHARED=<dir with data/idta>" >&2; exit 1; }
	$(VENV)/bin/titan load --lenient "$(SAMPLE)"
	exec $(VENV)/bin/titan serve $(SERVE_ARGS)

test: venv services
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Needs no PostgreSQL, Redis or Mosquitto: tests that use them are deselected by their lane marker.
test-fast: venv
	$(VENV)/bin/python -m pytest -m "$(FAST_LANES)" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
