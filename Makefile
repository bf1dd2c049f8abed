# make run          : create .venv if missing, install, serve every style on 127.0.0.1:8000 / :50051
# make test         : install what the suite needs from Debian (scripts/system-deps), lint, type-check and the
#                     whole suite in .venv (the real `docker compose` stack included), then the fast tier and
#                     test-make-run on each other supported Python found (in .venv-3.X; an absent one is named)
# make test-fast    : the fast tier in .venv: no PostgreSQL, Redis, nginx, browser, Docker or end-to-end processes
# make test-compose : only the real `docker compose` stack (starts dockerd, builds stand-in base images if needed)
# make mutation     : mutation testing (mutmut) of the core, each style's error mapping and the webhook signing,
#                     SSRF guard and dispatcher against their fast tests; prints the score per module and every
#                     surviving mutant. Not part of `make test`; one process; MUTANTS='pattern ...' for a part
#
# Python: 3.11, 3.12 and 3.13 are supported; .venv uses 3.11 if found, else the newest, on PATH (a pyenv shim
# that does not run is passed over) or in pyenv's versions, or PYTHON=/path/to/python3.X. A .venv made by another
# version is remade. Where none is found, Debian's python3.11 is installed first (scripts/system-deps).
SUPPORTED  := 3.13 3.12 3.11
PYENV_ROOT ?= $(HOME)/.pyenv
comma      := ,
# $(call python_for,3.12): the path of a working Python 3.12, or nothing
python_for = $(shell for p in $$(command -v python$(1)) \
	$$(ls -d $(PYENV_ROOT)/versions/$(1).*/bin/python$(1) 2>/dev/null | sort -V -r); do \
	"$$p" -c 'import sys, ensurepip, venv; assert sys.version_info[:2] == ($(subst .,$(comma),$(1)))' 2>/dev/null \
	&& { echo "$$p"; break; }; done)

# The whole suite runs on 3.11 where it is found (Debian 12's own, the Docker image's): pyenv's 3.13.0 here
# segfaults inside pytest's failure reporting (a CPython 3.13.0 frame bug), which would hide what failed.
# The other versions get the fast tier and test-make-run. PYTHON= picks any of them.
PREFERRED  := 3.11 3.13 3.12
PYTHON ?= $(firstword $(foreach v,$(PREFERRED),$(call python_for,$(v))))
# A fresh Debian 12 without Python 3.11's venv module: install it from Debian's packages, then look again.
ifeq ($(PYTHON),)
$(info No supported Python found: installing Debian's python3.11 (scripts/system-deps --python-only))
$(shell scripts/system-deps --python-only >&2)
PYTHON := $(call python_for,3.11)
endif
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV   ?= .venv
BIN    := $(VENV)/bin
OTHERS := $(filter-out $(PYVER),$(SUPPORTED))
# The database the PostgreSQL tests use; scripts/system-deps makes sure it exists and answers.
export ROSETTA_TEST_PG_DSN ?= postgresql://postgres:postgres@127.0.0.1:5432/test
# The fast tier: every marker tests/conftest.py gives to a test needing more than Python deselected, and
# the services' addresses pointed at a closed port, so a test that needs one but escaped the tiers fails.
FAST_TIER := -m "not (postgres or redis or edge or browser or docker or slow)"
FAST_ENV  := ROSETTA_TEST_PG_DSN=postgresql://fast-tier@127.0.0.1:9/none \
	ROSETTA_TEST_REDIS_URL=redis://127.0.0.1:9/0

.PHONY: run test lint typecheck pytest test-fast test-make-run test-other-pythons test-compose system-deps clean \
	mutation

$(VENV)/.installed-$(PYVER): pyproject.toml
	@case " $(SUPPORTED) " in *" $(PYVER) "*) ;; *) \
		echo "No supported Python found (3.11, 3.12 or 3.13; PYTHON='$(PYTHON)' gives '$(PYVER)')."; \
		echo "Install one (Debian 12: apt-get install python3.11 python3.11-venv) or pass PYTHON=/path/to/python3.X."; \
		exit 1;; esac
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; assert "%d.%d" % sys.version_info[:2] == "$(PYVER)"' 2>/dev/null; \
		then echo "$(VENV) was made by another Python: remaking it with $(PYVER)"; rm -rf $(VENV); fi
	@[ -x $(BIN)/python ] || { echo "Making $(VENV) with Python $(PYVER) ($(PYTHON))"; $(PYTHON) -m venv $(VENV) \
		&& $(BIN)/python -m pip install --quiet --upgrade pip; }
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed*
	touch $@

