# The two commands: `make start` runs everything, `make test` runs every check and test.
# Each first runs the doctor (scripts/doctor.sh), which installs the system packages that are missing
# (a C/C++ toolchain, Chromium for the page tests) and stops with the fixing command for what it
# cannot install; then npm packages (npm ci) and the Temporal CLI (built from its Go module).

TEMPORAL_CLI_VERSION := v1.5.1
TOOLS := $(CURDIR)/.tools
TEMPORAL := $(TOOLS)/temporal
# `make start-cluster` and the cluster tests: the Temporal server, its schema tool and the Web UI
# server, built once from their Go modules (the last releases that build with Go 1.26.8; kept equal
# to src/cluster/tools.ts, which test/unit/cluster-tools.test.ts checks).
TEMPORAL_SERVER_VERSION := v1.32.1
TEMPORAL_UI_SERVER_VERSION := v2.55.0
TEMPORAL_SERVER_DIR := $(TOOLS)/temporal-server-$(TEMPORAL_SERVER_VERSION)
TEMPORAL_SERVER := $(TEMPORAL_SERVER_DIR)/server
TEMPORAL_SQL_TOOL := $(TEMPORAL_SERVER_DIR)/sql
TEMPORAL_UI_SERVER_DIR := $(TOOLS)/temporal-ui-server-$(TEMPORAL_UI_SERVER_VERSION)
TEMPORAL_UI_SERVER := $(TEMPORAL_UI_SERVER_DIR)/server
# What the doctor checks for: the ports of `make start`, Chromium and PostgreSQL for `make test`,
# PostgreSQL for `make start-cluster`, else what builds.
DOCTOR_FOR := $(if $(filter start-cluster,$(MAKECMDGOALS)),cluster,$(if $(filter start,$(MAKECMDGOALS)),start,$(if $(filter test,$(MAKECMDGOALS)),test,build)))

.PHONY: start start-cluster test doctor system deps tools cluster-tools build lint bench bench-ingest bench-analytics bench-lists bench-audience bench-dates bench-price-drop bench-protection bench-eager fuzz fuzz-tools chaos clean

start: deps build
	node dist/start.js

# PostgreSQL, a Temporal server on it (8 history shards), its Web UI, 2 API and 2 worker processes
# (HOOKFLOW_WORKERS, HOOKFLOW_API_PROCESSES) under a supervisor; Ctrl-C stops them all.
start-cluster: deps build cluster-tools
	node dist/scripts/start-cluster.js

# The cluster suite (test/integration/cluster.test.ts) needs the server: built here, never skipped.
test: deps build cluster-tools fuzz-tools
	npm run typecheck
	npm run lint
	npm run format:check
	npm test

# The benchmarks and the test harness they use build apart (tsconfig.bench.json → dist-bench/), so
# they never enter dist/ or the image; `make bench` still needs dist/ for the worker and API it starts.
# `ARGS="--cluster --workers 1,2,3"` adds the Temporal cluster on PostgreSQL (its binaries built first).
# `ARGS="--parked 10000 [--release-after S]"` runs only the parked-runs bench (bench/parked.ts): the
# worker's RSS while that many runs wait in a delay, and the rate they deliver at when it ends.
bench: deps build $(if $(findstring --cluster,$(ARGS)),cluster-tools)
	npm run build:bench
	node dist-bench/bench/bench.js $(ARGS)

# Events accepted per second by POST /api/events beside a bare Express endpoint, in one run (issue 15).
# What endpoint protection costs per delivery (bench/protection.ts): the destination store's two
# transactions alone on SQLite and PostgreSQL, then deliveries end to end with it off and on.
bench-protection: deps build
	npm run build:bench
	node dist-bench/bench/protection.js $(ARGS)

# Eager workflow start (bench/eager.ts): light-load latency and deliveries/s of an API that hosts a
# worker and starts runs eagerly (HOOKFLOW_EAGER_START), beside the same API without it and the
# default worker process, on one dev server. ARGS="--light 100 --events 300 --concurrency 16".
bench-eager: deps build
	npm run build:bench
	node dist-bench/bench/eager.js $(ARGS)

