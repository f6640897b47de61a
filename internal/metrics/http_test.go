package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/smarterdev/smarterdev/internal/logging"
)

// TestHTTPCountsEveryRequestOnce serves requests from many goroutines at
// once (so that they land on every processor's shard) and wants the scrape
// to count each exactly once, by route and status, with a histogram whose
// buckets, count and sum agree with the latencies served, and nothing left
// in flight.
func TestHTTPCountsEveryRequestOnce(t *testing.T) {
	route := fmt.Sprintf("/t/counted%d/{id}", countedRuns.Add(1)) // counts are process-wide: a route of its own per run
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+route, func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "missing":
			w.WriteHeader(http.StatusNotFound)
		case "odd":
			w.WriteHeader(799) // outside 100-599: counted apart
		case "slow":
			time.Sleep(20 * time.Millisecond) // over the 0.01 bucket, under 0.025 or above
		}
		_, _ = w.Write([]byte("x"))
	})
	h := instrumented(logging.CaptureRoute(mux), nil)
	const workers, per = 8, 250
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				id := "ok"
				switch {
				case i%10 == 0:
					id = "missing"
				case i == 1 && w < 3:
					id = "odd"
				case i == 2 && w < 2:
					id = "slow"
				}
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, strings.Replace(route, "{id}", id, 1), nil))
			}
		}()
	}
	wg.Wait()

	reg := prometheus.NewRegistry()
	reg.MustRegister(httpCollector{}, HTTPInFlight)
	want := map[string]float64{"200": workers*per - workers*per/10 - 3, "404": workers * per / 10, "799": 3}
	for code, n := range want {
		if got := gatherValue(t, reg, "smarterdev_http_requests_total", map[string]string{"method": "GET", "route": route, "code": code}); got != n {
			t.Errorf("code %s: %v requests counted, want %v", code, got, n)
		}
	}
	hist := gatherHistogram(t, reg, route)
	if hist.GetSampleCount() != workers*per {
		t.Errorf("histogram count %d, want %d", hist.GetSampleCount(), workers*per)
	}
	var over10ms uint64
	for _, b := range hist.GetBucket() {
		if b.GetUpperBound() == 0.01 {
			over10ms = workers*per - b.GetCumulativeCount()
		}
	}
	if over10ms < 2 {
		t.Errorf("%d requests above the 0.01 s bucket, want at least the 2 slow ones", over10ms)
	}
	if s := hist.GetSampleSum(); s < 0.04 || s > 10 {
		t.Errorf("histogram sum %v s, want at least the slow requests' 0.04 s", s)
	}
	if got := testutil.ToFloat64(HTTPInFlight); got != 0 {
		t.Errorf("in flight after every request ended: %v", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

var countedRuns atomic.Int32

func gatherValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

func gatherHistogram(t *testing.T, g prometheus.Gatherer, route string) *dto.Histogram {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "smarterdev_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "route" && lp.GetValue() == route {
					return m.GetHistogram()
				}
			}
		}
	}
	t.Fatalf("no histogram for %s", route)
	return nil
}

// A handler that panics is counted as a 500 (not as the 200 of a status
// never written), by the metrics and by the Counter beside them; the panic
// goes on to the logging middleware, which answers 500.
func TestHTTPCountsAPanicAsAServerError(t *testing.T) {
	route := fmt.Sprintf("/t/panics%d", countedRuns.Add(1))
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+route, func(http.ResponseWriter, *http.Request) { panic("boom") })
	var seen counterFunc
	h := instrumented(logging.CaptureRoute(mux), &seen)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, route, nil))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("answered %d, want the logging middleware's 500", w.Code)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(httpCollector{}, HTTPInFlight)
	if got := gatherValue(t, reg, "smarterdev_http_requests_total", map[string]string{"route": route, "code": "500"}); got != 1 {
		t.Errorf("500s counted: %v, want 1", got)
	}
	if got := gatherValue(t, reg, "smarterdev_http_requests_total", map[string]string{"route": route, "code": "200"}); got != -1 {
		t.Errorf("the panic was also counted as a 200: %v", got)
	}
	if seen.statuses != "500" {
		t.Errorf("the Counter was told %q, want 500", seen.statuses)
	}
	if got := testutil.ToFloat64(HTTPInFlight); got != 0 {
		t.Errorf("in flight after the request ended: %v", got)
	}
}

type counterFunc struct{ statuses string }

func (c *counterFunc) CountRequest(_ *http.Request, rec *logging.Request, i int) {
	if i < 0 || rec.Elapsed <= 0 {
		c.statuses += "bad "
	}
	c.statuses += fmt.Sprint(rec.Status)
}

// instrumented is h behind logging.Instrument with the HTTP metrics, as a
// server has it.
func instrumented(h http.Handler, also Counter) http.Handler {
	return logging.Instrument(logging.New(discard{}, logging.Options{}), logging.HTTPOptions{Observe: HTTP(also)}, h)
}

// One pattern serving several methods counts each standard method under
// its own label and every other method under OTHER, however the requests
// interleave (the handles are found by the pattern, then the method).
func TestHTTPCountsByMethodOnOnePattern(t *testing.T) {
	route := fmt.Sprintf("/t/methods%d/{id}", countedRuns.Add(1))
	mux := http.NewServeMux()
	mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {})
	h := instrumented(logging.CaptureRoute(mux), nil)
	methods := []string{http.MethodGet, http.MethodPost, http.MethodDelete, "PROPFIND", http.MethodGet, "BREW", http.MethodOptions}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 70 {
				m := methods[(w+i)%len(methods)]
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(m, strings.Replace(route, "{id}", "1", 1), nil))
			}
		})
	}
	wg.Wait()
	reg := prometheus.NewRegistry()
	reg.MustRegister(httpCollector{})
	for m, n := range map[string]float64{"GET": 80, "POST": 40, "DELETE": 40, "OPTIONS": 40, "OTHER": 80} {
		if got := gatherValue(t, reg, "smarterdev_http_requests_total", map[string]string{"method": m, "route": route, "code": "200"}); got != n {
			t.Errorf("method %s: %v requests counted, want %v", m, got, n)
		}
	}
}