system-deps:
	scripts/system-deps

run: $(VENV)/.installed-$(PYVER)
	$(BIN)/rosetta serve

lint: $(VENV)/.installed-$(PYVER)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pylint services gateway bench workshop tests scripts

# mypy strict on all first-party code (pyproject.toml), then each workshop lab: a lab is a folder of scripts
# whose names repeat across labs (check.py, and the same module in starter/ and solution/), so mypy
# takes them one folder at a time.
typecheck: $(VENV)/.installed-$(PYVER)
	$(BIN)/mypy
	@for lab in workshop/labs/*/; do \
		$(BIN)/mypy --no-error-summary $$lab/check.py $$lab/solution/*.py && \
		$(BIN)/mypy --no-error-summary $$lab/starter/*.py || exit 1; \
	done; echo "workshop labs: checkers, starters and solutions pass"

pytest: system-deps $(VENV)/.installed-$(PYVER)
	@echo "The whole suite on Python $$($(BIN)/python -V | cut -d' ' -f2) ($(VENV))"
	$(BIN)/pytest

# The real stack on Docker Engine (starts dockerd and builds stand-in base images when needed).
test-compose: system-deps $(VENV)/.installed-$(PYVER)
	$(BIN)/pytest tests/compose

test-fast: $(VENV)/.installed-$(PYVER)
	@echo "The fast tier on Python $$($(BIN)/python -V | cut -d' ' -f2) ($(VENV))"
	$(FAST_ENV) $(BIN)/pytest $(FAST_TIER)

# What `make run` serves, as a process, answering in every style (the proof that it works on a version).
test-make-run: $(VENV)/.installed-$(PYVER)
	$(BIN)/pytest -q tests/e2e/test_make_run.py

# Each other supported version: its own venv, the fast tier and test-make-run; an absent one is said by
# name, and passes (a plain Debian 12 has only 3.11; this kind of machine has pyenv's 3.12 and 3.13).
test-other-pythons:
	@$(foreach v,$(OTHERS),$(if $(call python_for,$(v)), \
		$(MAKE) --no-print-directory test-fast test-make-run VENV=.venv-$(v) PYTHON=$(call python_for,$(v)) \
		|| exit 1;, \
		echo "Python $(v): NOT FOUND (not on PATH, not in $(PYENV_ROOT)/versions); its fast tier did not run";))

test: system-deps lint typecheck pytest test-other-pythons

# MUTATION_CHILDREN mutmut children at a time: 3 on this 2-core machine (the webhook tests wait on real
# sockets and clocks, so a third child fills the waits; 1 on a machine shared with other work). [tool.mutmut]
# in pyproject.toml says what and with which tests. Without MUTANTS: a fresh ./mutants and every mutant
# (about 17 minutes here). With MUTANTS (mutmut name patterns, e.g. MUTANTS='services.webhooks.ssrf.*'): only
# those, keeping what earlier runs found. The venv's bin leads PATH for mutmut's type check (mypy, run in
# ./mutants).
MUTANTS ?=
MUTATION_CHILDREN ?= 3
mutation: $(VENV)/.installed-$(PYVER)
	$(BIN)/python -m pip install --quiet -e '.[dev,mutation]'
	$(if $(MUTANTS),,rm -rf mutants)
	$(FAST_ENV) PATH="$(abspath $(BIN)):$$PATH" $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $(foreach m,$(MUTANTS),'$(m)') || true
	$(BIN)/python scripts/mutation_report.py

clean:
	rm -rf $(VENV) .venv-3.* .mypy_cache .ruff_cache data mutants
