package telemetry

import (
	"context"
	"encoding/binary"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// With a cap of 5 new traces a second and every request to be recorded, a
// quick run of 50 requests records the first 5 (the burst), each exported
// with the trace and span id its handler saw, and no other. The head
// decision and the SDK's own ask of the same sampler take one admission
// between them: were the SDK's second ask counted, no request would record.
func TestTracesPerSecondCapsNewTraces(t *testing.T) {
	env := map[string]string{"OTEL_TRACES_SAMPLER": "always_on"}
	seen, spans := serveTracedWith(t, Options{Getenv: func(k string) string { return env[k] }, TracesPerSecond: 5}, 50, nil)
	if len(spans) != 5 {
		t.Fatalf("%d spans exported of 50 requests, want the cap's burst of 5", len(spans))
	}
	for i, sc := range seen {
		if !sc.IsValid() {
			t.Fatalf("request %d has no trace id", i)
		}
		if sc.IsSampled() != (i < 5) {
			t.Fatalf("request %d sampled %v", i, sc.IsSampled())
		}
		if i < 5 && (spans[i].SpanContext.TraceID() != sc.TraceID() || spans[i].SpanContext.SpanID() != sc.SpanID()) {
			t.Fatalf("request %d: handler saw %v, exported %v", i, sc, spans[i].SpanContext)
		}
	}
}

// The cap is on new traces: a caller's sampled traceparent is followed once
// the cap is spent, and so are child spans of a recorded span.
func TestTracesPerSecondFollowsParents(t *testing.T) {
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	env := map[string]string{"OTEL_TRACES_SAMPLER": "always_on"}
	_, spans := serveTracedWith(t, Options{Getenv: func(k string) string { return env[k] }, TracesPerSecond: 1}, 10,
		http.Header{"Traceparent": {"00-" + tid + "-00f067aa0ba902b7-01"}})
	if len(spans) != 10 {
		t.Fatalf("%d of 10 requests with a sampled caller exported under a cap of 1", len(spans))
	}

	s := capSampler(sdktrace.AlwaysSample(), 1)
	root := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: newTraceID()})
	again := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: newTraceID()})
	if root.Decision != sdktrace.RecordAndSample || again.Decision != sdktrace.Drop {
		t.Fatalf("cap 1: first new trace %v, second %v", root.Decision, again.Decision)
	}
	parent := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: newTraceID(), SpanID: newSpanID(), TraceFlags: trace.FlagsSampled,
	}))
	child := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: parent, TraceID: trace.SpanContextFromContext(parent).TraceID()})
	if child.Decision != sdktrace.RecordAndSample {
		t.Fatalf("a child span under a spent cap: %v", child.Decision)
	}
	if d := s.Description(); !strings.Contains(d, "AlwaysOnSampler") || !strings.Contains(d, "1/s") {
		t.Fatalf("description %q", d)
	}
	if capSampler(sdktrace.AlwaysSample(), 0) != sdktrace.AlwaysSample() {
		t.Fatal("a cap of 0 should leave the sampler as it is")
	}
}

// With the ratio sampler (the default kind), new traces are decided before
// the SDK (head.go) by the ratio and then the cap: of 200 requests at 0.5
// under a cap of 3, exactly the first 3 whose trace ids the ratio admits
// are recorded, and every other request is unsampled.
func TestTracesPerSecondCapsRatioSampledTraces(t *testing.T) {
	env := map[string]string{"OTEL_TRACES_SAMPLER_ARG": "0.5"}
	seen, spans := serveTracedWith(t, Options{Getenv: func(k string) string { return env[k] }, TracesPerSecond: 3}, 200, nil)
	bound := uint64(0.5 * (1 << 63))
	var want []trace.SpanContext
	for i, sc := range seen {
		tid := sc.TraceID()
		admitted := binary.BigEndian.Uint64(tid[8:16])>>1 < bound
		if admitted && len(want) < 3 {
			want = append(want, sc)
		} else if sc.IsSampled() {
			t.Fatalf("request %d sampled beyond the ratio or the cap", i)
		}
	}
	if len(spans) != len(want) || len(want) != 3 {
		t.Fatalf("%d spans exported, want the first 3 of the ratio's (%d found)", len(spans), len(want))
	}
	for i, sc := range want {
		if !sc.IsSampled() || spans[i].SpanContext.TraceID() != sc.TraceID() || spans[i].SpanContext.SpanID() != sc.SpanID() {
			t.Fatalf("recorded request %d: handler saw %v, exported %v", i, sc, spans[i].SpanContext)
		}
	}
}
