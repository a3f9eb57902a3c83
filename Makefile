# One Makefile for every habit. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYENV_PY313 := $(shell command -v pyenv >/dev/null 2>&1 && echo "$$(pyenv root)/versions/3.13.0/bin/python3.13")
PYTHON_BOOT ?= $(shell for p in $(PYENV_PY313) python3.13 python3.12 python3.11 python3; do \
	if [ -x "$$p" ] || command -v "$$p" >/dev/null 2>&1; then \
	  "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo "$$p"; break; }; fi; done)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)/functions/fusion:$(CURDIR)
# The SAM CLI's notice about collecting telemetry is noise in every build and check: off.
export SAM_CLI_TELEMETRY := 0
# sam build looks for python3.13 on PATH
PY313_DIR := $(dir $(PYENV_PY313))
export PATH := $(if $(wildcard $(PYENV_PY313)),$(PY313_DIR):,)$(PATH)

# Test workers (pytest-xdist): many tests wait on servers, queues and backoffs rather than
# compute, so more workers than this machine's two cores pay (on 2 cores, the test run took
# 353 s with 4 workers and 317 s with 6, at 187 % CPU). WORKERS=0 runs in one process.
# loadgroup keeps a module marked xdist_group (one costly module fixture) on one worker.
WORKERS ?= 6
XDIST := $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadgroup)
TIMES := out/test-times.tsv
TIMED := $(PY) -m tests.stopwatch $(TIMES)
TEMPLATE_LOG := out/template-checks.log

.PHONY: help dev sam-dev build browser demo stack invoke format lint check unit integration e2e template test mutation soak bench redrive erase clean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/dependencies/requirements.txt
	@test -n "$(PYTHON_BOOT)" || { echo "need Python >= 3.11 on PATH" >&2; exit 1; }
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements-dev.txt
	@# so that `python -m local_stack` and friends work from the venv without PYTHONPATH
	printf '%s\n' "$(CURDIR)" "$(CURDIR)/functions/fusion" \
	  > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/portrait-fusion.pth"
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -n "$(PYTHON_BOOT)" || { echo "need Python >= 3.11 on PATH" >&2; exit 1; }
	$(PYTHON_BOOT) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip uv
	$(SAM_VENV)/bin/uv pip install --quiet --python $(SAM_VENV)/bin/python -r requirements-sam.txt
	touch $@

dev: $(VENV)/.installed  ## create the development venv
sam-dev: $(SAM_VENV)/.installed  ## create the venv for the SAM CLI and cfn-lint

build: sam-dev  ## sam build for arm64 (finds Python 3.13 itself)
	@command -v python3.13 >/dev/null || { echo "sam build needs python3.13 on PATH" >&2; exit 1; }
	$(SAM_VENV)/bin/sam build --region us-east-1

browser:  ## Debian's chromium for the playground's browser test (only if missing; says so first; root)
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "make browser: installing Debian's chromium package with apt-get (as root, a few hundred MB):"; \
	  echo "  the e2e tier's playground test (tests/e2e/test_playground.py) drives it with Playwright."; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

demo: dev  ## the whole pipeline on bundled portraits, on the local stack (results in out/demo)
	$(PY) -m local_stack.demo

stack: dev  ## the local stack (moto + emulator + event source mapping) until Ctrl-C; STACK_ARGS for more options
	$(PY) -m local_stack up --seed $(STACK_ARGS)

invoke: dev  ## run the function on EVENT=events/<file> against the running `make stack`
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/<file>.json" >&2; exit 2; }
	$(PY) -m local_stack invoke "$(EVENT)"

format: dev  ## format the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lint: dev  ## ruff (lint + format check) and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

check: lint unit  ## the inner loop, under a minute: lint, type check, unit tier (the pipeline on fakes)

unit: dev  ## unit tests: pure logic and the pipeline on in-memory fakes, no network
	$(PY) -m pytest tests/unit

