package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/logging"
)

func TestQueryName(t *testing.T) {
	for q, want := range map[string]string{
		"-- name: GetAccount :one\nSELECT 1": "GetAccount",
		"-- name: X :exec":                   "X",
		"SELECT 1":                           "other",
		"-- name: ":                          "other",
	} {
		if got := QueryName(q); got != want {
			t.Errorf("QueryName(%q) = %q, want %q", q, got, want)
		}
	}
}

// The instrumented bus counts outcomes: ok, retry, and dead after the last
// attempt or a permanent error.
func TestInstrumentedBusOutcomes(t *testing.T) {
	m := bus.NewMemory()
	defer m.Close()
	b := InstrumentBus(m)
	queue := "test-outcomes"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, p := range []string{"ok", "retry", "permanent"} {
		if _, err := b.Enqueue(ctx, queue, []byte(p), nil); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{}, 8)
	go func() {
		_ = b.Consume(ctx, queue, bus.ConsumeOptions{MaxAttempts: 2, Backoff: func(int) time.Duration { return time.Millisecond }},
			func(_ context.Context, j bus.Job) error {
				defer func() { done <- struct{}{} }()
				switch string(j.Payload) {
				case "retry":
					return errors.New("try again")
				case "permanent":
					return bus.Permanent(errors.New("never"))
				}
				return nil
			})
	}()
	for range 4 { // ok, retry x2 (then dead), permanent
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("jobs not delivered")
		}
	}
	time.Sleep(10 * time.Millisecond)
	for outcome, want := range map[string]float64{"ok": 1, "retry": 1, "dead": 2} {
		if got := testutil.ToFloat64(JobsProcessed.WithLabelValues(queue, outcome)); got != want {
			t.Errorf("%s = %v, want %v", outcome, got, want)
		}
	}
	if got := testutil.ToFloat64(JobsEnqueued.WithLabelValues(queue)); got != 3 {
		t.Errorf("enqueued = %v", got)
	}
}

func TestEconomyCollectorCachesAndLabels(t *testing.T) {
	calls := 0
	read := func(context.Context) ([]GuildEconomy, error) {
		calls++
		return []GuildEconomy{{GuildID: 1, Accounts: 2, Circulation: 300, ActiveMembers: 1}, {GuildID: 2, Accounts: 1, Circulation: 50}}, nil
	}
	c := NewEconomyCollector(read, time.Minute, false)
	if n := testutil.CollectAndCount(c); n != 3 {
		t.Fatalf("totals: %d series", n)
	}
	testutil.CollectAndCount(c)
	if calls != 1 {
		t.Fatalf("read %d times within the ttl", calls)
	}
	if n := testutil.CollectAndCount(NewEconomyCollector(read, time.Minute, true)); n != 6 {
		t.Fatalf("per guild: %d series", n)
	}
}

// The dashboards are valid Grafana JSON: panels with Prometheus targets.
func TestDashboardsAreValid(t *testing.T) {
	files, _ := filepath.Glob("../../deploy/grafana/*.json")
	if len(files) < 2 {
		t.Fatalf("dashboards: %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID, Title string
			Panels     []struct {
				Type    string
				Title   string
				Targets []struct{ Expr string }
			}
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
			t.Fatalf("%s: no uid, title or panels", f)
		}
		for _, p := range d.Panels {
			if p.Type != "row" && (len(p.Targets) == 0 || p.Targets[0].Expr == "") {
				t.Errorf("%s: panel %q has no query", f, p.Title)
			}
		}
	}
}

// BenchmarkMiddleware compares a trivial handler bare and behind the whole
// stack (request id, access log at info discarded, metrics, route capture);
// the reported ratio is the overhead factor on the cheapest possible request.
func BenchmarkMiddleware(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/guilds/{guild}/bytes/balances/{user}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"balance":100}`))
	})
	log := logging.New(discard{}, logging.Options{})
	stack := logging.Instrument(log, logging.HTTPOptions{Observe: HTTP(nil)}, logging.CaptureRoute(mux))
	run := func(b *testing.B, h http.Handler) time.Duration {
		req := httptest.NewRequest("GET", "/api/v1/guilds/1/bytes/balances/2", nil)
		w := &nullWriter{h: http.Header{}}
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
		return time.Since(start) / time.Duration(max(b.N, 1))
	}
	var bare, full time.Duration
	b.Run("bare", func(b *testing.B) { bare = run(b, mux) })
	b.Run("instrumented", func(b *testing.B) { full = run(b, stack) })
	if bare > 0 {
		b.ReportMetric(float64(full)/float64(bare), "x-bare")
		b.Logf("instrumented/bare = %.2f (%v vs %v per request)", float64(full)/float64(bare), full, bare)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

type nullWriter struct{ h http.Header }

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nullWriter) WriteHeader(int)             {}

// Every alert links to a section of docs/runbook.md that exists.
func TestRunbookSectionsExist(t *testing.T) {
	rules, err := os.ReadFile("../../deploy/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	book, err := os.ReadFile("../../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(book), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[strings.ReplaceAll(strings.ToLower(strings.TrimSpace(h)), " ", "-")] = true
		}
	}
	links := regexp.MustCompile(`runbook_url: "[^"#]*#([a-z0-9-]+)"`).FindAllStringSubmatch(string(rules), -1)
	if len(links) < 10 {
		t.Fatalf("only %d runbook links", len(links))
	}
	for _, l := range links {
		if !anchors[l[1]] {
			t.Errorf("runbook has no section for #%s", l[1])
		}
	}
	if n := strings.Count(string(rules), "- alert: "); n != len(links) {
		t.Errorf("%d alerts, %d runbook links", n, len(links))
	}
}
