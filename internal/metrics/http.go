package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smarterdev/smarterdev/internal/logging"
)

// HTTP counts and times requests by method, route pattern and status. It
// reads the pattern and status from the logging.Request record, so it must
// run inside logging.Middleware (and the mux inside logging.CaptureRoute).
// Label handles are looked up once per route, method and status.
func HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpInFlight.n.Add(1)
		rec := logging.RequestOf(r.Context())
		var start time.Time
		if rec == nil || rec.Start.IsZero() {
			start = time.Now()
		}
		defer func() {
			httpInFlight.n.Add(-1)
			if rec == nil {
				return
			}
			var d time.Duration
			if start.IsZero() {
				d = time.Since(rec.Start) // the clock read once for both, at the request's start
				rec.Elapsed = d
			} else {
				d = time.Since(start)
			}
			status := rec.Status
			if status == 0 {
				status = http.StatusOK // a panic re-raised past us, or nothing written
			}
			h := routeHandlesOf(r.Method, rec.Pattern)
			h.duration.Observe(d.Seconds())
			h.counter(status).Inc()
		}()
		next.ServeHTTP(w, r)
	})
}

// routeKey is the request's method and the pattern the mux matched (its
// route label is logging.Route(pattern)): strings the request already has,
// so a lookup builds nothing.
type routeKey struct{ method, pattern string }

type routeHandles struct {
	method, route string
	duration      prometheus.Observer
	codes         [600]atomic.Pointer[prometheus.Counter] // by status; 0-99 unused
	mu            sync.Mutex
	other         map[int]prometheus.Counter // a status outside 100-599
}

var routes sync.Map // routeKey -> *routeHandles

func routeHandlesOf(method, pattern string) *routeHandles {
	k := routeKey{method, pattern}
	if h, ok := routes.Load(k); ok {
		return h.(*routeHandles)
	}
	m, route := methodLabel(method), logging.Route(pattern)
	if m != method { // one entry for every non-standard method of a route
		return routeHandlesOf(m, pattern)
	}
	h, _ := routes.LoadOrStore(k, &routeHandles{
		method: m, route: route,
		duration: HTTPDuration.WithLabelValues(m, route),
	})
	return h.(*routeHandles)
}

func (h *routeHandles) counter(code int) prometheus.Counter {
	if code >= 100 && code < len(h.codes) {
		if c := h.codes[code].Load(); c != nil {
			return *c
		}
		c := HTTPRequests.WithLabelValues(h.method, h.route, strconv.Itoa(code))
		h.codes[code].Store(&c) // a lost race stores the same child
		return c
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.other[code]
	if !ok {
		if h.other == nil {
			h.other = map[int]prometheus.Counter{}
		}
		c = HTTPRequests.WithLabelValues(h.method, h.route, strconv.Itoa(code))
		h.other[code] = c
	}
	return c
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
