package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/smarterdev/smarterdev/internal/api"
	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/idempotency"
	"github.com/smarterdev/smarterdev/internal/ratelimit"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// BenchmarkGetBalance measures the API's own cost of a balance read, without
// the network: the handler called directly, beside a static handler.
func BenchmarkGetBalance(b *testing.B) {
	db := storetest.Open(b, store.SQLite)
	ctx := context.Background()
	bs := bus.NewMemory()
	defer bs.Close()
	econ := economy.NewService(db, bs, economy.Options{})
	keys := apikeys.NewService(db, nil)
	h, err := api.New(api.Deps{DB: db, Economy: econ, Squads: squads.NewService(db, econ), Keys: keys,
		Idempotency: idempotency.NewStore(db, nil), Limit: ratelimit.Limit{Rate: 1e8, Burst: 1e8},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	_, token, _ := keys.Create(ctx, 0, apikeys.Spec{Name: "bench", Scope: apikeys.Read})
	if _, _, err := econ.EnsureAccount(ctx, 1, economy.Member{ID: 42}); err != nil {
		b.Fatal(err)
	}
	static := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	for _, c := range []struct {
		name string
		h    http.Handler
		path string
	}{{"static", static, "/static"}, {"balance", h, "/api/v1/guilds/1/bytes/balances/42"}} {
		b.Run(c.name, func(b *testing.B) {
			// As net/http gives handlers: a context that ends with the request
			// (database/sql and the SQLite driver watch it during queries).
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			req := httptest.NewRequest("GET", c.path, nil).WithContext(rctx)
			req.Header.Set("Authorization", "Bearer "+token)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
