# Event-driven job workers on AWS (KEDA + SQS design). `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Cargo artifacts live outside the clone so CI and fresh clones reuse compiled SDK crates.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/keda-sqs-jobs/target
export CARGO_TERM_COLOR ?= never
VENV := .venv
PY := $(VENV)/bin/python
LINT_VENV := .venv-lint
INFRA := infra-cdk8s
# Container tooling (make image / test-image): podman reads the project's containers.conf.
export CONTAINERS_CONF ?= $(CURDIR)/tools/container/containers.conf
IMAGE ?= localhost/keda-sqs-jobs/data-processor:dev
# Where make bench writes its results (a partial run, BENCH_ONLY=…, belongs elsewhere).
BENCH_OUT ?= dev/bench/results.json
# CDK/cdk8s offline and quiet.
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK8S_CHECK_UPGRADE := false
CDK := cd $(INFRA) && npx --no-install cdk --no-notices
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

$(LINT_VENV)/.installed: tools/requirements-lint.txt
	python3 -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-lint.txt
	touch $@

.PHONY: venv-lint
venv-lint: $(LINT_VENV)/.installed ## Install the pinned linters/validators (hadolint, cfn-lint, checkov, ...) into .venv-lint

$(INFRA)/node_modules/.installed: $(INFRA)/package-lock.json
	cd $(INFRA) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: infra-build
infra-build: $(INFRA)/node_modules/.installed ## Generate the CRD constructs (from ../shared/crds) and compile the CDK/cdk8s app (tsc)
	cd $(INFRA) && npm run --silent build

.PHONY: manifests
manifests: infra-build ## Regenerate keda/ and karpenter/ from the cdk8s charts (commit the result)
	node $(INFRA)/dist/bin/k8s.js

.PHONY: package
package: ## Build the api-lambda zip (bootstrap at the root) into dist/api-lambda.zip
	tools/package-lambda.sh

.PHONY: image
image: venv-lint ## Build the data-processor image (docker or podman; IMAGE=name:tag)
	IMAGE=$(IMAGE) tools/container/image.sh >/dev/null

.PHONY: synth
synth: infra-build package ## cdk synth the app from config.json into infra-cdk8s/cdk.out (the three stacks, or the pipeline if the config has one)
	$(CDK) synth -q

# The delivery pipeline of the test fixture (a staging and a cross-account production stage).
PIPELINE_FIXTURE := test/config.pipeline.json
.PHONY: synth-pipeline
synth-pipeline: infra-build package ## cdk synth JobsPipeline and its stages from infra-cdk8s/test/config.pipeline.json into infra-cdk8s/cdk.out.pipeline
	$(CDK) synth -q -c config=$(PIPELINE_FIXTURE) -o cdk.out.pipeline

.PHONY: bench
bench: venv package ## Benchmarks, not part of make test (a few minutes): API cold start and CPU vs a Python reference, throughput, latency, AWS cost per job, stats read, worker footprint -> dev/bench/results.json
	cargo build --release --locked -p api-lambda -p data-processor -p local-keda -p bench
	$(CARGO_TARGET_DIR)/release/bench --out $(BENCH_OUT)

.PHONY: build
build: ## Build every crate (debug)
	cargo build --workspace --locked

.PHONY: lint
lint: ## rustfmt and clippy (warnings are errors); no circle of modules in a crate; the shell scripts parse
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	python3 tools/module-cycles.py --self-test
	python3 tools/module-cycles.py
	@for f in tools/*.sh tools/*/*.sh .ci/run; do bash -n "$$f" || exit 1; done; echo "lint: the shell scripts parse"

.PHONY: test
test: venv lint lint-workflows test-rust test-api-fuzz test-chaos test-moto test-external test-infra test-image test-local ## Everything CI runs: lint, tests on ministack and moto, the API fuzzed against its OpenAPI document, a short chaos run, the suites against an external endpoint, infra checks, the image, the local stack

