# The two commands: `make start` runs everything, `make test` runs every check and test.
# Each installs what is missing: npm packages (npm ci) and the Temporal CLI (built from its Go module).

TEMPORAL_CLI_VERSION := v1.5.1
TOOLS := $(CURDIR)/.tools
TEMPORAL := $(TOOLS)/temporal

.PHONY: start test deps tools build lint bench clean

start: deps build
	node dist/start.js

test: deps build
	npm run typecheck
	npm run lint
	npm run format:check
	npm test

bench: deps build
	node dist/bench/bench.js $(ARGS)

bench-analytics: deps build
	node dist/bench/analytics.js $(ARGS)

deps: node_modules/.package-lock.json tools

# npm ci when the lock file changed since the last install.
node_modules/.package-lock.json: package-lock.json package.json
	npm ci
	@touch $@

tools: $(TEMPORAL)

$(TEMPORAL):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS=-mod=mod go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

build: deps
	npm run build

clean:
	rm -rf dist
