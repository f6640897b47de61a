package api

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/idempotency"
	"github.com/smarterdev/smarterdev/internal/ratelimit"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// TestFastPathsAnswerAsHuma sends the same requests to the API with its fast
// paths and to the API where huma answers everything, and wants the same
// status, headers and body bytes (the rate limit counters aside: each API
// has its own limiter).
func TestFastPathsAnswerAsHuma(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := bus.NewMemory()
		t.Cleanup(func() { _ = b.Close() })
		econ := economy.NewService(db, b, economy.Options{})
		keys := apikeys.NewService(db, nil)
		deps := Deps{DB: db, Economy: econ, Squads: squads.NewService(db, econ), Keys: keys,
			Idempotency: idempotency.NewStore(db, nil), Limit: ratelimit.Limit{Rate: 10000, Burst: 10000},
			Logger: slog.New(slog.DiscardHandler)}
		fast, err := newHandler(deps, true)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := newHandler(deps, false)
		if err != nil {
			t.Fatal(err)
		}
		key := func(s apikeys.Scope, guild int64) string {
			_, token, err := keys.Create(ctx, 0, apikeys.Spec{Name: "k", Scope: s, GuildID: guild})
			if err != nil {
				t.Fatal(err)
			}
			return token
		}
		read, write, guild2 := key(apikeys.Read, 0), key(apikeys.Write, 0), key(apikeys.Read, 2)

		// Accounts in every state: fresh, after a daily claim, after a transfer.
		for _, u := range []int64{10, 11, 12} {
			if _, _, err := econ.EnsureAccount(ctx, 1, economy.Member{ID: u, Name: "m"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := econ.ClaimDaily(ctx, 1, economy.Member{ID: 11, Name: "m"}); err != nil {
			t.Fatal(err)
		}
		if _, err := econ.Transfer(ctx, 1, economy.TransferRequest{Giver: economy.Member{ID: 12, Name: "a"},
			Receiver: economy.Member{ID: 10, Name: "b"}, Amount: 5}); err != nil {
			t.Fatal(err)
		}

		type req struct {
			path, key string
			headers   []string
		}
		var reqs []req
		for _, p := range []string{"10", "11", "12", "13", "9223372036854775807", "99999999999999999999",
			"123456789012345678901", "0", "00", "-1", "abc", "1e3", "%20", "1%2F2"} {
			reqs = append(reqs, req{path: "/api/v1/guilds/1/bytes/balances/" + p, key: read})
		}
		for _, g := range []string{"2", "0", "x", "99999999999999999999"} {
			reqs = append(reqs, req{path: "/api/v1/guilds/" + g + "/bytes/balances/10", key: read})
		}
		for _, accept := range []string{"application/json", "*/*", "text/html", "json", "application/cbor",
			"application/problem+json", "application/json;q=0.1, text/plain"} {
			reqs = append(reqs, req{path: "/api/v1/guilds/1/bytes/balances/11", key: read, headers: []string{"Accept", accept}},
				req{path: "/api/v1/guilds/1/bytes/balances/13", key: read, headers: []string{"Accept", accept}})
		}
		reqs = append(reqs,
			req{path: "/api/v1/guilds/1/bytes/balances/10", key: write},
			req{path: "/api/v1/guilds/1/bytes/balances/10", key: guild2},
			req{path: "/api/v1/guilds/2/bytes/balances/10", key: guild2},
			req{path: "/api/v1/guilds/1/bytes/balances/10"},
			req{path: "/api/v1/guilds/1/bytes/balances/10", key: read + "x"},
			req{path: "/api/v1/guilds/1/bytes/balances/10?unknown=1", key: read},
			req{path: "/api/v1/guilds/1/bytes/balances/10", key: read, headers: []string{"Idempotency-Key", "k1"}},
		)
		for _, r := range reqs {
			compare(t, fast, plain, r.path, r.key, r.headers...)
		}
		// A failing database: the same 500 problem.
		db.Close()
		compare(t, fast, plain, "/api/v1/guilds/1/bytes/balances/10", read)
	})
}

func compare(t *testing.T, fast, plain http.Handler, path, key string, headers ...string) {
	t.Helper()
	do := func(h http.Handler) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		// As net/http gives handlers: a context that ends with the request.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		r = r.WithContext(ctx)
		r.Header.Set("X-Request-Id", "same-id") // problems quote it
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	f, p := do(fast), do(plain)
	name := path + " " + strings.Join(headers, " ")
	if f.Code != p.Code || !bytes.Equal(f.Body.Bytes(), p.Body.Bytes()) {
		t.Errorf("%s:\nfast %d %s\nhuma %d %s", name, f.Code, f.Body, p.Code, p.Body)
	}
	for _, h := range []http.Header{f.Header(), p.Header()} {
		for _, k := range []string{"Ratelimit-Remaining", "Ratelimit-Reset"} {
			if v := h.Values(k); len(v) == 1 && v[0] != "" {
				h[k] = []string{"set"}
			}
		}
	}
	if !equalHeaders(f.Header(), p.Header()) {
		t.Errorf("%s: headers\nfast %v\nhuma %v", name, f.Header(), p.Header())
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestAppendAccountJSON(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 30, 0, 120000000, time.UTC)
	zero := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, a := range []Account{
		{GuildID: "1", UserID: "2", Balance: 100, CreatedAt: zero},
		{GuildID: "1100000000000000001", UserID: "1200000000000000001", Balance: 1 << 62, TotalReceived: 30,
			TotalSent: 10, Streak: 3, LastDaily: "2026-05-01", LastTransferAt: &at, CreatedAt: at},
		{GuildID: "1", UserID: "2", LastDaily: `a"b<`, CreatedAt: zero},
		{GuildID: "1", UserID: "2", CreatedAt: far},
		{GuildID: "1", UserID: "2", CreatedAt: zero.In(time.FixedZone("x", 5*3600+30*60))},
	} {
		var want bytes.Buffer
		wantErr := huma.DefaultJSONFormat.Marshal(&want, a)
		got, ok := appendAccountJSON(nil, &a)
		if !ok {
			continue // left to encoding/json
		}
		if wantErr != nil || !bytes.Equal(got, want.Bytes()) {
			t.Errorf("got %s, want %s (%v)", got, want.Bytes(), wantErr)
		}
	}
}
