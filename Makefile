# Tenant Service — the two commands a newcomer needs are `make run` and `make test`.
GO        ?= go
PKGS      ?= ./...
BENCHTIME ?= 2s

.PHONY: run test node-deps console-screenshots tools bench fuzz build migrate vet fmt check

## run: create the database if missing, migrate, serve on $PORT (default 3007).
## The binary replaces the shell (exec), so SIGTERM or Ctrl-C to make reaches it.
run:
	$(GO) build -o bin/tenant-service ./cmd/tenant-service
	exec ./bin/tenant-service serve

## test: every test, against the real PostgreSQL, Redis and RabbitMQ: the service's,
## then the Go client module's (client/, its own module)
test: node-deps tools
	$(GO) test -race -count=1 -timeout 25m $(PKGS)
	cd client && $(GO) test -race -count=1 -timeout 10m ./...

## tools: promtool (from Debian's prometheus package, unpacked, not installed) into .tools/bin,
## for the test that checks deploy/prometheus/alerts.yml
TOOLS = .tools
tools: $(TOOLS)/bin/promtool
$(TOOLS)/bin/promtool:
	mkdir -p $(TOOLS)/dl $(TOOLS)/bin
	cd $(TOOLS)/dl && apt-get download prometheus
	dpkg-deb -x $(TOOLS)/dl/prometheus_*.deb $(TOOLS)/dl/x
	cp $(TOOLS)/dl/x/usr/bin/promtool $@
	rm -rf $(TOOLS)/dl

## node-deps: the npm packages the tests need, each installed from its lock file
## when missing or stale: those the Node example (examples/node-consumer) runs
## with, @asyncapi/specs, the AsyncAPI JSON schemas the messaging tests
## validate messaging/asyncapi.json against (messaging/testdata/asyncapi-specs),
## Spectral, the linter the tests run on handlers/openapi.json and
## messaging/asyncapi.json (internal/spectraltest), and playwright-core and
## axe-core, which drive the admin console in Debian's Chromium
## (console/browsertest; no browser is downloaded)
NODE_CONSUMER  = examples/node-consumer
ASYNCAPI_SPECS = messaging/testdata/asyncapi-specs
SPECTRAL       = internal/spectraltest
CONSOLE_TEST   = console/browsertest
node-deps: $(NODE_CONSUMER)/node_modules/.package-lock.json $(ASYNCAPI_SPECS)/node_modules/.package-lock.json \
	$(SPECTRAL)/node_modules/.package-lock.json $(CONSOLE_TEST)/node_modules/.package-lock.json
$(NODE_CONSUMER)/node_modules/.package-lock.json: $(NODE_CONSUMER)/package-lock.json
	npm ci --prefix $(NODE_CONSUMER) --no-audit --no-fund --loglevel=error
$(ASYNCAPI_SPECS)/node_modules/.package-lock.json: $(ASYNCAPI_SPECS)/package-lock.json
	npm ci --prefix $(ASYNCAPI_SPECS) --no-audit --no-fund --loglevel=error
$(SPECTRAL)/node_modules/.package-lock.json: $(SPECTRAL)/package-lock.json
	npm ci --prefix $(SPECTRAL) --no-audit --no-fund --loglevel=error
$(CONSOLE_TEST)/node_modules/.package-lock.json: $(CONSOLE_TEST)/package-lock.json
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix $(CONSOLE_TEST) --no-audit --no-fund --loglevel=error

## console-screenshots: run the console's browser test and save the screenshots
## of its main pages that the README shows (docs/console/*.png); needs Chromium
## (apt-get install -y chromium) and make node-deps
console-screenshots: node-deps
	CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console $(GO) test -count=1 -run '^TestConsoleInBrowser$$' ./cmd/tenant-service/

## bench: the benchmarks whose figures go into closing notes
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 30m $(PKGS)
	cd client && $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout 30m ./...

## fuzz: each fuzz target for FUZZTIME (default 60s); `make test` runs their seed corpora only
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime $(FUZZTIME) ./eventstore
	$(GO) test -run '^$$' -fuzz '^FuzzParseNotification$$' -fuzztime $(FUZZTIME) ./metagraph
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(FUZZTIME) ./handlers
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME) ./cmd/tenant-service
	$(GO) test -run '^$$' -fuzz '^FuzzWebhook$$' -fuzztime $(FUZZTIME) ./cmd/tenant-service

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/tenant-service ./cmd/tenant-service

migrate:
	$(GO) run ./cmd/tenant-service migrate

vet:
	$(GO) vet $(PKGS)
	cd client && $(GO) vet ./...

fmt:
	gofmt -l -w .

check: vet
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
