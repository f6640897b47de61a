package logging

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"

	"github.com/smarterdev/smarterdev/internal/memo"
)

// Request is what the HTTP middleware learns about a request while it is
// served: the route pattern the ServeMux matched, the status and the size of
// the response. Inner middleware (metrics) reads it after the handler returns.
type Request struct {
	ID      string
	Start   time.Time
	Pattern string // e.g. "GET /api/v1/guilds/{guild}/squads"; "" when nothing matched
	Status  int
	Bytes   int64
	// Elapsed is the time the request took from Start, set when it ends.
	Elapsed time.Duration
	// Inner is a slot for a layer inside that keeps a per-request record of
	// its own (the API's), so that it needs no context layer, and no copy
	// of the request, for it.
	Inner any
}

type requestKey struct{}

// RequestOf returns the request record of ctx, or nil outside Middleware.
func RequestOf(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// HeaderRequestID is the request id header, read from clients and proxies
// when sane and always echoed in the response.
const HeaderRequestID = "X-Request-Id"

// Middleware gives every request an id (X-Request-Id when sane, else a new
// one, echoed in the response), puts it and a Request record in the context,
// names the request's span after the route pattern and writes one access log
// line per request. Put it inside the tracing middleware, so the access log
// carries the trace id, and CaptureRoute directly around the ServeMux.
func Middleware(log *slog.Logger, next http.Handler) http.Handler {
	return Instrument(log, HTTPOptions{}, next)
}

// SpanStarter starts a request's server span (telemetry.ServerSpan): it
// returns the span and the context holding it when the request is
// recorded; when it is not, no span but the span context the request
// carries, which the request's context then holds without an allocation;
// no span and no span context: the request has none.
type SpanStarter func(context.Context, *http.Request) (context.Context, trace.Span, trace.SpanContext)

// HTTPOptions are what Instrument does beside the id, the record and the
// access log.
type HTTPOptions struct {
	// StartSpan, when set, starts the request's server span, ended after
	// the access log: the same as Middleware inside a tracing middleware,
	// with one layer and one copy of the request instead of two.
	StartSpan SpanStarter
	// Untraced says the server has no tracing: no outer middleware gives
	// its requests a span, so none is looked up in the context. Without it
	// and StartSpan, the span is an outer middleware's, found in the
	// context when the request ends.
	Untraced bool
	// Observe, when set, is told of every request (the HTTP metrics).
	Observe Observer
}

// Observer is told of every request in Instrument's own layer: Begin as it
// starts, End when it has ended, with what Begin returned. At End the
// record's status (a panic's as a 500), pattern and elapsed time are final.
// Being called by the middleware rather than wrapping the handler spares
// the metrics a layer, a deferred recover, a context lookup and a clock
// read of their own on every request.
type Observer interface {
	Begin() int
	End(r *http.Request, rec *Request, begun int)
}

// Instrument is Middleware with options: one layer for the request's id,
// record, span, access log and metrics.
func Instrument(log *slog.Logger, o HTTPOptions, next http.Handler) http.Handler {
	return &instrumented{log: log, startSpan: o.StartSpan, obs: o.Observe, untraced: o.Untraced && o.StartSpan == nil, next: next}
}

// instrumented is Instrument's handler: a method rather than a closure.
// As a closure it was inlined into its caller (app.InstrumentHTTP) and
// compiled there, where WithContext was not inlined and the request's copy
// was allocated on every request (a memory profile showed it); the method
// is compiled here, where the copy stays in the record.
type instrumented struct {
	log       *slog.Logger
	startSpan SpanStarter
	obs       Observer
	untraced  bool
	next      http.Handler
}

func (h *instrumented) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log, startSpan, obs := h.log, h.startSpan, h.obs
	st := &served{Request: Request{Start: time.Now()}} // one allocation for the record, the request's copy, the writer, the header's value and the context
	ids := r.Header[HeaderRequestID]
	var id string
	if len(ids) > 0 {
		id = ids[0]
	}
	if !SaneRequestID(id) {
		// Inner layers read it from the record (RequestID, RequestOf),
		// not from the request's header, which is left as it came. Its
		// bytes are the record's, written once here and never again, so
		// the string needs no allocation of its own.
		putRequestID(&st.idBytes)
		id = unsafe.String(&st.idBytes[0], len(st.idBytes))
		st.ids[0] = id
		ids = st.ids[:]
	}
	st.ID = id
	w.Header()[HeaderRequestID] = ids[:1:1] // the caller's slice when it sent a sane id, never appended to
	rec, rw := &st.Request, &st.rw
	rw.ResponseWriter, rw.rec = w, rec
	ctx := r.Context()
	// The request's span: what startSpan gives, none on an untraced
	// server, else looked up when the request ends (an outer tracing
	// middleware's).
	var span trace.Span
	switch {
	case startSpan != nil:
		c, s, unrecorded := startSpan(ctx, r)
		ctx = c
		switch {
		case s != nil:
			span = s
			defer s.End() // after the access log's defer below, which names it
		case unrecorded.IsValid():
			st.span.sc = unrecorded
			st.ctx.span = &st.span
			span = &st.span
		default:
			span = noSpan
		}
	case h.untraced:
		span = noSpan
	}
	st.ctx.Context, st.ctx.rec = ctx, rec
	ctx = &st.ctx // RequestID(ctx) reads rec.ID
	// The request as the handler gets it: WithContext's copy, kept in
	// the record (WithContext is inlined, so its own copy is not
	// allocated) instead of an allocation of its own.
	st.req = *r.WithContext(ctx)
	req := &st.req
	begun := 0
	if obs != nil {
		begun = obs.Begin() // ended in the deferred call, whatever happens
	}
	defer func() {
		p := recover()
		switch {
		case p != nil:
			rec.Status = http.StatusInternalServerError
		case rec.Status == 0:
			rec.Status = http.StatusOK // nothing written
		}
		now := time.Now()
		rec.Elapsed = now.Sub(rec.Start)
		if obs != nil {
			obs.End(req, rec, begun)
		}
		if p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			log.ErrorContext(ctx, "handler panicked", "route", Route(rec.Pattern), "panic", fmt.Sprint(p))
			if !rw.wrote {
				http.Error(rw, "internal error", http.StatusInternalServerError)
			}
		}
		ri := routeOf(rec.Pattern)
		route := ri.route
		if span == nil {
			span = trace.SpanFromContext(ctx)
		}
		if span.IsRecording() {
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", rec.Status))
			if rec.Status >= 500 {
				span.SetStatus(codes.Error, "") // a server error (a 4xx is the client's)
			}
		}
		level := slog.LevelInfo
		switch {
		case rec.Status >= 500:
			level = slog.LevelError
		case route == "/livez" || route == "/readyz" || route == "/metrics":
			level = slog.LevelDebug // probes and scrapes every few seconds
		}
		lh := log.Handler()
		if !lh.Enabled(ctx, level) {
			return
		}
		line := accessLine{time: now, level: level, method: r.Method, route: route, status: rec.Status,
			duration: rec.Elapsed, bytes: rec.Bytes, remote: r.RemoteAddr, plainRoute: ri.plain, routeTail: ri.tail, id: rec.ID, sc: span.SpanContext()}
		if h, ok := lh.(*Handler); ok && h.writeAccess(ctx, &line) {
			return
		}
		_ = lh.Handle(ctx, line.record())
	}()
	h.next.ServeHTTP(rw, req)
}

