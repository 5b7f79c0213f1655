# The two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-tools install lint typecheck unit deploy-check gateway report lock bench clean
K8S_MANIFESTS := $(filter-out deploy/k8s/kustomization.yaml,$(wildcard deploy/k8s/*.yaml))

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## run: the whole service on the embedded defaults (or DATABASE_URL / CELERY_BROKER_URL).
run: install
	$(BIN)/python scripts/run_all.py

## test: lint, type-check, validate the deployment files, and the whole test suite.
test: install test-tools lint typecheck deploy-check unit

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

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy .

unit: install
	$(BIN)/pytest $(PYTEST_ARGS)

## deploy-check: validate docker-compose.yml, the CI files and the Kubernetes manifests offline.
deploy-check: install test-tools
	docker-compose --env-file .env.example config -q
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/ci.yml
	$(BIN)/kubernetes-validate --strict --quiet $(K8S_MANIFESTS)

## report: send the statistics report of the last 24 hours to REPORT_RECIPIENTS now.
report: install
	$(BIN)/python manage.py send_report

## gateway: the bundled gateway emulator alone, on GATEWAY_PORT (default 8001).
gateway: install
	$(BIN)/python -m emulator

## lock: re-pin every dependency after changing pyproject.toml (both lock files).
lock: install
	$(BIN)/python scripts/lock.py

clean:
	rm -rf $(VENV) .data staticfiles .pytest_cache .mypy_cache .ruff_cache

## bench: the performance benchmarks (BENCH_ARGS="--size small --configs embedded --only 1,4").
bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)
