# Porte-Voix — every target installs what it needs into .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt constraints.txt pyproject.toml | sha1sum | cut -c1-12)

.DEFAULT_GOAL := help
.PHONY: help venv run stop test unit integration lint bench eval train schemas quality clean \
        chromium

help: ## Show the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP) ## Create .venv and install the pinned dependencies

run: venv ## Run broker, helpdesk, worker and demo traffic until Ctrl-C
	$(BIN)/porte-voix run

stop: ## Stop what `make run` started
	@if [ -x $(BIN)/porte-voix ]; then $(BIN)/porte-voix stop; else echo "nothing was running"; fi

# The dashboard's browser test drives Debian's chromium through chromedriver (selenium). They are
# installed only when missing and only as root; otherwise that one test is skipped with a hint.
chromium: ## Install chromium + chromium-driver for the browser test (root, only when missing)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	else echo "chromium/chromedriver missing and not root: the browser test will be skipped" \
	  "(as root: apt-get install -y chromium chromium-driver)"; fi

test: venv chromium ## Run the whole test suite (unit, contract, integration)
	$(BIN)/pytest -q -p no:cacheprovider -n 2

unit: venv ## Run the unit tests only
	$(BIN)/pytest -q -m "not integration" tests/unit

integration: venv chromium ## Run the integration tests only
	$(BIN)/pytest -q tests/integration

lint: venv ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy pipeline connectors schemas infra

bench: venv ## Measure throughput and RSS; writes bench-results.json
	$(BIN)/porte-voix bench --output bench-results.json

eval: venv ## Enrichment quality on the dev set; writes eval-results.json
	$(BIN)/python -m pipeline.enrich.evaluate --dev ../shared/data/dev_messages.jsonl --out eval-results.json

train: venv ## Retrain the enrichment models from data/train
	$(BIN)/python -m pipeline.enrich.train

schemas: venv ## Export JSON Schemas, the topic catalog and the settings reference
	$(BIN)/porte-voix schemas export schemas/jsonschema
	$(BIN)/porte-voix topics catalog docs/catalog
	$(BIN)/porte-voix settings --markdown > docs/settings.md

quality: venv ## Data-quality suites over the demo sample; writes Data Docs to artifacts/quality
	$(BIN)/python -m pipeline.quality.report --out artifacts/quality

clean: stop ## Remove the venv and local state
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache
