# The shop's commands. Two matter most:
#   make up    install the tools, build, start LocalStack, deploy, seed, print the API URL
#   make test  unit tests + executor tests + integration tests against the local stack
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV := source infra/local/env.sh
OUTPUTS := .local/stack-outputs.json
# One feature set and one package set (--workspace) for every debug build of the local loop,
# so each crate is compiled once for the tests, shopctl and (LAMBDA_BUILD_PROFILE=dev, the default) the local
# stack's functions: the in-memory stores and the event schemas (in no AWS build;
# infra/scripts/build-functions.py says why dev builds carry them). A `-p <crate>` build would
# resolve other features and compile the SDK again.
export SHOP_TEST_FEATURES := shop-core/fakes,shop-core/schemas
TEST_FEATURES := --features $(SHOP_TEST_FEATURES)
# shopctl from that same build (`cargo run -p shopctl` would resolve its own features).
SHOPCTL = cargo build --quiet --workspace --bins --examples $(TEST_FEATURES) && "$${CARGO_TARGET_DIR:-target}/debug/shopctl"
# Reads one stack output from $(OUTPUTS).
output = $$(python3 -c 'import json,sys; print(json.load(open("$(OUTPUTS)"))[sys.argv[1]])' $(1))

.PHONY: help install build start deploy-local seed reconcile up down status test unit-test executor-test \
        integration-test lint deploy clean bench redrive trace schemas capture-envelopes soak reconcile coupling burst

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: ## Install pinned tools into .local/ (LocalStack, SAM, cargo-lambda, cfn-lint, DynamoDB Local)
	@infra/local/install.sh

start: install ## Start LocalStack on 127.0.0.1:4566 (no-op when it is already healthy)
	@infra/local/start.sh

deploy-local: start ## Build with cargo-lambda (sam build) and deploy the template to LocalStack
	@infra/scripts/deploy-local.sh

seed: ## Load the demo catalog and the local demo users (demo@shop.local, admin@shop.local) (repeatable)
	@$(ENV) && $(SHOPCTL) seed --products-table "$(call output,ProductsTableName)" --file infra/seed/catalog.json \
	  --users-table "$(call output,UsersTableName)"

reconcile: ## Check the invariants across the tables (stock, money, ledger, liveness), read only; RECONCILE_FLAGS=--analytics adds the counters
	@$(ENV) && $(SHOPCTL) reconcile --check \
	  --products-table "$(call output,ProductsTableName)" --reservations-table "$(call output,ReservationsTableName)" \
	  --orders-table "$(call output,OrdersTableName)" --payments-table "$(call output,PaymentsTableName)" \
	  --ledger-table "$(call output,LedgerTableName)" --analytics-table "$(call output,AnalyticsTableName)" \
	  --approval-timeout "$(call output,ApprovalTimeoutSeconds)" --cancel-window "$(call output,CancelWindowSeconds)" \
	  $(RECONCILE_FLAGS)

up: deploy-local seed ## Everything: install, build, start, deploy, seed; prints the API URL
	@base="$(call output,ApiBaseUrl)"; ca=".local/localstack-ca.pem"; \
	echo; echo "Shop API: $$base (LocalStack's certificate: $$ca)"; echo; \
	echo "  curl -s --cacert $$ca $$base/products?limit=3"; \
	echo "  TOKEN=\$$(curl -s --cacert $$ca -X POST $$base/sessions | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])')"; \
	echo "  curl -s --cacert $$ca -X PUT -H \"Authorization: Bearer \$$TOKEN\" -H \"Content-Type: application/json\" -d '{\"quantity\": 2}' $$base/cart/items/TSHIRT-BLK-M"; \
	echo "  curl -s --cacert $$ca -H \"Authorization: Bearer \$$TOKEN\" $$base/cart"; echo

down: ## Stop LocalStack and everything it started
	@infra/local/stop.sh

test: up ## Unit + executor + integration tests (brings the stack up first), with a summary line
	@infra/scripts/run-tests.sh

unit-test: ## Rust unit tests (in-memory fakes, no AWS)
	@cargo test --workspace $(TEST_FEATURES) --lib --bins --test events
	@cargo test --workspace $(TEST_FEATURES) --doc

executor-test: start ## Tests of our LocalStack Lambda executor plugin
	@infra/local/test.sh

integration-test: ## Tests against LocalStack: DynamoDB stores; the deployed stack through its API (tests sharing it side by side, then those that change it, alone or beside one that cannot notice, then the log scan for secrets); the API fuzzed against api/openapi.json (infra/scripts/integration-tests.sh)
	@infra/scripts/integration-tests.sh

soak: ## The soak (not in CI): SOAK_ORDERS checkouts (default 200) under injected AWS faults and crashes, then the invariants; writes bench/soak-results.md
	@$(MAKE) --no-print-directory up
	@$(ENV) && SHOP_STACK_OUTPUTS="$(CURDIR)/$(OUTPUTS)" SOAK_ORDERS="$${SOAK_ORDERS:-200}" SOAK_REPORT="$${SOAK_REPORT:-$(CURDIR)/bench/soak-results.md}" \
	  cargo test --workspace --test soak $(TEST_FEATURES) -- --nocapture

