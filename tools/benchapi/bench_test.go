package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/telemetry"
)

// BenchmarkInstrumentation is `-instr both` without the network: GET balance
// through the handler benchapi serves (SQLite), with the instrumentation off,
// on without tracing (logs and metrics: production without an OTLP
// endpoint) and on, so that its cost per request is measured in process.
// With -cpu 1 the span processor's and the GC's work counts too.
func BenchmarkInstrumentation(b *testing.B) {
	ctx := context.Background()
	dbURL := "sqlite:" + filepath.Join(b.TempDir(), "bench.db")
	const accounts = 1000
	handlers := map[string]http.Handler{}
	var token string
	modes := []string{"off", "logs-metrics", "on"}
	for i, mode := range modes {
		instr := mode
		if mode == "logs-metrics" {
			instr = "on" // built before the tracer is installed
		}
		if mode == "on" {
			tp := telemetry.NewProvider(&countingExporter{}, telemetry.Options{ServiceVersion: "bench", Role: "web"})
			telemetry.Install(tp)
			defer func() {
				telemetry.Uninstall()
				_ = tp.Shutdown(ctx)
			}()
		}
		st, h, closeStack, err := newStack(ctx, dbURL, instr)
		if err != nil {
			b.Fatal(err)
		}
		defer closeStack()
		handlers[mode] = h
		if i == 0 {
			for u := range accounts {
				if _, _, err := st.econ.EnsureAccount(ctx, guild, economy.Member{ID: int64(firstUser + u), Name: "m"}); err != nil {
					b.Fatal(err)
				}
			}
			if _, token, err = st.keys.Create(ctx, "bench", apikeys.Read, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
	paths := make([]string, accounts)
	for u := range paths {
		paths[u] = "/api/v1/guilds/" + strconv.Itoa(guild) + "/bytes/balances/" + strconv.Itoa(firstUser+u)
	}
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			h := handlers[mode]
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// As net/http gives handlers: a context that ends with the request.
				rctx, cancel := context.WithCancel(ctx)
				req := httptest.NewRequest(http.MethodGet, paths[i%accounts], nil).WithContext(rctx)
				req.Header.Set("Authorization", "Bearer "+token)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				cancel()
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
				i++
			}
		})
	}
}