bench-ingest: deps build
	npm run build:bench
	node dist-bench/bench/ingest.js $(ARGS)

# Analytics queries over 1,000,000 seeded deliveries; ARGS="--db postgres" times them on PostgreSQL.
bench-analytics: deps build
	npm run build:bench
	node dist-bench/bench/analytics.js $(ARGS)

bench-lists: deps build
	npm run build:bench
	node dist-bench/bench/list-import.js $(ARGS)

# Segment evaluation per event and per profile change (20 segments), one recompute over 100,000 profiles.
bench-audience: deps build
	npm run build:bench
	node dist-bench/bench/audience.js $(ARGS)

# Date-property flows: one sweep over 100,000 profiles with the date property (issue 12).
bench-dates: deps build
	npm run build:bench
	node dist-bench/bench/date-sweep.js $(ARGS)

# Price-drop fan-out (issue 12): runs started per second for one drop on an item N profiles viewed.
bench-price-drop: deps build
	npm run build:bench
	node dist-bench/bench/price-drop.js $(ARGS)

# schemathesis (fuzz/requirements.txt, in the venv .tools/fuzz-venv) against a real stack's
# /api/openapi.json as its owner: at least 10,000 requests (ARGS="--requests N"), every phase; fails on
# a 5xx, an answer off its documented status, content type or schema, or a leaked secret (issue 17).
fuzz: deps build fuzz-tools
	npm run build:bench
	node dist-bench/bench/fuzz.js $(ARGS)

# The fault suite (bench/chaos.ts): events under load while the worker, the Temporal dev server or
# the API is killed (SIGKILL), the endpoint answers 503 then refuses connections, or the SQLite
# database is locked; one row per scenario; fails when an accepted event was not delivered, a
# delivery is counted wrong or a run is stuck. ARGS="--events 300 --outage 60 --only worker-kill,db-lock";
# ARGS="--cluster" runs its scenarios on the Temporal cluster on PostgreSQL (its binaries built first).
chaos: deps build $(if $(findstring --cluster,$(ARGS)),cluster-tools)
	npm run build:bench
	node dist-bench/bench/chaos.js $(ARGS)

# Every prerequisite, found or missing, with the command that fixes it; installs nothing.
doctor:
	@bash scripts/doctor.sh all

# Installs the missing system packages for the goal at hand, or stops with the doctor's message.
system:
	@bash scripts/doctor.sh --install $(DOCTOR_FOR)

deps: system node_modules/.package-lock.json tools

# npm ci when the lock file changed since the last install (after the doctor: it may need g++).
node_modules/.package-lock.json: package-lock.json package.json | system
	npm ci
	@touch $@

tools: $(TEMPORAL)

$(TEMPORAL): | system
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS=-mod=mod go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

# schemathesis for `make fuzz` and its short run in `make test`, in a venv made once (scripts/fuzz-venv.sh).
fuzz-tools: | system
	@scripts/fuzz-venv.sh

cluster-tools: $(TEMPORAL_SERVER) $(TEMPORAL_SQL_TOOL) $(TEMPORAL_UI_SERVER)

$(TEMPORAL_SERVER): | system
	@mkdir -p $(TEMPORAL_SERVER_DIR)
	GOBIN=$(TEMPORAL_SERVER_DIR) GOFLAGS=-mod=mod go install go.temporal.io/server/cmd/server@$(TEMPORAL_SERVER_VERSION)

$(TEMPORAL_SQL_TOOL): | system
	@mkdir -p $(TEMPORAL_SERVER_DIR)
	GOBIN=$(TEMPORAL_SERVER_DIR) GOFLAGS=-mod=mod go install go.temporal.io/server/cmd/tools/sql@$(TEMPORAL_SERVER_VERSION)

$(TEMPORAL_UI_SERVER): | system
	@mkdir -p $(TEMPORAL_UI_SERVER_DIR)
	GOBIN=$(TEMPORAL_UI_SERVER_DIR) GOFLAGS=-mod=mod go install github.com/temporalio/ui-server/v2/cmd/server@$(TEMPORAL_UI_SERVER_VERSION)

build: deps
	npm run build

clean:
	rm -rf dist dist-bench
