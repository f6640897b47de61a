package telemetry

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// generation counts the providers installed (Install, Uninstall): a cached
// tracer is looked up again when it changes.
var generation atomic.Uint64

// Tracer is otel.Tracer(name) looked up once per installed provider instead
// of on every span (the SDK's lookup takes a lock and a map).
type Tracer struct {
	name string
	v    atomic.Pointer[tracerOf]
}

type tracerOf struct {
	gen uint64
	t   trace.Tracer
}

// NewTracer returns the cache of the named tracer.
func NewTracer(name string) *Tracer { return &Tracer{name: name} }

// Get returns the named tracer of the current provider.
func (c *Tracer) Get() trace.Tracer {
	gen := generation.Load()
	if v := c.v.Load(); v != nil && v.gen == gen {
		return v.t
	}
	t := otel.Tracer(c.name)
	c.v.Store(&tracerOf{gen: gen, t: t})
	return t
}

var httpTracer = NewTracer("github.com/smarterdev/smarterdev/internal/telemetry")

// HTTPServer starts a server span for every request, joined to the caller's
// trace when the request carries a W3C traceparent, with the request's
// OpenTelemetry semantic-convention attributes (method, scheme, server,
// peer, user agent, path, protocol). It is named after the method;
// logging.Middleware, inside it, renames it after the route and adds the
// route and the response status (an error for a 5xx) when the request ends.
//
// It replaces otelhttp's handler, which also wraps the request body and the
// ResponseWriter and computes OpenTelemetry HTTP metrics on every request:
// this process's HTTP metrics are Prometheus's (metrics.HTTP), so that work
// was thrown away, and it cost more than the span itself.
func HTTPServer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span, unrecorded := ServerSpan(r.Context(), r)
		if span == nil {
			ctx = trace.ContextWithSpanContext(ctx, unrecorded)
		} else {
			defer span.End()
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ServerSpan starts the server span of r as HTTPServer does, in ctx (r's
// context or one derived from it), for middleware that keeps an unrecorded
// request's span context in a context of its own (logging.Instrument with StartSpan:
// with no allocation for it). When the request is recorded, span is its SDK
// span and ctx holds it; when not (most, with the default sampler), span is
// nil, ctx is ctx with the caller's traceparent, if any, and unrecorded the
// span context the request carries: a new span id, not sampled, for the
// logs, child spans and the trace context passed on.
//
// The parent is the caller's, from the traceparent header: the server's
// own context is not searched for a span, which would walk all of
// net/http's context layers on every request to find none (this process's
// servers give their requests no span; the SDK, for a request it records,
// still takes one it finds).
func ServerSpan(ctx context.Context, r *http.Request) (_ context.Context, span trace.Span, unrecorded trace.SpanContext) {
	remote := false
	if _, ok := r.Header["Traceparent"]; ok {
		ctx, remote = Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header)), true
	}
	// The request's attributes are added once the span is known to record:
	// an unsampled request does not build them. No sampler here reads them.
	ctx, unrecorded, ok := headSample(ctx, remote, r.Method, trace.SpanKindServer)
	if ok && unrecorded.IsValid() {
		return ctx, nil, unrecorded // head.go: no SDK span for a request not recorded
	}
	ctx, span = httpTracer.Get().Start(ctx, r.Method, serverKind...)
	if span.IsRecording() {
		span.SetAttributes(requestAttrs(r)...)
	}
	return ctx, span, trace.SpanContext{}
}

var serverKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// requestAttrs are the request attributes of an HTTP server span.
func requestAttrs(r *http.Request) []attribute.KeyValue {
	a := make([]attribute.KeyValue, 0, 7)
	method := r.Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
	default:
		method = "_OTHER"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	a = append(a, attribute.String("http.request.method", method), attribute.String("url.scheme", scheme))
	if host, _, err := net.SplitHostPort(r.Host); err == nil {
		a = append(a, attribute.String("server.address", host))
	} else if r.Host != "" {
		a = append(a, attribute.String("server.address", r.Host))
	}
	if peer, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		a = append(a, attribute.String("network.peer.address", peer))
	}
	if ua := r.UserAgent(); ua != "" {
		a = append(a, attribute.String("user_agent.original", ua))
	}
	a = append(a, attribute.String("url.path", r.URL.Path))
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		a = append(a, attribute.String("network.protocol.version", "1.1"))
	case r.ProtoMajor == 2:
		a = append(a, attribute.String("network.protocol.version", "2"))
	}
	return a
}