bench: ## Measure every function (cold/warm/RSS/size), the API end to end and the AWS cost; writes bench/results.{json,md}
	@LAMBDA_BUILD_PROFILE=release $(MAKE) --no-print-directory up
	@bench/install-hey.sh
	@$(ENV) && CARGO_TARGET_DIR="$(CURDIR)/target/aws" "$(CURDIR)/.local/venv-localstack/bin/python" bench/run.py

# The two load runs below deploy optimised functions (`fast`: the release profile minus fat LTO),
# as their published figures were measured, instead of the local loop's debug builds.
coupling: ## The coupling experiment: a tightly coupled login (bench/coupling/, a synchronous fraud check) beside the event-driven one, fraud service healthy, slow and down; writes bench/coupling/
	@LAMBDA_BUILD_PROFILE=fast $(MAKE) --no-print-directory up
	@$(ENV) && PLOT_PYTHON="$$(bench/install-plot.sh)" "$(CURDIR)/.local/venv-localstack/bin/python" bench/coupling.py

burst: ## Backpressure: publish a burst of events (BURST_EVENTS, default 5000, over 10 s) and sample the queues until drained; writes bench/burst/
	@LAMBDA_BUILD_PROFILE=fast $(MAKE) --no-print-directory up
	@$(ENV) && PLOT_PYTHON="$$(bench/install-plot.sh)" "$(CURDIR)/.local/venv-localstack/bin/python" bench/burst.py

schemas: ## Regenerate events/schemas/ (JSON Schemas of the event types) and events/asyncapi.yaml
	@UPDATE_SCHEMAS=1 cargo test -p shop-core --lib $(TEST_FEATURES) schemas_are_committed
	@$(ENV) && python3 events/asyncapi.py

capture-envelopes: ## Capture one real envelope of every event type from the local stack into events/envelopes/ (needs make up)
	@$(ENV) && python3 events/capture-envelopes.py

redrive: ## Move the messages of a consumer's DLQ back to its queue: make redrive QUEUE=fraud-detector [TARGET=aws]
	@if [ "$${TARGET:-local}" = aws ]; then infra/scripts/redrive.py "$(QUEUE)"; \
	 else $(ENV) && "$$LOCAL_DIR/venv-tools/bin/python" infra/scripts/redrive.py "$(QUEUE)"; fi

trace: ## One order's journey in time order (API, workflow, events, consumers, ledger, notifications): make trace ORDER=<id> [TARGET=aws]
	@if [ -z "$(ORDER)" ]; then echo "usage: make trace ORDER=<order id> [TARGET=aws]" >&2; exit 2; fi
	@if [ "$${TARGET:-local}" = aws ]; then \
	   outputs=$$(mktemp) && trap 'rm -f "$$outputs"' EXIT && \
	   python3 -c 'import boto3, json, os, sys; s = boto3.client("cloudformation").describe_stacks(StackName=os.environ.get("STACK_NAME", "shop"))["Stacks"][0]; json.dump({o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs", [])}, sys.stdout)' > "$$outputs" && \
	   $(SHOPCTL) trace --order "$(ORDER)" --outputs "$$outputs"; \
	 else $(ENV) && $(SHOPCTL) trace --order "$(ORDER)" --outputs "$(OUTPUTS)"; fi

lint: install ## cargo fmt, clippy -D warnings (with and without the test features), events/asyncapi.yaml up to date, cfn-lint and sam validate --lint, asl-validator, cfn-guard (infra/policies)
	@cargo fmt --all -- --check
	@cargo clippy --workspace --all-targets -- -D warnings
	@cargo clippy --workspace --all-targets $(TEST_FEATURES) -- -D warnings
	@$(ENV) && python3 events/asyncapi.py --check && node infra/scripts/validate-asyncapi.mjs
	@$(ENV) && cfn-lint infra/template.yaml
	@$(ENV) && sam validate --lint --template-file infra/template.yaml --config-file "$(CURDIR)/infra/samconfig.toml"
	@infra/scripts/validate-asl.sh
	@infra/policies/check.sh

deploy: ## Build for arm64 (one cargo-lambda run) and deploy to your AWS account (uses your AWS credentials)
	@export PATH="$(CURDIR)/.local/venv-tools/bin:$$PATH" CARGO_TARGET_DIR="$(CURDIR)/target/aws" && python infra/scripts/build-functions.py arm64 .aws-sam/arm64/template.json \
	  && sam deploy --template-file .aws-sam/arm64/template.json --config-file "$(CURDIR)/infra/samconfig.toml"

clean: down ## Stop LocalStack and remove build outputs and local state (keeps installed tools)
	@rm -rf .aws-sam target/lambda target/aws/lambda .local/localstack/var/lib/localstack/state .local/stack-outputs.json
