# Two commands matter: `make run` and `make test`. Everything else is for developers.
SHELL := /bin/bash
PYTHON ?= python3
# make test runs the suite across every core; PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: install run test test-fast test-unit lint bench stop

install:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

run: install
	$(UV) run --frozen python -m config.devrun

test: install
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The edit-test loop: everything but the sweeps, the slow, browser and subprocess tests.
test-fast: install
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS) -m "not slow and not sweep and not browser and not subprocess" $(PYTEST_ARGS)

# Pure rules (capabilities, money, throttle delays, crypto...): no database, no Redis.
test-unit: install
	$(UV) run --frozen pytest -m unit $(PYTEST_ARGS)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports
	$(UV) run --frozen mypy kernel tenants audit accounts rbac shop desk docrequests api exports support subprocessors incidents workspace config

bench: install
	$(UV) run --frozen python -m bench

stop: install
	$(UV) run --frozen python -m config.devrun stop
