# Serverless inventory. `make up` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
EMULATOR ?= auto
PORT ?= 4566
STACK ?= inventory
ENDPOINT := http://127.0.0.1:$(PORT)
# The emulators accept any credentials; fixed ones keep a developer's real keys out of it.
EMULATOR_ENV := AWS_ENDPOINT_URL=$(ENDPOINT) AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
	AWS_DEFAULT_REGION=us-east-1
# TARGET=aws points the day-to-day commands (outputs, dashboard, logs, alerts, watch) at AWS
# itself, with your profile and region, instead of the emulator.
TARGET ?= emulator
TARGET_ENV := $(if $(filter aws,$(TARGET)),env -u AWS_ENDPOINT_URL,$(EMULATOR_ENV))

.PHONY: help venv up down outputs plan plan-aws template demo replay-failed destroy deploy test unit integration e2e lint bench bench-quick dashboard \
	logs alerts inbox watch

help: ## Show the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(INSTALLED): requirements-dev.txt lambdas/requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(INSTALLED) ## Create .venv and install the pinned dependencies

# EMAIL=me@example.com and SMS=+15555550100 subscribe people to the alerts (see `make inbox`);
# ALARM_EMAIL=ops@example.com an operator to the alarms. Plan and deploy take them too.
PEOPLE = $(if $(EMAIL),--email $(EMAIL)) $(if $(SMS),--sms $(SMS)) \
	$(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL))
up: $(INSTALLED) ## Start the emulator (MiniStack, or LocalStack where Docker runs) and provision
	$(PY) -m provision.emulator start --emulator $(EMULATOR) --port $(PORT)
	$(EMULATOR_ENV) $(PY) -m provision up --stack $(STACK) $(PEOPLE)

down: $(INSTALLED) ## Stop the emulator `make up` started
	$(PY) -m provision.emulator stop

outputs: $(INSTALLED) ## Print the stack's names and addresses as JSON (TARGET=aws)
	@$(TARGET_ENV) $(PY) -m provision outputs --stack $(STACK)

demo: $(INSTALLED) ## Upload sample-data/ to the local stack and print the alerts that arrive
	$(EMULATOR_ENV) $(PY) -m provision.demo --stack $(STACK)

replay-failed: $(INSTALLED) ## Re-drive the uploads the loader gave up on (after fixing the cause)
	$(EMULATOR_ENV) $(PY) -m provision replay-failed --stack $(STACK)

destroy: $(INSTALLED) ## Remove the local stack, its data too (the emulator keeps running)
	$(EMULATOR_ENV) $(PY) -m provision destroy --delete-data --stack $(STACK)

plan: $(INSTALLED) ## What `make up` would change on the local stack; changes nothing
	@$(EMULATOR_ENV) $(PY) -m provision plan --stack $(STACK) $(PEOPLE)

plan-aws: $(INSTALLED) ## What `make deploy` would change in your AWS account; changes nothing
	@env -u AWS_ENDPOINT_URL $(PY) -m provision plan --stack $(STACK) $(PEOPLE)

template: $(INSTALLED) ## Write build/inventory.template.json (CloudFormation) and its zips
	$(PY) -m provision template --stack $(STACK)

deploy: $(INSTALLED) ## Provision on real AWS (your profile and region; no endpoint override)
	env -u AWS_ENDPOINT_URL $(PY) -m provision up --stack $(STACK) $(PEOPLE)

# FN=load_inventory follows one function; SINCE=10m starts ten minutes back.
logs: $(INSTALLED) ## Follow the functions' logs as they happen (FN=, SINCE=, TARGET=aws)
	@$(TARGET_ENV) $(PY) -m provision.logs --stack $(STACK) \
		$(if $(FN),--function $(FN)) $(if $(SINCE),--since $(SINCE))

alerts: $(INSTALLED) ## Show the alerts as they arrive in the alerts queue (sentence and JSON)
	@$(TARGET_ENV) $(PY) -m provision.messages alerts --stack $(STACK)

inbox: $(INSTALLED) ## What the email and SMS subscribers received, on the emulator (make up EMAIL=...)
	@$(EMULATOR_ENV) $(PY) -m provision.messages inbox --stack $(STACK)

watch: $(INSTALLED) ## Redeploy a function's code within 2 s of a save under lambdas/ (TARGET=aws)
	@$(TARGET_ENV) $(PY) -m provision.watch --stack $(STACK)

# Two workers: the integration tests' two groups (see tests/integration/conftest.py) each get
# one, with its own emulator, and the unit tests run beside them.
test: $(INSTALLED) ## All tests: unit and integration (fresh emulators), two at a time
	$(PY) -m pytest -n 2 --dist loadgroup tests

unit: $(INSTALLED) ## Unit tests only (no network)
	$(PY) -m pytest tests/unit

integration: $(INSTALLED) ## Integration tests on a fresh emulator (MiniStack or LocalStack)
	$(PY) -m pytest tests/integration

e2e: $(INSTALLED) ## Integration tests against the emulator `make up` runs
	E2E_ENDPOINT=$(ENDPOINT) $(EMULATOR_ENV) $(PY) -m pytest tests/integration

lint: $(INSTALLED) ## ruff, mypy, parliament (IAM policies), cfn-lint (the template), actionlint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m provision.policy_lint
	$(PY) -m provision template --stack $(STACK) --quiet
	$(VENV)/bin/cfn-lint build/$(STACK).template.json
	$(VENV)/bin/actionlint .github/workflows/ci.yml

# Arguments for the benchmark, e.g. BENCH_ARGS="--endpoint http://127.0.0.1:4566" or "--sizes 1000".
BENCH_ARGS ?=

bench: $(INSTALLED) ## Benchmark: ceiling, baseline and project side by side (fresh emulator)
	$(PY) -m bench $(BENCH_ARGS)

bench-quick: $(INSTALLED) ## The benchmark at small sizes, to keep it working (asserts no speed)
	$(PY) -m bench --quick $(BENCH_ARGS)

# DASHBOARD_USER=name creates that user first (password: DASHBOARD_PASSWORD, else generated).
dashboard: $(INSTALLED) ## Print the dashboard URL and how to sign in (DASHBOARD_USER=, TARGET=aws)
	@$(TARGET_ENV) $(PY) -m provision.dashboard_command --stack $(STACK) \
		$(if $(DASHBOARD_USER),--user $(DASHBOARD_USER))
