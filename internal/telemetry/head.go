package telemetry

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"
)

// Head sampling before the SDK. With the default 10 % sampler nine requests
// in ten are not recorded, yet the SDK still made a span for each (the
// sampler's decision, a lock for its ids, a non-recording span), which was
// most of what tracing cost the API (docs/PERFORMANCE.md, issue 6). When the
// installed provider is one of NewProvider's, ServerSpan asks the
// provider's own sampler first, with a trace id it draws itself; a dropped
// request gets only a span context (trace and span id, for the logs and for
// the trace context passed on), and a sampled one is started by the SDK with
// that same trace id (idGenerator), so the SDK's sampler, deterministic on the
// trace id, decides the same.

// head is the sampler of the installed provider when NewProvider made it.
var head atomic.Pointer[headSampler]

// samplers maps NewProvider's providers to their samplers, for Install.
var samplers sync.Map // *sdktrace.TracerProvider -> *headSampler

// headSampler is a provider's sampler and, when it samples new traces with
// sdktrace.TraceIDRatioBased (the default), that sampler's bound and the
// cap on new traces (capped.go): a new trace is then decided by the ratio
// and the cap without asking the sampler (its parameters and result are
// large structs; asking cost the unsampled request more than the rest of
// its tracing). The rule is the SDK's own: TestHeadShortcutIsTheRatioRule
// fails if they part.
type headSampler struct {
	sampler   sdktrace.Sampler
	ratioed   bool
	rootBound uint64
	limiter   *rate.Limiter // the cap on new traces; nil: none
}

func newHeadSampler(s sdktrace.Sampler, ratio float64) *headSampler {
	h := &headSampler{sampler: s}
	if ratio >= 0 && ratio < 1 {
		h.ratioed, h.rootBound = true, uint64(ratio*(1<<63))
		if c, ok := s.(*cappedSampler); ok {
			h.limiter = c.limiter
		}
	}
	return h
}

// dropsRoot reports whether the ratio alone drops a new trace of id tid.
func (h *headSampler) dropsRoot(tid trace.TraceID) bool {
	return h.ratioed && binary.BigEndian.Uint64(tid[8:16])>>1 >= h.rootBound
}

func installHead(tp trace.TracerProvider) {
	if p, ok := tp.(*sdktrace.TracerProvider); ok {
		if s, ok := samplers.Load(p); ok {
			head.Store(s.(*headSampler))
			return
		}
	}
	head.Store(nil)
}

type mintedKey struct{}

// idGenerator is the SDK's id source for NewProvider's providers: the trace
// id ServerSpan drew when there is one in ctx, random ids otherwise.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if tid, ok := ctx.Value(mintedKey{}).(trace.TraceID); ok {
		return tid, newSpanID()
	}
	return newTraceID(), newSpanID()
}

func (idGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

// math/rand/v2's top-level source is per thread and needs no lock; trace and
// span ids must be unpredictable enough not to collide, not secret.
func newTraceID() (id trace.TraceID) {
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:8], rand.Uint64())
		binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

func newSpanID() (id trace.SpanID) {
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}

// headSample decides whether the server span named name, in ctx (carrying a
// remote parent when remote is true; ctx is not searched otherwise), records. When it does not, it returns the span
// context the request carries instead of a span: a new span id in the
// parent's trace, or in a new trace, not sampled; when it does, ctx
// prepared for the SDK to start the span. ok is false when the installed
// provider is not NewProvider's: the caller starts the span with the SDK as
// usual.
func headSample(ctx context.Context, remote bool, name string, kind trace.SpanKind) (_ context.Context, unrecorded trace.SpanContext, ok bool) {
	hs := head.Load()
	if hs == nil {
		return ctx, trace.SpanContext{}, false
	}
	var parent trace.SpanContext
	if remote {
		parent = trace.SpanContextFromContext(ctx)
	}
	tid := parent.TraceID()
	if !parent.IsValid() {
		tid = newTraceID()
		if hs.ratioed {
			// A new trace, for which the sampler's decision is the ratio's,
			// then the cap's (capped.go, which admits the SDK's own ask of
			// this trace without counting it again).
			if hs.dropsRoot(tid) || hs.limiter != nil && !hs.limiter.Allow() {
				return ctx, unrecordedIn(parent, tid, trace.TraceState{}), true
			}
			return context.WithValue(ctx, mintedKey{}, tid), trace.SpanContext{}, true
		}
	}
	res := hs.sampler.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: tid, Name: name, Kind: kind})
	if res.Decision == sdktrace.Drop {
		return ctx, unrecordedIn(parent, tid, res.Tracestate), true
	}
	if !parent.IsValid() {
		ctx = context.WithValue(ctx, mintedKey{}, tid)
	}
	return ctx, trace.SpanContext{}, true
}

// unrecordedIn is the span context of a request not recorded: a new span
// id in trace tid, not sampled.
func unrecordedIn(parent trace.SpanContext, tid trace.TraceID, ts trace.TraceState) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: newSpanID(), TraceFlags: parent.TraceFlags().WithSampled(false), TraceState: ts,
	})
}
