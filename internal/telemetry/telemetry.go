// Package telemetry sets up OpenTelemetry tracing: an OTLP/HTTP exporter when
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set,
// otherwise nothing but OpenTelemetry's no-op tracer. Trace context travels
// in W3C traceparent/tracestate headers: over HTTP, and through the outbox and
// the bus in a job's Headers (Inject on the producer side, Extract on the
// consumer side).
//
// Instrumented code takes its tracer from the global provider
// (otel.Tracer(name)), as OpenTelemetry instrumentation libraries do; Setup
// and Install set that provider once per process.
//
// Add a span with
//
//	ctx, span := otel.Tracer("github.com/smarterdev/smarterdev/internal/x").Start(ctx, "x.Do")
//	defer span.End()
package telemetry

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Propagator is the W3C trace context propagator used everywhere.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// HeaderTraceparent is the W3C header that carries the parent span.
const HeaderTraceparent = "traceparent"

var enabled atomic.Bool

// Enabled reports whether a real tracer provider is installed; middleware
// that only matters for tracing (HTTPServer) is skipped otherwise.
func Enabled() bool { return enabled.Load() }

// Options configures Setup.
type Options struct {
	Getenv         func(string) string // default: nothing set
	ServiceName    string              // default "smarterdev"
	ServiceVersion string
	Role           string
	// TracesPerSecond caps the new traces recorded each second, whatever
	// the sampler (capped.go); 0: no cap. The server passes
	// SMARTERDEV_TRACES_PER_SECOND (config.DefaultTracesPerSecond).
	TracesPerSecond int
}

// Tracing is the installed tracing; Shutdown flushes and stops it.
type Tracing struct {
	provider *sdktrace.TracerProvider // nil when off
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t != nil && t.provider != nil }

// Shutdown flushes pending spans. It is safe on a nil or disabled Tracing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Setup installs an OTLP/HTTP exporter when the OTEL_EXPORTER_OTLP_*
// endpoint variables are set; otherwise it changes nothing and tracing stays
// a no-op. The exporter reads the other standard OTEL_EXPORTER_OTLP_*
// variables (headers, timeout, TLS) itself.
func Setup(ctx context.Context, o Options) (*Tracing, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return &Tracing{}, nil
	}
	if getenv("OTEL_SDK_DISABLED") == "true" {
		return &Tracing{}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	tp := NewProvider(exp, o)
	Install(tp)
	return &Tracing{provider: tp}, nil
}

// NewProvider returns the tracer provider Setup installs, exporting to exp:
// spans batched (5 s timeout, batches of 512, batch.go), the service's resource, the sampler of
// Sampler. tools/benchapi gives it an exporter that only counts.
func NewProvider(exp sdktrace.SpanExporter, o Options) *sdktrace.TracerProvider {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv // the SDK read the environment itself before Sampler
	}
	name := o.ServiceName
	if name == "" {
		name = "smarterdev"
	}
	if v := getenv("OTEL_SERVICE_NAME"); v != "" {
		name = v
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", name),
		attribute.String("service.version", o.ServiceVersion),
		attribute.String("smarterdev.role", o.Role),
	))
	if err != nil {
		res = resource.Default()
	}
	base, ratio := samplerOf(getenv)
	sampler := capSampler(base, float64(o.TracesPerSecond))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(newBatcher(exp, 5*time.Second)), // as WithBatcher, without a wake-up per span (batch.go)
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
		sdktrace.WithIDGenerator(idGenerator{}), // head.go
	)
	samplers.Store(tp, newHeadSampler(sampler, ratio))
	return tp
}

// DefaultSampleRatio is the share of new traces recorded when
// OTEL_TRACES_SAMPLER is not set: a recorded request costs the API several
// times what an unrecorded one does (docs/PERFORMANCE.md, issue 6).
const DefaultSampleRatio = 0.1

// Sampler is the sampler named by OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG as the OpenTelemetry specification defines them
// (always_on, always_off, traceidratio, parentbased_always_on,
// parentbased_always_off, parentbased_traceidratio; a ratio sampler without
// a valid argument samples everything). When OTEL_TRACES_SAMPLER is unset
// (or names no sampler) it is parentbased_traceidratio with
// OTEL_TRACES_SAMPLER_ARG when that is a valid ratio, else
// DefaultSampleRatio: a trace started elsewhere (traceparent) follows its
// caller's decision, a new one is recorded with that probability.
func Sampler(getenv func(string) string) sdktrace.Sampler {
	s, _ := samplerOf(getenv)
	return s
}

// samplerOf is Sampler, and the ratio of its TraceIDRatioBased sampler of
// new traces when it has one (else -1), for head.go's shortcut.
func samplerOf(getenv func(string) string) (sdktrace.Sampler, float64) {
	arg := strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func(def float64) float64 {
		if r, err := strconv.ParseFloat(arg, 64); err == nil && r >= 0 && r <= 1 {
			return r
		}
		return def
	}
	switch strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER"))) {
	case "always_on":
		return sdktrace.AlwaysSample(), -1
	case "always_off":
		return sdktrace.NeverSample(), -1
	case "traceidratio":
		r := ratio(1)
		return sdktrace.TraceIDRatioBased(r), r
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), -1
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), -1
	case "parentbased_traceidratio":
		r := ratio(1)
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), r
	}
	r := ratio(DefaultSampleRatio)
	return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), r
}

// Install makes tp the process's tracer provider (tests install one with an
// in-memory exporter) and switches tracing middleware on.
func Install(tp trace.TracerProvider) {
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator)
	installHead(tp)
	generation.Add(1)
	enabled.Store(true)
}

// Uninstall puts OpenTelemetry's no-op tracer provider back and switches
// tracing middleware off again: for tests that installed one with Install.
func Uninstall() {
	otel.SetTracerProvider(noop.NewTracerProvider())
	head.Store(nil)
	generation.Add(1)
	enabled.Store(false)
}

// Inject returns headers with the trace context of ctx added, unless there is
// no span in ctx or headers already carry a traceparent. The map given is not
// modified; a new one is returned when something is added.
func Inject(ctx context.Context, headers map[string]string) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return headers
	}
	if _, ok := headers[HeaderTraceparent]; ok {
		return headers
	}
	out := make(map[string]string, len(headers)+2)
	for k, v := range headers {
		out[k] = v
	}
	Propagator.Inject(ctx, propagation.MapCarrier(out))
	return out
}

// Extract returns ctx with the remote span context carried in headers (a
// job's Headers), so a span started from it joins the producer's trace.
func Extract(ctx context.Context, headers map[string]string) context.Context {
	if len(headers) == 0 {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier(headers))
}

// RecordError marks span as failed with err (nil: nothing).
func RecordError(span trace.Span, err error) {
	if err == nil || !span.IsRecording() {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