integration: dev  ## the handler against moto's server (or AWS_ENDPOINT_URL) and the face-fusion emulator
	$(PY) -m pytest $(XDIST) tests/integration tests/emulator tests/local_stack

e2e: dev browser  ## the local stack end to end (on moto, or AWS_ENDPOINT_URL), playground in chromium
	$(PY) -m pytest $(XDIST) tests/e2e

template: dev sam-dev  ## sam validate --lint, cfn-lint, sam build and template assertions
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(MAKE) --no-print-directory build
	$(PY) -m pytest tests/template

test: dev sam-dev browser  ## everything CI runs (about 6 min): lint, template checks, every tier, on moto
	@mkdir -p out && : > $(TIMES)
	@$(TIMED) lint -- $(MAKE) --no-print-directory lint
	@# The template checks run beside the tests (they wait on sam and cfn-lint, the tests on
	@# servers); their output is kept in $(TEMPLATE_LOG) and printed once the tests are done.
	@# CI stays on moto even where a shell still exports the endpoint of `make stack`.
	@echo "template checks (sam validate --lint, cfn-lint, sam build, tests/template) run beside the tests"
	@$(TIMED) template -- $(MAKE) --no-print-directory template > $(TEMPLATE_LOG) 2>&1 & checks=$$!; \
	  env -u AWS_ENDPOINT_URL TIER_TIMES=$(TIMES) $(TIMED) tests -- \
	  $(PY) -m pytest $(XDIST) tests --ignore=tests/template; status=$$?; \
	  wait $$checks; checks_status=$$?; \
	  echo "== template checks (ran beside the tests) =="; cat $(TEMPLATE_LOG); \
	  $(TIMED) --summary; \
	  if [ $$checks_status -ne 0 ]; then echo "make test: the template checks failed (above)" >&2; fi; \
	  [ $$status -eq 0 ] && [ $$checks_status -eq 0 ]

# mutmut names a mutant after its file's path, which must read as the module's import name: it
# runs in out/mutation, where portrait_fusion/ sits at the top beside links to what the unit
# tests read (their ROOT is then out/mutation/mutants, and ../shared is out/mutation/shared).
MUTATION_DIR := out/mutation
MUTATION_LINKS := tests events schemas local_stack template.yaml README.md pyproject.toml

mutation: dev  ## mutation testing of the pure modules with the unit tier (not in CI; MUTANTS='portrait_fusion.pairs.*' for some)
	@mkdir -p $(MUTATION_DIR)
	@cd $(MUTATION_DIR) && for f in $(MUTATION_LINKS); do ln -sfn ../../$$f $$f; done \
	  && ln -sfn ../../functions/fusion/portrait_fusion portrait_fusion \
	  && ln -sfn $(abspath $(CURDIR)/../shared) shared
	cd $(MUTATION_DIR) && time ../../$(VENV)/bin/mutmut run --max-children 1 $(MUTANTS)
	cd $(MUTATION_DIR) && time ../../$(PY) -m tests.mutation $(MUTANTS)

soak: dev  ## the full soak: 200+ pairs with random faults and a rate limit
	SOAK_PAIRS=$${SOAK_PAIRS:-240} $(PY) -m pytest tests/e2e/test_soak.py -s

bench: dev  ## the benchmark against the naive baseline (table, JSON and plot in benchmarks/results)
	$(PY) -m benchmarks.bench $(BENCH_ARGS)

redrive: dev  ## move DLQ messages back to the queue (FUSION_QUEUE_URL, FUSION_DLQ_URL; AWS_ENDPOINT_URL for local)
	$(PY) -m ops.redrive

erase: dev  ## erase one pair (PAIR=<id>): inputs, outputs, records; AWS_ENDPOINT_URL for local
	@test -n "$(PAIR)" || { echo "usage: make erase PAIR=<pair-id> [STACK=<stack-name>]" >&2; exit 2; }
	$(PY) -m ops.erase "$(PAIR)" $(if $(STACK),--stack "$(STACK)",)

clean:  ## remove venvs and build output
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache out