// noSpan is the span of a request that has none: not recording, no span
// context.
var noSpan = trace.SpanFromContext(context.Background())

// Route is the path part of a ServeMux pattern ("GET /x/{id}" -> "/x/{id}"),
// "unmatched" when no route matched: a bounded value for labels and logs.
func Route(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = pattern[i+1:]
	}
	return pattern
}

// routeOf is Route(pattern), whether it is written in JSON as it is
// (plainJSON) and, when it is, its part of the access line, worked out once
// per pattern: a ServeMux gives each request of a route the same string.
func routeOf(pattern string) routeInfo {
	if r, ok := routes.Get(pattern); ok {
		return r
	}
	mk := func() routeInfo {
		r := routeInfo{route: Route(pattern)}
		if r.plain = plainJSON(r.route); r.plain {
			r.tail = `","route":"` + r.route + `","status":`
		}
		return r
	}
	r, ok := routes.GetOrPut(pattern, mk)
	if !ok {
		r = mk()
	}
	return r
}

type routeInfo struct {
	route string
	plain bool
	tail  string // accessLine.routeTail
}

var routes memo.ByString[routeInfo]

// CaptureRoute wraps a ServeMux: after it has routed a request, the matched
// pattern (r.Pattern, set by the mux on the request it was given) is copied
// to the Request record that the outer middleware reads. Nested muxes (the
// API's own under "/api/") wrap theirs too: the innermost pattern wins. It
// is copied when the handler panics too, so that the panic is logged and
// counted under its route.
func CaptureRoute(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if r.Pattern != "" {
				SetRoute(r.Context(), r.Pattern)
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// SetRoute records the route pattern of the request in ctx unless a more
// specific (inner) one was recorded already. Routers other than ServeMux
// call it with their route template.
func SetRoute(ctx context.Context, pattern string) {
	if rec := RequestOf(ctx); rec != nil && rec.Pattern == "" {
		rec.Pattern = pattern
	}
}

// SaneRequestID reports whether a caller's X-Request-Id can be kept: 1-64
// letters, digits, dashes, underscores or dots.
func SaneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// NewRequestID returns a new request id: 96 random bits in 24 hex digits,
// from math/rand/v2's generator, which each thread keeps for itself. A
// crypto/rand read per request was slow, and a shared counter (the previous
// scheme) moved its cache line between cores on every request. Ids identify
// requests in logs, they guard nothing: they need not be secret, and 96 bits
// do not collide in practice.
func NewRequestID() string {
	var b [24]byte
	putRequestID(&b)
	return string(b[:])
}

// putRequestID writes a new request id (NewRequestID) into b.
func putRequestID(b *[24]byte) {
	hi, lo := rand.Uint64(), rand.Uint32()
	binary.BigEndian.PutUint64(b[0:], hexDigits(uint32(hi>>32)))
	binary.BigEndian.PutUint64(b[8:], hexDigits(uint32(hi)))
	binary.BigEndian.PutUint64(b[16:], hexDigits(lo))
}

// served is a request's record, the request as the handler gets it, its
// ResponseWriter, the request-id header's value and the bytes of a new id,
// its context and the span of a request not recorded, allocated together.
type served struct {
	Request
	req     http.Request
	rw      responseWriter
	ids     [1]string
	idBytes [24]byte
	ctx     requestCtx
	span    unrecordedSpan
}

// requestCtx is the request's context: its parent with the request's record
// and, when the request is not recorded, its span context: what would take
// two context.WithValue layers and a span boxed in an interface, in one
// value allocated with the record.
type requestCtx struct {
	context.Context
	rec  *Request
	span trace.Span // nil: the parent's
}

func (c *requestCtx) Value(key any) any {
	switch key {
	case requestKey{}:
		return c.rec
	case spanKey:
		if c.span != nil {
			return c.span
		}
	}
	return c.Context.Value(key)
}

// spanKey is the key under which OpenTelemetry keeps a context's span (the
// package does not export it), learnt once by asking trace.SpanFromContext
// for the span of a context that records the key it is asked for.
// TestRequestContextCarriesTheSpan fails if OpenTelemetry stops looking a
// span up this way.
var spanKey = func() any {
	var p keyProbe
	trace.SpanFromContext(&p)
	return p.key
}()

type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any { p.key = key; return nil }

// unrecordedSpan is the span of a request that is not recorded: its span
// context, for the access log, child spans (which the SDK then does not
// record either) and the trace context passed on; the rest is a no-op. It
// is not a noop.Span, which carries a span context of its own: 56 bytes
// more in every request's record, for a field never read.
type unrecordedSpan struct {
	embedded.Span
	sc trace.SpanContext
}

func (s *unrecordedSpan) SpanContext() trace.SpanContext        { return s.sc }
func (*unrecordedSpan) IsRecording() bool                       { return false }
func (*unrecordedSpan) SetStatus(codes.Code, string)            {}
func (*unrecordedSpan) SetAttributes(...attribute.KeyValue)     {}
func (*unrecordedSpan) End(...trace.SpanEndOption)              {}
func (*unrecordedSpan) RecordError(error, ...trace.EventOption) {}
func (*unrecordedSpan) AddEvent(string, ...trace.EventOption)   {}
func (*unrecordedSpan) AddLink(trace.Link)                      {}
func (*unrecordedSpan) SetName(string)                          {}

// TracerProvider is the installed one, as the SDK's non-recording span
// answers (some instrumentation starts its spans from it).
func (s *unrecordedSpan) TracerProvider() trace.TracerProvider { return otel.GetTracerProvider() }

// responseWriter records the status and the bytes written.
type responseWriter struct {
	http.ResponseWriter
	rec   *Request
	wrote bool
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote {
		w.rec.Status = code
		if code >= 200 { // 1xx informational headers may precede the real status
			w.wrote = true
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.wrote = true
		if w.rec.Status == 0 {
			w.rec.Status = http.StatusOK
		}
	}
	n, err := w.ResponseWriter.Write(b)
	w.rec.Bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers flush through the wrapper.
func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if !w.wrote {
			w.wrote = true
			if w.rec.Status == 0 {
				w.rec.Status = http.StatusOK
			}
		}
		f.Flush()
	}
}

// Unwrap serves http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// LevelHandler answers POST ?level=debug|info|warn|error (or a number) by
// changing lv at once, and GET by showing it. It answers only requests that
// come straight from a loopback address without proxy headers: it is an
// operator's tool on the machine itself, never exposed through a proxy.
func LevelHandler(lv *slog.LevelVar, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fromLoopback(r) {
			http.Error(w, "only answered on a loopback address", http.StatusForbidden)
			return
		}
		if lv == nil {
			http.Error(w, "this logger's level is fixed", http.StatusNotImplemented)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			var l slog.Level
			if err := l.UnmarshalText([]byte(r.URL.Query().Get("level"))); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = fmt.Fprintf(w, `{"error":"level must be debug, info, warn or error"}`+"\n")
				return
			}
			old := lv.Level()
			lv.Set(l)
			log.WarnContext(r.Context(), "log level changed", "from", old.String(), "to", l.String())
		}
		_, _ = fmt.Fprintf(w, `{"level":%q}`+"\n", lv.Level().String())
	})
}

func fromLoopback(r *http.Request) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" || r.Header.Get("X-Real-Ip") != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
