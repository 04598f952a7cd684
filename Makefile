# One entry point for people and CI. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: render test lint tools schemas bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q renderer  # as pip does for an installed package, even under PYTHONDONTWRITEBYTECODE
	rm -f $(VENV)/.installed-* && touch $@

## render: set up and render VALUES (default values/prod.yaml) into out/<cluster>/
VALUES ?= values/prod.yaml
render: $(STAMP)
	$(BIN)/render $(VALUES)

## tools: pinned helm v3 (and a fallback kubectl) into .tools/bin, shellcheck from Debian
tools:
	bash .ci/install-tools

## test: set up, fetch the pinned tools, run the whole suite on every core (HYPOTHESIS_PROFILE=thorough: all examples)
test: $(STAMP) tools
	$(BIN)/python -m pytest -n auto --dist worksteal

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check renderer tests
	$(BIN)/mypy

## schemas: regenerate schemas/crds from ../shared/crds
schemas: $(STAMP)
	$(BIN)/python -m renderer.crdschemas

## bench: speed and memory figures (see README, Performance)
bench: $(STAMP) tools
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .tools build dist .pytest_cache .mypy_cache .ruff_cache
