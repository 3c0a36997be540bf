# The two commands: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/backlynk
export REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test install services browser tools migrate demo lint unit bench bench-checker clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

services:
	bash .ci/services

# headless Chromium for the web-page tests (Debian's package, only when missing)
browser:
	bash .ci/browser

# curl and jq, which the README's examples use (its test runs them), and node for the
# seed's JavaScript example (its test runs it)
tools:
	bash .ci/tools

.env:
	@echo "JWT_SECRET=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))')" > .env
	@echo "make: wrote a fresh JWT_SECRET to .env"

migrate: install services
	$(BIN)/backlynk migrate

demo: migrate .env
	set -a; source .env; set +a; $(BIN)/backlynk demo load

# The local demo: the sandbox directories live on 127.0.0.1:8001, so the fetcher may reach
# loopback here, and there is no internet to check a site's landing page against. The web
# process listens on loopback only (`backlynk serve` alone binds $HOST, default 0.0.0.0).
run: install services tools .env migrate demo
	set -a; source .env; set +a; \
	export BACKLYNK_FETCH_ALLOW_CIDRS=$${BACKLYNK_FETCH_ALLOW_CIDRS-127.0.0.0/8}; \
	export BACKLYNK_VERIFY_SITES=$${BACKLYNK_VERIFY_SITES-0}; \
	export BACKLYNK_HOST_DELAY=$${BACKLYNK_HOST_DELAY-0.2}; \
	export HOST=$${HOST-127.0.0.1}; \
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho -f Procfile.dev start -p $${PORT-8000}

lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: install services browser tools
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

test: install services browser tools
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install services
	$(BIN)/python bench/event_store.py
	$(BIN)/python bench/projection.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/as_of.py
	$(BIN)/python bench/checker.py
	$(BIN)/python bench/jobs.py
	$(BIN)/python bench/auth.py
	$(BIN)/python bench/api.py --processes 1,2
	$(BIN)/python bench/api.py --cache cache --busy 20
	$(BIN)/python bench/stream.py

bench-checker: install
	$(BIN)/python bench/checker.py

clean:
	rm -rf $(VENV) .pytest_cache
