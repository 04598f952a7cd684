# One entry point for people and CI. Every target creates .venv when it is missing.
# Dependencies install from the hashed locks in requirements/ (pyproject.toml keeps ranges for pip
# users): `make render` the runtime lock only, `make test`/`lint`/`bench` the test lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-$(shell cat pyproject.toml requirements/runtime.txt | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.test-$(shell cat pyproject.toml requirements/test.txt | cksum | cut -d' ' -f1)
INSTALL := $(BIN)/python -m pip install --quiet

.PHONY: render test test-thorough lint tools schemas bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(INSTALL) --upgrade pip

$(RUNTIME): pyproject.toml requirements/runtime.txt | $(BIN)/python
	$(INSTALL) --require-hashes -r requirements/runtime.txt
	$(INSTALL) --no-deps -e .
	$(BIN)/python -m compileall -q renderer  # as pip does for an installed package, even under PYTHONDONTWRITEBYTECODE
	rm -f $(VENV)/.runtime-* && touch $@

# The test lock holds the runtime lock's exact pins (tests/test_packaging.py), so it satisfies `render` too.
$(STAMP): pyproject.toml requirements/test.txt | $(BIN)/python
	$(INSTALL) --require-hashes -r requirements/test.txt
	$(INSTALL) --no-deps -e .
	$(BIN)/python -m compileall -q renderer
	rm -f $(VENV)/.test-* $(VENV)/.runtime-* && touch $@ $(RUNTIME)

## render: set up and render VALUES (default values/prod.yaml) into out/<cluster>/
VALUES ?= values/prod.yaml
render: $(RUNTIME)
	$(BIN)/render $(VALUES)

## tools: pinned helm v3 (and a fallback kubectl) into .tools/bin, shellcheck from Debian
tools:
	bash .ci/install-tools

# pytest workers: one per core (none on a 1-core machine). Measured on this 2-core VM with the fake tools'
# fork server (issue 16): 2 workers 181 s idle and 339 s beside two CPU hogs (load 4); one process 347 s idle.
# (Before the fork server, one process won on a loaded machine; it no longer does.)
WORKERS ?= $(shell $(PYTHON) -c 'import os; n = len(os.sched_getaffinity(0)); print(n if n > 1 else 0)')

## test: set up, fetch the pinned tools, run the suite: the quick Hypothesis profile (WORKERS=N: N pytest workers)
# renderer/ is byte-compiled first, as pip does on install: the cache keys include each module's .pyc, and a
# .pyc a parallel test's first import writes between two runs of another test would turn its hit into a miss.
test: $(STAMP) tools
	$(BIN)/python -m compileall -q renderer
	$(BIN)/python -m pytest -n $(WORKERS) --dist worksteal

## test-thorough: the suite under the thorough profile: every example, and the tests marked thorough (nightly)
test-thorough: $(STAMP) tools
	$(BIN)/python -m compileall -q renderer
	HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest -n $(WORKERS) --dist worksteal

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check renderer devtools tests bench
	$(BIN)/mypy

## schemas: regenerate schemas/crds from ../shared/crds
schemas: $(STAMP)
	$(BIN)/python -m devtools.crdschemas

## bench: speed and memory figures (see README, Performance)
bench: $(STAMP) tools
	$(BIN)/python bench/run.py

## lock: re-resolve requirements/*.txt from pyproject.toml's ranges (newest versions, every platform, Python 3.11+)
lock: | $(BIN)/python
	$(INSTALL) uv
	$(BIN)/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 --no-header --quiet \
	  -o requirements/runtime.txt
	$(BIN)/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 --no-header --quiet \
	  --extra test -o requirements/test.txt

clean:
	rm -rf $(VENV) .tools build dist .pytest_cache .mypy_cache .ruff_cache
