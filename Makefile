# The two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Two lock files with hashes (pip-tools): the runtime's, and the runtime's plus the tools.
# A stamp per lock records what the .venv holds; the development lock includes the runtime's.
RUNTIME_STAMP := $(VENV)/.runtime-$(shell cat requirements.lock | cksum | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.dev-$(shell cat requirements-dev.lock | cksum | cut -d' ' -f1)
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes

.PHONY: run test test-tools install install-runtime lint typecheck unit e2e deploy-check \
	deps chaos gateway report lock bench profile clean
K8S_MANIFESTS := $(filter-out deploy/k8s/kustomization.yaml,$(wildcard deploy/k8s/*.yaml))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.lock | $(BIN)/python
	$(PIP) -r requirements.lock
	@rm -f $(VENV)/.runtime-* && touch $@

$(DEV_STAMP): requirements-dev.lock | $(BIN)/python
	$(PIP) -r requirements-dev.lock
	@rm -f $(VENV)/.dev-* $(VENV)/.runtime-* && touch $@ $(RUNTIME_STAMP)

## install-runtime: what `make run` needs (requirements.lock); install: plus the tools.
install-runtime: $(RUNTIME_STAMP)
install: $(DEV_STAMP)

## run: the whole service on the embedded defaults (or DATABASE_URL / CELERY_BROKER_URL).
run: install-runtime
	$(BIN)/python scripts/run_all.py

## test: lint, type-check, validate the deployment files, and the whole suite (e2e included).
test: install test-tools lint typecheck deploy-check
	$(BIN)/pytest $(PYTEST_ARGS)

## test-tools: Debian's docker-compose (deployment checks) and chromium (browser tests).
test-tools:
	@missing=""; command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's$$missing for the tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $$missing) >/dev/null; \
	  else echo "missing:$$missing — sudo apt-get install --no-install-recommends$$missing" >&2; exit 1; fi; \
	fi

## lint: formatting, lint rules, and the layering of the apps (import-linter's contracts).
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy .

## unit: the fast suite a developer runs alone: everything but the tests that start processes.
unit: install
	$(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)

## e2e: only the tests that start real processes (service, identity provider, browser).
e2e: install test-tools
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

## chaos: a 100,000-message mailing while worker, beat, web, Redis and PostgreSQL are killed
## at random (a private PostgreSQL; a few minutes; CHAOS_ARGS="--clients 20000 --seconds 90").
chaos: install
	$(BIN)/python -m e2e.chaos $(CHAOS_ARGS)

## deps: which app imports which, and the cycles between apps.
deps: install
	$(BIN)/python scripts/app_deps.py

## deploy-check: validate docker-compose.yml, the CI files and the Kubernetes manifests offline.
deploy-check: install test-tools
	docker-compose --env-file .env.example config -q
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/ci.yml
	$(BIN)/kubernetes-validate --strict --quiet $(K8S_MANIFESTS)

## report: send the statistics report of the last 24 hours to REPORT_RECIPIENTS now.
report: install-runtime
	$(BIN)/python manage.py send_report

## gateway: the bundled gateway emulator alone, on GATEWAY_PORT (default 8001).
gateway: install-runtime
	$(BIN)/python -m emulator

## lock: re-pin after changing pyproject.toml (pip-tools, with hashes; pins already in the
## locks are kept: delete a line to let it move).
LOCK_FLAGS := --quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links
lock: install
	$(BIN)/pip-compile $(LOCK_FLAGS) --output-file requirements.lock pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --allow-unsafe --extra dev --constraint requirements.lock \
	  --output-file requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) .data staticfiles .pytest_cache .mypy_cache .ruff_cache

## bench: the performance benchmarks (BENCH_ARGS="--size small --configs embedded --only 1,4").
bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## profile: where the worker's CPU goes while a mailing sends at full speed (py-spy), by
## function and by thread (PROFILE_ARGS="--clients 50000 --top 30 --out stacks.txt").
profile: install
	$(BIN)/python -m bench.profile $(PROFILE_ARGS)
