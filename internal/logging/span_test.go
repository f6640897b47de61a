package logging

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// An unrecorded request's span context lives in the request's own context
// (requestCtx), not in a context.WithValue layer: everything that looks a
// span up the OpenTelemetry way must still find it there, in the handler
// and in contexts derived from the handler's.
func TestRequestContextCarriesTheSpan(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
	})
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)) // parent-based: an unsampled parent's child is not recorded
	defer func() { _ = tp.Shutdown(context.Background()) }()

	var buf bytes.Buffer
	log := New(&buf, Options{Format: "json", Level: slog.LevelInfo})
	unrecorded := func(ctx context.Context, _ *http.Request) (context.Context, trace.Span, trace.SpanContext) {
		return ctx, nil, sc
	}
	var seen trace.SpanContext
	var recording, childRecorded bool
	var id string
	var carrier propagation.HeaderCarrier
	h := Instrument(log, HTTPOptions{StartSpan: unrecorded}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context()) // derived, as handlers' are
		defer cancel()
		seen = trace.SpanContextFromContext(ctx)
		recording = trace.SpanFromContext(ctx).IsRecording()
		id = RequestID(ctx)
		_, child := tp.Tracer("test").Start(ctx, "query")
		childRecorded = child.IsRecording()
		if child.SpanContext().TraceID() != sc.TraceID() {
			t.Errorf("child span in trace %v, want the request's %v", child.SpanContext().TraceID(), sc.TraceID())
		}
		child.End()
		carrier = propagation.HeaderCarrier{}
		propagation.TraceContext{}.Inject(ctx, carrier)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))

	if !seen.Equal(sc) || recording {
		t.Fatalf("handler saw span context %v (recording %v), want %v, not recording", seen, recording, sc)
	}
	if id == "" || id != rec.Header().Get(HeaderRequestID) {
		t.Fatalf("request id %q in the context, %q in the response", id, rec.Header().Get(HeaderRequestID))
	}
	if childRecorded || len(exp.GetSpans()) != 0 {
		t.Fatalf("a child of an unrecorded request was recorded: %v", exp.GetSpans())
	}
	if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-00"; carrier.Get("traceparent") != want {
		t.Fatalf("traceparent passed on %q, want %q", carrier.Get("traceparent"), want)
	}
	line := lastLine(t, &buf)
	if line["trace_id"] != sc.TraceID().String() || line["span_id"] != sc.SpanID().String() {
		t.Fatalf("access line %v, want the request's trace and span id", line)
	}

	// A recorded request: the span startSpan started is the handler's,
	// named after the route and ended after the access log.
	recorded := func(ctx context.Context, r *http.Request) (context.Context, trace.Span, trace.SpanContext) {
		ctx, span := tp.Tracer("test").Start(ctx, r.Method)
		return ctx, span, trace.SpanContext{}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /y/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanFromContext(r.Context()).IsRecording() || RequestOf(r.Context()) == nil {
			t.Error("a recorded request's handler has no recording span or no record")
		}
	})
	Instrument(log, HTTPOptions{StartSpan: recorded}, CaptureRoute(mux)).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/y/1", nil))
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "GET /y/{id}" {
		t.Fatalf("recorded request exported %v, want one span named after the route", spans)
	}
	if line := lastLine(t, &buf); line["trace_id"] != spans[0].SpanContext.TraceID().String() {
		t.Fatalf("access line %v, want the recorded span's trace id", line)
	}
}

// Without a span of its own, the middleware logs the trace of the span an
// outer layer put in the request's context, unless it is told the server
// is untraced (app.InstrumentHTTP without tracing), when it does not look.
func TestOuterSpanUnlessUntraced(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{9, 8, 7, 6, 5, 4, 3, 2, 1, 9, 8, 7, 6, 5, 4, 3},
		SpanID:  trace.SpanID{8, 7, 6, 5, 4, 3, 2, 1},
	})
	for _, untraced := range []bool{false, true} {
		var buf bytes.Buffer
		h := Instrument(New(&buf, Options{}), HTTPOptions{Untraced: untraced}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		req := httptest.NewRequest("GET", "/x", nil)
		h.ServeHTTP(httptest.NewRecorder(), req.WithContext(trace.ContextWithSpanContext(req.Context(), sc)))
		logged := bytes.Contains(buf.Bytes(), []byte(`"trace_id":"`+sc.TraceID().String()+`"`))
		if logged == untraced {
			t.Errorf("untraced %v: outer trace id logged %v:\n%s", untraced, logged, buf.String())
		}
	}
}
