package metrics

import (
	"net/http"
	"strconv"
	"sync"
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
		HTTPInFlight.Inc()
		start := time.Now()
		defer func() {
			HTTPInFlight.Dec()
			rec := logging.RequestOf(r.Context())
			if rec == nil {
				return
			}
			status := rec.Status
			if status == 0 {
				status = http.StatusOK // a panic re-raised past us, or nothing written
			}
			h := routeHandlesOf(methodLabel(r.Method), logging.Route(rec.Pattern))
			h.duration.Observe(time.Since(start).Seconds())
			h.counter(status).Inc()
		}()
		next.ServeHTTP(w, r)
	})
}

type routeKey struct{ method, route string }

type routeHandles struct {
	method, route string
	duration      prometheus.Observer
	mu            sync.RWMutex
	codes         map[int]prometheus.Counter
}

var routes sync.Map // routeKey -> *routeHandles

func routeHandlesOf(method, route string) *routeHandles {
	k := routeKey{method, route}
	if h, ok := routes.Load(k); ok {
		return h.(*routeHandles)
	}
	h, _ := routes.LoadOrStore(k, &routeHandles{
		method: method, route: route,
		duration: HTTPDuration.WithLabelValues(method, route),
		codes:    map[int]prometheus.Counter{},
	})
	return h.(*routeHandles)
}

func (h *routeHandles) counter(code int) prometheus.Counter {
	h.mu.RLock()
	c, ok := h.codes[code]
	h.mu.RUnlock()
	if ok {
		return c
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok = h.codes[code]; !ok {
		c = HTTPRequests.WithLabelValues(h.method, h.route, strconv.Itoa(code))
		h.codes[code] = c
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
