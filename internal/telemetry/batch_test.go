package telemetry

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestBatcher: spans of sampled traces are exported when a batch is full, on
// ForceFlush and on Shutdown, which shuts the exporter down; unsampled ones
// never.
func TestBatcher(t *testing.T) {
	ctx := context.Background()
	exp := tracetest.NewInMemoryExporter()
	tp := NewProvider(exp, Options{Getenv: func(k string) string {
		if k == "OTEL_TRACES_SAMPLER" {
			return "always_on"
		}
		return ""
	}})
	tr := tp.Tracer("test")
	for range batchSize {
		_, s := tr.Start(ctx, "x")
		s.End()
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(exp.GetSpans()) < batchSize && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(exp.GetSpans()); n != batchSize {
		t.Fatalf("after a full batch: %d spans exported, want %d", n, batchSize)
	}
	_, s := tr.Start(ctx, "y")
	s.End()
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != batchSize+1 {
		t.Fatalf("after ForceFlush: %d spans, want %d", n, batchSize+1)
	}
	_, s = tr.Start(ctx, "z")
	s.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The in-memory exporter forgets its spans when shut down: the last one
	// was exported before (nothing left pending) if the exporter is empty.
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("exporter not shut down (%d spans kept)", n)
	}

	exp2 := tracetest.NewInMemoryExporter()
	tp2 := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()), sdktrace.WithSpanProcessor(newBatcher(exp2, time.Hour)))
	_, s = tp2.Tracer("test").Start(ctx, "unsampled")
	s.End()
	_ = tp2.ForceFlush(ctx)
	if n := len(exp2.GetSpans()); n != 0 {
		t.Fatalf("unsampled span exported (%d)", n)
	}
	_ = tp2.Shutdown(ctx)
}

// TestSampler: the default is parent-based with DefaultSampleRatio, and the
// standard variables choose another.
func TestSampler(t *testing.T) {
	for env, want := range map[[2]string]string{
		{"", ""}:                             "ParentBased{root:TraceIDRatioBased{0.1}",
		{"", "0.5"}:                          "ParentBased{root:TraceIDRatioBased{0.5}",
		{"", "nonsense"}:                     "ParentBased{root:TraceIDRatioBased{0.1}",
		{"always_on", ""}:                    "AlwaysOnSampler",
		{"parentbased_always_on", ""}:        "ParentBased{root:AlwaysOnSampler",
		{"parentbased_traceidratio", "0.25"}: "ParentBased{root:TraceIDRatioBased{0.25}",
		{"parentbased_traceidratio", ""}:     "ParentBased{root:TraceIDRatioBased{1}",
		{"traceidratio", "0.01"}:             "TraceIDRatioBased{0.01}",
		{"always_off", ""}:                   "AlwaysOffSampler",
	} {
		got := Sampler(func(k string) string {
			switch k {
			case "OTEL_TRACES_SAMPLER":
				return env[0]
			case "OTEL_TRACES_SAMPLER_ARG":
				return env[1]
			}
			return ""
		}).Description()
		if len(got) < len(want) || got[:len(want)] != want {
			t.Errorf("%q: %s, want %s...", env, got, want)
		}
	}
}
