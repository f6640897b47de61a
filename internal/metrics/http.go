package metrics

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/memo"
	"github.com/smarterdev/smarterdev/internal/shard"
)

// HTTP counts and times requests by method, route pattern and status: the
// logging.Observer of logging.Instrument, which gives it the record's
// pattern, status and elapsed time when a request ends (a panic's as a
// 500). A route's counts are kept per processor (internal/shard) and summed
// when scraped: every request adds to them, and counts shared by all cores
// cost each request the trip of their cache lines between the cores. also,
// when not nil, is told of every request in the same call.
func HTTP(also Counter) logging.Observer { return httpObserver{also} }

type httpObserver struct{ also Counter }

// Begin counts the request in flight on the processor's shard, asked once:
// the request may end on another processor, which costs End's add a cache
// line's trip, never a count.
func (httpObserver) Begin() int {
	i := shard.Index()
	httpInFlight.AddAt(i, 1)
	return i
}

func (o httpObserver) End(r *http.Request, rec *logging.Request, i int) {
	h := routeHandlesOf(r.Method, rec.Pattern)
	codes := h.codes(rec.Status)
	httpInFlight.AddAt(i, -1)
	h.shards[i].observe(rec.Elapsed)
	codes[i].n.Add(1)
	if o.also != nil {
		o.also.CountRequest(r, rec, i)
	}
}

// Counter counts requests beside HTTP (the SLO counter), in HTTP's call:
// with no middleware layer, deferred call, record lookup or processor
// lookup of its own. i is the request's processor shard (internal/shard).
type Counter interface {
	CountRequest(r *http.Request, rec *logging.Request, i int)
}

// routeKey is the request's method and the pattern the mux matched (its
// route label is logging.Route(pattern)): strings the request already has,
// so a lookup builds nothing.
type routeKey struct{ method, pattern string }

// routeHandles holds a route's counts, one set per shard.
type routeHandles struct {
	method, route string
	shards        []routeShard
	byCode        [600]atomic.Pointer[[]codeShard] // by status; 0-99 unused
	mu            sync.Mutex
	other         map[int]*[]codeShard // a status outside 100-599
}

// routeShard is one processor's share of a route's latency histogram:
// counts per bucket (the last: above every bound) and the sum in
// nanoseconds, added without a compare-and-swap loop.
type routeShard struct {
	buckets [len(httpBucketsFixed) + 1]atomic.Uint64
	sumNS   atomic.Int64
	_       [64 - (len(httpBucketsFixed)+2)*8%64]byte
}

// observe counts one request that took d.
func (s *routeShard) observe(d time.Duration) {
	b := 0
	for b < len(httpBucketNS) && d > httpBucketNS[b] {
		b++
	}
	s.buckets[b].Add(1)
	s.sumNS.Add(int64(d))
}

// codeShard is one processor's count of a route's requests with a status.
type codeShard struct {
	n atomic.Uint64
	_ [56]byte
}

// routes is every route's handles, a map replaced whole when a route is
// first seen (routes are few and fixed): a lookup is a plain map read, where
// a sync.Map hashed and compared its key through an interface on every
// request.
var routes = func() *routeTable {
	t, m := &routeTable{}, map[routeKey]*routeHandles{}
	t.m.Store(&m)
	return t
}()

type routeTable struct {
	mu sync.Mutex // held to add a route
	m  atomic.Pointer[map[routeKey]*routeHandles]
}

// byPattern finds a route's handles without hashing its pattern: by the
// pattern string's identity (internal/memo), then the method's index.
var byPattern memo.ByString[*[methods]atomic.Pointer[routeHandles]]

func newByMethod() *[methods]atomic.Pointer[routeHandles] {
	return new([methods]atomic.Pointer[routeHandles])
}

// methods is the number of method labels: the standard seven and OTHER.
const methods = 8

func methodIndex(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	}
	return 7 // "OTHER"
}

