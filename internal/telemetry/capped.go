package telemetry

import (
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"
)

// cappedSampler records at most perSecond new traces a second (bursts of as
// many) of those its sampler would record. Spans with a parent are left to
// the sampler: a trace is recorded whole or not at all, and a caller's
// decision (traceparent) is followed whatever the cap.
type cappedSampler struct {
	sampler   sdktrace.Sampler
	limiter   *rate.Limiter
	perSecond float64
}

func capSampler(s sdktrace.Sampler, perSecond float64) sdktrace.Sampler {
	if perSecond <= 0 {
		return s
	}
	burst := max(int(perSecond), 1)
	return &cappedSampler{sampler: s, limiter: rate.NewLimiter(rate.Limit(perSecond), burst), perSecond: perSecond}
}

func (c *cappedSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	res := c.sampler.ShouldSample(p)
	if res.Decision != sdktrace.RecordAndSample || trace.SpanContextFromContext(p.ParentContext).IsValid() {
		return res
	}
	// ServerSpan's decision (head.go) is asked again by the SDK when it
	// starts the span, with the trace id it drew in the context: admitted once.
	if tid, ok := p.ParentContext.Value(mintedKey{}).(trace.TraceID); ok && tid == p.TraceID {
		return res
	}
	if !c.limiter.Allow() {
		return sdktrace.SamplingResult{Decision: sdktrace.Drop, Tracestate: res.Tracestate}
	}
	return res
}

func (c *cappedSampler) Description() string {
	return fmt.Sprintf("Capped{%s,%g/s}", c.sampler.Description(), c.perSecond)
}
