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
// through the handler benchapi serves, with the instrumentation off and on
// (SQLite), so that its cost per request is measured in process.
func BenchmarkInstrumentation(b *testing.B) {
	ctx := context.Background()
	spans := &countingExporter{}
	tp := telemetry.NewProvider(spans, telemetry.Options{ServiceVersion: "bench", Role: "web"})
	telemetry.Install(tp)
	defer func() {
		telemetry.Uninstall()
		_ = tp.Shutdown(ctx)
	}()
	dbURL := "sqlite:" + filepath.Join(b.TempDir(), "bench.db")
	const accounts = 1000
	handlers := map[string]http.Handler{}
	var token string
	for i, mode := range []string{"off", "on"} {
		st, h, closeStack, err := newStack(ctx, dbURL, mode)
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
	for _, mode := range []string{"off", "on"} {
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