func routeHandlesOf(method, pattern string) *routeHandles {
	byMethod, ok := byPattern.Get(pattern)
	if !ok {
		if byMethod, ok = byPattern.GetOrPut(pattern, newByMethod); !ok { // its slot is another pattern's: the map
			return routeHandlesByKey(method, pattern)
		}
	}
	slot := &byMethod[methodIndex(method)]
	if h := slot.Load(); h != nil {
		return h
	}
	h := routeHandlesByKey(method, pattern)
	slot.Store(h) // the same handles whoever stores them
	return h
}

func routeHandlesByKey(method, pattern string) *routeHandles {
	k := routeKey{method, pattern}
	if h, ok := (*routes.m.Load())[k]; ok {
		return h
	}
	m, route := methodLabel(method), logging.Route(pattern)
	if m != method { // one entry for every non-standard method of a route
		return routeHandlesByKey(m, pattern)
	}
	routes.mu.Lock()
	defer routes.mu.Unlock()
	old := *routes.m.Load()
	if h, ok := old[k]; ok {
		return h
	}
	next := maps.Clone(old)
	h := &routeHandles{method: m, route: route, shards: make([]routeShard, shard.N())}
	next[k] = h
	routes.m.Store(&next)
	return h
}

func (h *routeHandles) codes(code int) []codeShard {
	if code >= 100 && code < len(h.byCode) {
		if c := h.byCode[code].Load(); c != nil {
			return *c
		}
		c := make([]codeShard, shard.N())
		if h.byCode[code].CompareAndSwap(nil, &c) {
			return c
		}
		return *h.byCode[code].Load()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.other[code]
	if !ok {
		if h.other == nil {
			h.other = map[int]*[]codeShard{}
		}
		s := make([]codeShard, shard.N())
		c = &s
		h.other[code] = c
	}
	return *c
}

// httpCollector exposes the routes' counts as smarterdev_http_requests_total
// and smarterdev_http_request_duration_seconds, summed over the shards.
type httpCollector struct{}

var (
	httpRequestsDesc = prometheus.NewDesc(ns+"_http_requests_total",
		"HTTP requests served, by method, route pattern and status code.", []string{"method", "route", "code"}, nil)
	httpDurationDesc = prometheus.NewDesc(ns+"_http_request_duration_seconds",
		"Time to serve an HTTP request, by method and route pattern.", []string{"method", "route"}, nil)
)

func (httpCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- httpRequestsDesc
	ch <- httpDurationDesc
}

func (httpCollector) Collect(ch chan<- prometheus.Metric) {
	for _, h := range *routes.m.Load() {
		var counts [len(httpBucketsFixed) + 1]uint64
		var sumNS int64
		for i := range h.shards {
			for b := range counts {
				counts[b] += h.shards[i].buckets[b].Load()
			}
			sumNS += h.shards[i].sumNS.Load()
		}
		var total uint64
		cum := make(map[float64]uint64, len(httpBucketsFixed))
		for b, le := range httpBucketsFixed {
			total += counts[b]
			cum[le] = total
		}
		total += counts[len(httpBucketsFixed)]
		// The count is the buckets' sum, so the two always agree; the sum
		// may lag or lead them by the requests being counted meanwhile.
		ch <- prometheus.MustNewConstHistogram(httpDurationDesc, total, float64(sumNS)/1e9, cum, h.method, h.route)
		for code := range h.byCode {
			if c := h.byCode[code].Load(); c != nil {
				ch <- prometheus.MustNewConstMetric(httpRequestsDesc, prometheus.CounterValue, float64(sumCodes(*c)), h.method, h.route, strconv.Itoa(code))
			}
		}
		h.mu.Lock()
		for code, c := range h.other {
			ch <- prometheus.MustNewConstMetric(httpRequestsDesc, prometheus.CounterValue, float64(sumCodes(*c)), h.method, h.route, strconv.Itoa(code))
		}
		h.mu.Unlock()
	}
}

func sumCodes(c []codeShard) uint64 {
	var n uint64
	for i := range c {
		n += c[i].n.Load()
	}
	return n
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
