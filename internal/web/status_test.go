package web_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/botstatus"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/health"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
	"github.com/smarterdev/smarterdev/internal/web"
)

type heartbeats []botstatus.Heartbeat

func (h heartbeats) Read(context.Context) ([]botstatus.Heartbeat, error) { return h, nil }

func TestStatusPage(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	b := bus.NewMemory()
	t.Cleanup(func() { _ = b.Close() })
	now := time.Now().UTC()
	hb := heartbeats{{Instance: "bot-1", Host: "bot-host", PID: 7, Version: "1.2.3", At: now.Add(-3 * time.Second), ShardCount: 2, ShardsConnected: 1,
		Shards: []botstatus.Shard{{ID: 0, Status: "ready", Connected: true, LatencyMS: 41.5}, {ID: 1, Status: "resuming"}}}}
	r := newRig(t, db, rigOpts{status: func(d *web.Deps) {
		d.Health = func(context.Context) health.Report {
			return health.Report{Status: health.StatusDegraded, Components: map[string]health.ComponentReport{
				"database": {Status: health.StatusUp, LatencyMS: 1.25},
				"redis":    {Status: health.StatusDegraded, LatencyMS: 2000, Error: "dial tcp: connection refused"},
			}}
		}
		d.Heartbeats = hb
		d.Bus = b
		d.Queues = []string{"moderation", "modlog"}
	}})
	// 10,000 requests with 4 server errors: 99.96% available, 60% of the budget left.
	slo := web.NewSLOCounter(db, nil)
	for i := range 10_000 {
		status := http.StatusOK
		if i < 4 {
			status = http.StatusBadGateway
		}
		slo.Count(status)
	}
	if err := slo.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	admin := r.signIn(r.demo.AdminID)
	res := admin.get("/status")
	if res.StatusCode != 200 {
		t.Fatalf("status page: %d\n%s", res.StatusCode, res.body)
	}
	for _, want := range []string{"database", "1.2 ms", "redis", "connection refused", "st-degraded",
		"bot-host", "1/2 shards connected", "resuming", "41.5 ms", "moderation", "modlog", "Outbox pending",
		"No backup yet", "smarterdev backup", `id="availability">99.960%`, `id="budget-left">60.000%`, `aria-valuenow="60"`, "10,000 API and dashboard requests"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(res.body)
	}
	// A member who manages no guild is refused.
	if res := r.signIn(r.demo.Members["gopher_gary"]).get("/status"); res.StatusCode != http.StatusForbidden {
		t.Errorf("member: %d", res.StatusCode)
	}
	// Signed out: to the sign-in page.
	if res := r.browser().get("/status"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("anonymous: %d", res.StatusCode)
	}
}

func TestStatusPageWithoutSources(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{operators: []int64{int64(999)}})
	res := r.signIn(r.demo.AdminID).get("/status")
	if res.StatusCode != 200 || !strings.Contains(res.body, "No health checks are wired") || !strings.Contains(res.body, `id="budget-left">100.000%`) {
		t.Fatalf("status page: %d\n%s", res.StatusCode, res.body)
	}
}

// TestSLOCounting: counts per UTC day, added up by replicas, kept when the
// database refuses them, and the middleware counts 5xx but not probes.
func TestSLOCounting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		day1 := time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)
		clock := day1
		now := func() time.Time { return clock }
		a, b := web.NewSLOCounter(db, now), web.NewSLOCounter(db, now) // two replicas
		for range 5 {
			a.Count(200)
		}
		a.Count(503)
		b.Count(500)
		b.Count(404)
		clock = day1.Add(2 * time.Minute) // the next UTC day
		a.Count(200)
		for _, c := range []*web.SLOCounter{a, b} {
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Flush(ctx); err != nil { // nothing pending: adds nothing
			t.Fatal(err)
		}
		b.Count(500)
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Q().SLODaysSince(ctx, "2026-03-01")
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0].Day != "2026-03-01" || rows[0].Requests != 8 || rows[0].Errors != 2 ||
			rows[1].Day != "2026-03-02" || rows[1].Requests != 2 || rows[1].Errors != 1 {
			t.Fatalf("slo_daily = %+v", rows)
		}

		// A failed write stays pending.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		a.Count(200)
		if err := a.Flush(cctx); err == nil {
			t.Fatal("flush with a cancelled context succeeded")
		}
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		rows, _ = db.Q().SLODaysSince(ctx, "2026-03-02")
		if len(rows) != 1 || rows[0].Requests != 3 {
			t.Fatalf("after retry: %+v", rows)
		}

		// The middleware: statuses from the logging middleware, probes not counted, panics are errors.
		m := web.NewSLOCounter(db, func() time.Time { return time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC) })
		h := logging.Instrument(slog.New(slog.DiscardHandler), logging.HTTPOptions{Observe: metrics.HTTP(m)}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/boom":
				panic(errors.New("boom"))
			case "/fail":
				w.WriteHeader(http.StatusInternalServerError)
			default:
				_, _ = io.WriteString(w, "ok")
			}
		}))
		for _, p := range []string{"/", "/api/v1/x", "/fail", "/livez", "/readyz", "/metrics", "/static/app.css"} {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
		}
		func() {
			defer func() { _ = recover() }()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/boom", nil))
		}()
		if err := m.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		rows, _ = db.Q().SLODaysSince(ctx, "2026-04-01")
		if len(rows) != 1 || rows[0].Requests != 4 || rows[0].Errors != 2 {
			t.Fatalf("middleware counts = %+v", rows)
		}
	})
}

func TestEngagementCharts(t *testing.T) {
	r := newRig(t, storetest.Open(t, store.SQLite), rigOpts{})
	r.openAccount(r.demo.Members["gopher_gary"])
	if _, err := r.econ.ClaimDaily(context.Background(), r.guild, economy.Member{ID: int64(r.demo.Members["gopher_gary"]), Name: "gary"}); err != nil {
		t.Fatal(err)
	}
	res := r.signIn(r.demo.AdminID).get(r.path(""))
	for _, want := range []string{`id="chart-streaks"`, `<td>1</td><td class="num">1</td>`, `id="chart-squad-activity"`, "switches"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("activity page lacks %q", want)
		}
	}
}

// Counts taken while flushes run are all written, once.
func TestSLOCounterConcurrent(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	c := web.NewSLOCounter(db, nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 500 {
				c.Count(200 + 300*(i%2)) // every other one a 500
			}
		})
	}
	for range 5 {
		if err := c.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Q().SLODaysSince(ctx, "2000-01-01")
	if err != nil {
		t.Fatal(err)
	}
	var req, errs int64
	for _, r := range rows {
		req, errs = req+r.Requests, errs+r.Errors
	}
	if req != 2000 || errs != 1000 {
		t.Fatalf("written %d requests, %d errors; want 2000 and 1000", req, errs)
	}
}
