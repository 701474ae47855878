# The kiosk backend's commands. `make dev` and `make test` are all a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
VENV_STAMP  := $(VENV)/.installed-$(shell sha1sum requirements-dev.txt | cut -c1-12)
MOTO_PORT   ?= 4566
PORT        ?= 3000
ENV         ?= dev
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR ?= auto

.PHONY: help venv toolchain dev test check check-and-build fmt lint deps e2e cfn-lint deploy-lock build deploy keys rotate-keys invoke bench microbench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV_STAMP): requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

venv: $(VENV_STAMP) ## Install the Python tools (moto, cargo-lambda, cfn-lint, SAM CLI) into .venv

toolchain: ## Check the Rust toolchain has what the checks use
	@command -v cargo > /dev/null || { echo "cargo is missing: install Rust with rustup (https://rustup.rs)"; exit 1; }
	@cargo fmt --version > /dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version > /dev/null 2>&1 || rustup component add clippy

dev: venv toolchain ## Emulator + bootstrap + the whole API on http://127.0.0.1:$(PORT) (Ctrl-C stops it all)
	cargo build --locked -p kiosk-local
	PORT=$(PORT) scripts/with-emulator.sh --port $(MOTO_PORT) -- $${CARGO_TARGET_DIR:-target}/debug/kiosk-local serve

test: toolchain ## Every check: fmt, clippy, unit, integration and end-to-end tests, cfn-lint, sam validate, actionlint
	@# pip's install is mostly network and unpacking: it runs beside clippy
	@# and the build of what the end-to-end tests run (on a fresh clone the
	@# install takes about as long as clippy and half the build).
	$(MAKE) --no-print-directory -j2 venv check-and-build
	$(MAKE) --no-print-directory e2e cfn-lint

check-and-build: check
	cargo build --locked --workspace --bins --tests

check: fmt lint deps ## Formatting, clippy (warnings denied), what each function links

fmt:
	cargo fmt --all -- --check

deps:
	scripts/check-deps.sh

lint:
	cargo clippy --locked --workspace --all-targets -- -D warnings

# The end-to-end tests also run the built Lambda binaries on events/, so the
# binaries are built first, in the same cargo call as the tests: one feature
# resolution, so `cargo test` compiles nothing again. The suite gets
# emulators of its own: two, one per core (moto serves one request at a time),
# each test's stack on the one its name picks.
e2e: venv
	cargo build --locked --workspace --bins --tests
	KIOSK_EMULATORS=2 scripts/with-emulator.sh -- cargo test --locked --workspace
	scripts/with-emulator.sh -- scripts/check-local-api.sh

cfn-lint: venv
	cfn-lint template.yaml deploy/github-oidc.yaml
	sam validate --lint --template template.yaml
	actionlint
	python scripts/check-deploy-roles.py
	python scripts/check-template-defaults.py
	@# The deploy jobs' hash-locked SAM CLI must be the one the checks ran.
	@grep -qixF "$$(grep -iE '^aws-sam-cli==' requirements-dev.txt) \\" deploy/requirements-deploy.txt \
		|| { echo "deploy/requirements-deploy.txt does not pin requirements-dev.txt's aws-sam-cli: run make deploy-lock"; exit 1; }

deploy-lock: venv ## Re-lock deploy/requirements-deploy.txt (the deploy jobs' SAM CLI, with hashes) after changing requirements-dev.txt
	scripts/lock-deploy-requirements.sh

build: venv ## sam build: arm64 release bootstraps of every function into .aws-sam/, zip sizes checked
	@rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu \
		|| { echo "cannot add the aarch64-unknown-linux-gnu target with rustup; sam build needs it"; exit 1; }
	sam build --template template.yaml
	scripts/check-zip-sizes.sh .aws-sam/build

deploy: build ## sam deploy to ENV (dev by default; prod asks to confirm the change set)
	sam deploy --config-env $(ENV)

keys: ## Create ENV's token key pair, once before its first deploy (make keys ENV=dev)
	cargo run --locked --quiet -p kiosk-tools -- keys generate $(ENV)

rotate-keys: ## New token signing key for ENV, the old one kept as previous; deploy ENV afterwards
	cargo run --locked --quiet -p kiosk-tools -- keys rotate $(ENV)

invoke: ## Run one function on one event without Docker: make invoke FN=OrdersFunction EVENT=events/orders/get-orders.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<function logical id> EVENT=<events/...json>"; exit 2; }
	cargo build --locked --workspace --bins
	$${CARGO_TARGET_DIR:-target}/debug/kiosk-local invoke $(FN) $(EVENT)

bench: venv toolchain ## Each function against a do-nothing floor: cold start, warm latency, CPU, memory, zip; budgets (docs/PERFORMANCE.md)
	@rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu \
		|| { echo "cannot add the aarch64-unknown-linux-gnu target with rustup; the arm64 zips need it"; exit 1; }
	scripts/bench.sh

microbench: ## Criterion benchmarks of the request paths' CPU work (token verification, CPF, checkout pricing)
	cargo bench --locked -p shared --bench hot_paths

clean: ## Remove build output and the venv
	cargo clean
	rm -rf .aws-sam .local $(VENV)