.PHONY: lint-workflows
lint-workflows: venv-lint ## The GitHub Actions workflow: yamllint, and check-jsonschema against its vendored workflow schema
	$(LINT_VENV)/bin/yamllint -s .github/workflows
	$(LINT_VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

.PHONY: test-rust
test-rust: venv ## Unit tests and integration tests against ministack (the chaos run has its own target)
ifeq ($(NEXTEST),yes)
	tools/with-skips.sh cargo nextest run --workspace --locked --no-fail-fast -E 'not binary(chaos)'
else
	tools/with-skips.sh cargo test --workspace --locked --no-fail-fast -- --skip chaos_
endif

.PHONY: test-api-fuzz
test-api-fuzz: venv venv-lint ## Schemathesis (every check) against the API on ministack and its own /openapi.json (FUZZ_EXAMPLES, FUZZ_SEED)
	cargo test --workspace --locked --test fuzz -- --ignored --nocapture

.PHONY: test-chaos
test-chaos: venv ## A short chaos run (~100 jobs, alone: it loads the machine), as make chaos with CHAOS_JOBS=100
	cargo build --workspace --locked --bins
	CHAOS_JOBS=$${CHAOS_JOBS:-100} cargo test --workspace --locked --test chaos -- --nocapture

.PHONY: test-moto
test-moto: venv ## The worker's integration and fault-injection suites against moto (which does not fire schedules: that test skips, saying so)
ifeq ($(NEXTEST),yes)
	EMULATOR=moto tools/with-skips.sh cargo nextest run --workspace --locked --no-fail-fast \
	  -E 'binary_id(data-processor::worker) | binary_id(data-processor::faults) | binary_id(data-processor::reconcile)'
else
	EMULATOR=moto tools/with-skips.sh cargo test --workspace --locked --no-fail-fast --test worker --test faults --test reconcile
endif

.PHONY: test-external
test-external: venv ## The API and worker suites + a short chaos run against an endpoint the harness did not start (EMULATOR_URL=http://host:4566 [EMULATOR_FEATURES=…]; default: a ministack started outside it); nothing may be left behind
	cargo build --workspace --locked --bins
	BIN_DIR=$(CARGO_TARGET_DIR)/debug tools/with-skips.sh tools/test-external.sh

.PHONY: simulate
simulate: ## The deterministic simulation: SIM_SEEDS (default 200) seeds of the real worker, reconciler and API over the in-memory AWS, under crashes, stops, lost answers, throttling and outages; a failing seed prints its replay (SIM_SEED=N replays one)
	cargo run --locked --release -p simulator -- $(if $(SIM_SEED),--seed $(SIM_SEED),--seeds $${SIM_SEEDS:-200})

.PHONY: chaos
chaos: venv ## Chaos end to end: CHAOS_JOBS (default 1000) jobs, random SIGKILL/SIGTERM of workers, duplicates, a 25 s table outage; every job checked against the counters
	cargo build --workspace --locked --bins
	CHAOS_JOBS=$${CHAOS_JOBS:-1000} cargo test --workspace --locked --test chaos -- --nocapture

.PHONY: test-infra
test-infra: venv venv-lint synth synth-pipeline ## CDK assertion tests, cfn-lint, checkov (the stacks and the pipeline), manifest drift, CRD/schema validation, local/CDK parity
	cd $(INFRA) && node --test dist/test/
	cd $(INFRA) && ../$(LINT_VENV)/bin/cfn-lint cdk.out/*.template.json cdk.out.pipeline/*.template.json cdk.out.pipeline/assembly-*/*.template.json
	$(LINT_VENV)/bin/checkov --skip-download --quiet --compact -o cli --framework cloudformation -d $(INFRA)/cdk.out -d $(INFRA)/cdk.out.pipeline
	$(LINT_VENV)/bin/shellcheck tools/pipeline/*.sh
	$(LINT_VENV)/bin/checkov --skip-download --quiet --compact -o cli --framework kubernetes -d keda -d karpenter
	@tmp=$$(mktemp -d) && node $(INFRA)/dist/bin/k8s.js --out $$tmp 2>/dev/null \
	  && diff -r keda $$tmp/keda && diff -r karpenter $$tmp/karpenter && rm -rf $$tmp \
	  && echo "manifests: keda/ and karpenter/ match the charts" \
	  || { echo "manifests: keda/ or karpenter/ differ from the charts: run 'make manifests' and commit" >&2; exit 1; }
	$(LINT_VENV)/bin/yamllint -s keda karpenter docs/gitops
	$(LINT_VENV)/bin/python $(INFRA)/scripts/validate-manifests.py keda karpenter
	cargo test --workspace --locked --test parity -- --ignored

.PHONY: test-image
test-image: image ## The built image against the emulator (one job: non-root, read-only root), then the local controller's container executor end to end
	cargo build --workspace --locked --bins
	CONTAINER_ENGINE=$$(tools/container/engine.sh) IMAGE=$(IMAGE) \
	  cargo test --workspace --locked --test image --test container_e2e -- --ignored --nocapture

# The local stack (tools/local/): ports and the executor can be overridden, e.g.
#   make up EMULATOR_PORT=4567 API_PORT=3001 CONTROLLER_PORT=8090 EXECUTOR=process
#   make up EMULATOR_URL=http://localhost:4566   (an emulator already running, e.g. LocalStack)
# Every stage builds and tests with --workspace (choosing targets, not packages): cargo unifies
# features per selection, so `-p` subsets would each rebuild the workspace's crates (~3 min a CI run).
LOCAL_BINS := --workspace

.PHONY: up
up: venv ## Run the whole system locally: ministack (or EMULATOR_URL), the API, the local ScaledJob controller (Ctrl-C stops)
	cargo build --locked $(LOCAL_BINS) --bins
	BIN_DIR=$(CARGO_TARGET_DIR)/debug IMAGE=$(IMAGE) tools/local/up.sh

.PHONY: down
down: ## Stop everything make up started (from any terminal; an EMULATOR_URL emulator keeps running); removes leftover Job containers
	tools/local/down.sh

.PHONY: demo
demo: ## Submit a mix of jobs and a schedule to the running stack with jobsctl, follow them, print the stats
	cargo build --locked $(LOCAL_BINS) --bins
	JOBSCTL=$(CARGO_TARGET_DIR)/debug/jobsctl python3 tools/local/demo.py

.PHONY: browser
browser: tools/browser/node_modules/.installed ## Debian's chromium (apt-get when root and missing) and playwright-core for the dashboard's browser test
	tools/browser/chromium.sh >/dev/null

tools/browser/node_modules/.installed: tools/browser/package-lock.json
	cd tools/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: test-local
test-local: venv browser ## make up, make demo (exact stats), the dashboard in headless chromium (screenshots in .test-output/browser), make down, then make up + Ctrl-C, then make up EMULATOR_URL twice against a running ministack: nothing left behind, that emulator left running
	cargo build --locked $(LOCAL_BINS) --bins
	BIN_DIR=$(CARGO_TARGET_DIR)/debug IMAGE=$(IMAGE) tools/local/smoke.sh

.PHONY: clean
clean: ## Remove the virtualenvs, node_modules and build outputs (the shared Cargo target dir is kept)
	rm -rf $(VENV) $(LINT_VENV) dist tools/browser/node_modules .test-output $(INFRA)/node_modules $(INFRA)/dist $(INFRA)/imports $(INFRA)/cdk.out $(INFRA)/cdk.out.pipeline
