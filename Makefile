# Sentinel & Scout: `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help install env run start stop status test test-unit lint format bench clean-data

help: ## List every target with what it does
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --python $(PYTHON)
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install every group from uv.lock (fast when unchanged)

env: $(STAMP) ## Create .env from .env.example with fresh secrets (never overwrites)
	@$(BIN)/python -m devstack env

run: $(STAMP) ## Start the whole stack natively in the foreground (Ctrl-C stops it)
	@$(BIN)/python -m devstack run

start: $(STAMP) ## Start the whole stack in the background; returns once it is ready
	@$(BIN)/python -m devstack start

stop: ## Stop every process of the native stack
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m devstack stop; \
		else echo "nothing was running (no .venv)"; fi

status: $(STAMP) ## Show whether each service of the native stack is ready
	@$(BIN)/python -m devstack status

test: $(STAMP) ## Run the whole test suite, browser tests included
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## Run only the unit tests (no external process)
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

lint: $(STAMP) ## ruff format check, ruff check, mypy on api/ and pipelines/
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP) ## Rewrite files with ruff format and apply safe ruff fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## Run every benchmark under bench/ and write bench/results/latest.json
	$(BIN)/python -m bench

clean-data: stop ## Delete the native stack's data folder (the next run bootstraps again)
	rm -rf data
