# The two commands: `make start` runs everything, `make test` runs every check and test.
# Each first runs the doctor (scripts/doctor.sh), which installs the system packages that are missing
# (a C/C++ toolchain, Chromium for the page tests) and stops with the fixing command for what it
# cannot install; then npm packages (npm ci) and the Temporal CLI (built from its Go module).

TEMPORAL_CLI_VERSION := v1.5.1
TOOLS := $(CURDIR)/.tools
TEMPORAL := $(TOOLS)/temporal
# What the doctor checks for: the ports of `make start`, Chromium and PostgreSQL for `make test`,
# PostgreSQL for `make start-cluster`, else what builds.
DOCTOR_FOR := $(if $(filter start-cluster,$(MAKECMDGOALS)),cluster,$(if $(filter start,$(MAKECMDGOALS)),start,$(if $(filter test,$(MAKECMDGOALS)),test,build)))

.PHONY: start test doctor system deps tools build lint bench bench-analytics bench-lists bench-audience bench-dates bench-price-drop clean

start: deps build
	node dist/start.js

test: deps build
	npm run typecheck
	npm run lint
	npm run format:check
	npm test

# The benchmarks and the test harness they use build apart (tsconfig.bench.json → dist-bench/), so
# they never enter dist/ or the image; `make bench` still needs dist/ for the worker and API it starts.
bench: deps build
	npm run build:bench
	node dist-bench/bench/bench.js $(ARGS)

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

build: deps
	npm run build

clean:
	rm -rf dist dist-bench
