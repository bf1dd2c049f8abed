# make run  : create .venv (Python 3.11) if missing, install, serve every style on 127.0.0.1:8000 / :50051
# make test : install what the suite needs from Debian (scripts/system-deps), create .venv if missing,
#             install with dev tools, lint, type-check, then the test suite (the real `docker compose`
#             stack included: make test-compose runs that part alone)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# The database the PostgreSQL tests use; scripts/system-deps makes sure it exists and answers.
export ROSETTA_TEST_PG_DSN ?= postgresql://postgres:postgres@127.0.0.1:5432/test

.PHONY: run test lint typecheck pytest test-compose system-deps python clean

# Only Python 3.11 for `make run` (nothing else is needed to serve on SQLite).
python:
	@command -v python3.11 >/dev/null 2>&1 && python3.11 -c 'import ensurepip, venv' 2>/dev/null \
		|| scripts/system-deps --python-only

system-deps:
	scripts/system-deps

$(BIN)/python: | python
	$(eval PYTHON := $(shell command -v python3.11 || command -v python3))
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (spyne does not import on 3.12+)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/rosetta serve

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed
	$(BIN)/mypy

pytest: system-deps $(VENV)/.installed
	$(BIN)/pytest

# The real stack on Docker Engine (starts dockerd and builds stand-in base images when needed).
test-compose: system-deps $(VENV)/.installed
	$(BIN)/pytest tests/compose

test: system-deps lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache data
