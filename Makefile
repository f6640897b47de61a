# Smarter Dev — the two commands a newcomer needs: `make run` and `make test`.
GO         ?= go
PKG        := github.com/smarterdev/smarterdev
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_TIME ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS    := -X $(PKG)/internal/app.version=$(VERSION) -X $(PKG)/internal/app.commit=$(COMMIT) -X $(PKG)/internal/app.buildTime=$(BUILD_TIME)
# The race detector needs cgo (a C compiler); without one the tests still run.
RACE       := $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && command -v "$$($(GO) env CC)" >/dev/null 2>&1 && echo -race)

.PHONY: run build test bench bench-transfers bench-bot bench-api bench-instr lint generate check-generated check-deploy clean

run: ## start every role in one process (SQLite in ./data, in-process bus, http://127.0.0.1:8080)
	SMARTERDEV_LOG_FORMAT=$${SMARTERDEV_LOG_FORMAT:-text} $(GO) run -ldflags "$(LDFLAGS)" ./cmd/smarterdev serve

build: ## build bin/smarterdev
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/smarterdev ./cmd/smarterdev

test: ## every test; PostgreSQL and Redis suites run when SMARTERDEV_TEST_DATABASE_URL / SMARTERDEV_TEST_REDIS_URL are set
	@[ -n "$(RACE)" ] || echo "note: no C compiler found, running without the race detector"
	$(GO) test $(RACE) -count=1 -timeout 15m ./...
	@# Without -race: the bank test at full length (under -race it runs a shorter
	@# SQLite round), the sandbox end to end, the gateway resume test and the heartbeat ACK test, which
	@# drive disgo v0.19.6, whose gateway races with itself (docs/emulator.md).
	$(GO) test -count=1 -run 'TestBankInvariants|TestSandboxEndToEnd|TestSurvivesReconnectAndDrop|TestFastHeartbeatAcksKeepTheConnection' ./internal/squads/ ./internal/app/ ./internal/discord/bot/

# Benchmarks need PostgreSQL and pgbench; this is the local default.
BENCH_DB   ?= $${SMARTERDEV_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}

bench: bench-transfers bench-bot ## the economy and bot benchmarks (docs/PERFORMANCE.md); bench-api is separate (needs wrk)

bench-transfers: ## transfers through the service vs pgbench on the same PostgreSQL
	$(GO) run ./tools/benchtransfers -db "$(BENCH_DB)"

bench-bot: ## MESSAGE_CREATE for rewarded members vs bare decoding, with instrumentation off and on; the midnight burst of 100,000 first messages vs pgbench
	$(GO) test -run XXX -bench 'DecodeMessageCreate|MessageCreateRewarded|GatewayInstrumentation' -benchtime 2s ./internal/discord/bot
	SMARTERDEV_TEST_DATABASE_URL="$(BENCH_DB)" $(GO) test -run XXX -bench MidnightBurst -benchtime 1x -timeout 30m ./internal/discord/bot

bench-api: ## API reads (balance, leaderboard) vs a static handler with wrk, on SQLite and (with SMARTERDEV_TEST_DATABASE_URL) PostgreSQL
	$(GO) run ./tools/benchapi

bench-instr: ## instructions per request of the HTTP instrumentation, counted by callgrind (needs valgrind): bare, logs and metrics, traced
	bash tools/instrcount.sh

lint: ## go vet, staticcheck, gofmt
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Generated and committed: the sqlc queries, the OpenAPI documents, the Go API client.
GENERATED  := internal/store/sqldb api pkg/apiclient

generate: ## regenerate the sqlc query package, the OpenAPI documents in api/ and the Go API client in pkg/apiclient
	$(GO) tool sqlc generate
	$(GO) run ./tools/openapi -out api
	$(GO) generate ./pkg/apiclient

check-generated: generate ## fail when generated code is stale
	@git diff --exit-code -- $(GENERATED) || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@[ -z "$$(git status --porcelain -- $(GENERATED))" ] || { echo "generated code is stale: run make generate and commit"; exit 1; }

check-deploy: ## check the Prometheus rules (and their unit tests) and the Alertmanager example: needs promtool and amtool (Debian: prometheus, prometheus-alertmanager)
	promtool check rules deploy/prometheus/rules.yml
	promtool test rules deploy/prometheus/tests/*.yml
	amtool check-config deploy/alertmanager/alertmanager.example.yml

clean:
	rm -rf bin
