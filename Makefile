# One venv per checkout; every dependency comes from pyproject.toml and package.json.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export LEDGER_DATABASE_URL ?= sqlite:///./ledger.db

.PHONY: run test setup assets lint typecheck data-check check perf image-check clean

## run: set everything up, migrate and seed SQLite, serve on http://127.0.0.1:8000
run: setup
	$(BIN)/ledger db upgrade
	$(BIN)/ledger seed
	$(BIN)/ledger serve

## test: set everything up and run the whole test suite
test: setup
	$(BIN)/pytest -n 2 --dist loadfile

setup: $(VENV)/.installed assets

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## assets: install the pinned front-end libraries into static/vendor
assets:
	@if [ -f package.json ]; then \
		if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then npm ci --no-audit --no-fund; fi; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

## data-check: validate seed_data/ (schema, keys, dates, stances, URLs), errors as file:line
data-check: setup
	$(BIN)/ledger data check

check: lint typecheck data-check test

perf: setup
	$(BIN)/python perf/api_bench.py
	$(BIN)/python perf/sim_bench.py

## image-check: build the image without a Docker engine (mmdebstrap bases, buildah) and run it,
## alone and with podman-compose, against throwaway databases of the local PostgreSQL (root)
image-check: setup
	bash docker/image-check.sh

clean:
	rm -rf $(VENV) node_modules static/vendor ledger.db
