# Event-driven job workers on AWS (KEDA + SQS design). `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Cargo artifacts live outside the clone so CI and fresh clones reuse compiled SDK crates.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/keda-sqs-jobs/target
export CARGO_TERM_COLOR ?= never
VENV := .venv
PY := $(VENV)/bin/python
NEXTEST := $(shell cargo nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: tools/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Install the pinned emulators (ministack, moto) into .venv

.PHONY: build
build: ## Build every crate (debug)
	cargo build --workspace --locked

.PHONY: lint
lint: ## rustfmt and clippy (warnings are errors)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

.PHONY: test
test: venv lint test-rust test-moto ## Everything CI runs: lint, unit + integration tests on ministack and on moto

.PHONY: test-rust
test-rust: venv ## Unit tests and integration tests against ministack
ifeq ($(NEXTEST),yes)
	cargo nextest run --workspace --locked --no-fail-fast
else
	cargo test --workspace --locked --no-fail-fast
endif

.PHONY: test-moto
test-moto: venv ## The worker's integration suite against moto (which does not fire schedules)
ifeq ($(NEXTEST),yes)
	EMULATOR=moto cargo nextest run -p data-processor --locked --no-fail-fast --test worker -E 'not test(fired_schedule)'
else
	EMULATOR=moto cargo test -p data-processor --locked --no-fail-fast --test worker -- --skip fired_schedule
endif

.PHONY: up
up: ## Run the whole system locally (the local stack is not built yet: see README)
	@echo "make up: the one-command local stack (emulator + API + local ScaledJob controller) is not built yet." >&2
	@echo "Until it lands, run the parts by hand as the README's 'Running the parts by hand' section shows." >&2
	@exit 1

.PHONY: clean
clean: ## Remove the virtualenv (the shared Cargo target dir is kept)
	rm -rf $(VENV)
