package telemetry

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// serveTraced sends n requests (with headers h) through HTTPServer on an
// installed NewProvider with the given sampler settings and returns the span
// context each handler saw and the spans exported.
func serveTraced(t *testing.T, env map[string]string, n int, h http.Header) ([]trace.SpanContext, tracetest.SpanStubs) {
	t.Helper()
	return serveTracedWith(t, Options{Getenv: func(k string) string { return env[k] }}, n, h)
}

func serveTracedWith(t *testing.T, o Options, n int, h http.Header) ([]trace.SpanContext, tracetest.SpanStubs) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := NewProvider(exp, o)
	Install(tp)
	t.Cleanup(Uninstall)
	var seen []trace.SpanContext
	srv := HTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, trace.SpanContextFromContext(r.Context()))
	}))
	for range n {
		r := httptest.NewRequest("GET", "/x", nil)
		for k, v := range h {
			r.Header[k] = v
		}
		srv.ServeHTTP(httptest.NewRecorder(), r)
	}
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return seen, exp.GetSpans()
}

// The decision taken before the SDK is the SDK sampler's own: with a 0.5
// ratio, a request's span is exported exactly when its trace id falls under
// the ratio (TraceIDRatioBased's rule), with the trace id the handler saw;
// every request, recorded or not, has a trace and span id for its logs.
func TestHeadSamplingAgreesWithTheSDK(t *testing.T) {
	seen, spans := serveTraced(t, map[string]string{"OTEL_TRACES_SAMPLER_ARG": "0.5"}, 400, nil)
	exported := map[trace.TraceID]trace.SpanID{}
	for _, s := range spans {
		exported[s.SpanContext.TraceID()] = s.SpanContext.SpanID()
	}
	bound := uint64(0.5 * (1 << 63))
	recorded := 0
	for _, sc := range seen {
		if !sc.IsValid() {
			t.Fatal("a request without a trace id")
		}
		tid := sc.TraceID()
		want := binary.BigEndian.Uint64(tid[8:16])>>1 < bound
		sid, got := exported[tid]
		if got != want || sc.IsSampled() != want {
			t.Fatalf("trace %s: exported %v, sampled flag %v; the ratio says %v", tid, got, sc.IsSampled(), want)
		}
		if got {
			recorded++
			if sid != sc.SpanID() {
				t.Fatalf("trace %s: the handler saw span %s, the exported span is %s", tid, sc.SpanID(), sid)
			}
		}
	}
	if len(spans) != recorded || recorded < 120 || recorded > 280 {
		t.Fatalf("%d spans exported, %d requests recorded of 400 at ratio 0.5", len(spans), recorded)
	}
}

// A caller's traceparent decides: sampled, the server span is its child;
// not sampled, nothing is exported and the handler still carries the
// caller's trace id (for its logs and the trace context it passes on).
func TestHeadSamplingFollowsTheCaller(t *testing.T) {
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	seen, spans := serveTraced(t, nil, 1, http.Header{"Traceparent": {"00-" + tid + "-00f067aa0ba902b7-01"}})
	if len(spans) != 1 || spans[0].SpanContext.TraceID().String() != tid || spans[0].Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Fatalf("sampled caller: spans %+v", spans)
	}
	if seen[0].SpanID() != spans[0].SpanContext.SpanID() {
		t.Fatal("the handler's span is not the exported one")
	}
	seen, spans = serveTraced(t, map[string]string{"OTEL_TRACES_SAMPLER_ARG": "1"}, 1, http.Header{"Traceparent": {"00-" + tid + "-00f067aa0ba902b7-00"}})
	if len(spans) != 0 {
		t.Fatalf("unsampled caller: %d spans exported", len(spans))
	}
	if sc := seen[0]; sc.TraceID().String() != tid || sc.IsSampled() || !sc.SpanID().IsValid() || sc.SpanID().String() == "00f067aa0ba902b7" {
		t.Fatalf("unsampled caller: handler saw %v", sc)
	}
}

func TestHeadSamplingAlwaysOffAndOn(t *testing.T) {
	seen, spans := serveTraced(t, map[string]string{"OTEL_TRACES_SAMPLER": "always_off"}, 20, nil)
	if len(spans) != 0 || !seen[0].IsValid() || seen[0].TraceID() == seen[1].TraceID() {
		t.Fatalf("always_off: %d spans; handler saw %v, %v", len(spans), seen[0], seen[1])
	}
	_, spans = serveTraced(t, map[string]string{"OTEL_TRACES_SAMPLER": "always_on"}, 20, nil)
	if len(spans) != 20 {
		t.Fatalf("always_on: %d spans of 20", len(spans))
	}
}

// The head's shortcut for ratio samplers drops a new trace exactly when the
// SDK's TraceIDRatioBased would, at any ratio.
func TestHeadShortcutIsTheRatioRule(t *testing.T) {
	for _, ratio := range []float64{0, 0.001, 0.1, 0.5, 0.999} {
		sdk := sdktrace.TraceIDRatioBased(ratio)
		hs := newHeadSampler(sdk, ratio)
		for range 20000 {
			tid := newTraceID()
			drop := sdk.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: tid}).Decision == sdktrace.Drop
			if hs.dropsRoot(tid) != drop {
				t.Fatalf("ratio %g, trace %s: shortcut drops %v, the SDK %v", ratio, tid, hs.dropsRoot(tid), drop)
			}
		}
	}
	if newHeadSampler(sdktrace.AlwaysSample(), -1).dropsRoot(newTraceID()) || newHeadSampler(sdktrace.AlwaysSample(), 1).dropsRoot(newTraceID()) {
		t.Fatal("no ratio, or ratio 1: the shortcut must never drop")
	}
}
