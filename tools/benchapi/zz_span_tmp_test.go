package main

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/smarterdev/smarterdev/internal/telemetry"
)

func BenchmarkZZSpan(b *testing.B) {
	tp := telemetry.NewProvider(&countingExporter{}, telemetry.Options{})
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("x")
	ctx := context.Background()
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, s := tr.Start(ctx, "GET", trace.WithSpanKind(trace.SpanKindServer))
			s.End()
		}
	})
	b.Run("attrs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, s := tr.Start(ctx, "GET", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("url.path", "/api/v1/x")))
			_, q := tr.Start(c, "GetBalance", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.String("db.system.name", "sqlite"), attribute.String("db.operation.name", "GetBalance")))
			q.End()
			s.SetName("GET /api/v1/guilds/{guild}/bytes/balances/{user}")
			s.SetAttributes(attribute.String("http.route", "/api/v1/guilds/{guild}/bytes/balances/{user}"), attribute.Int("http.response.status_code", 200))
			s.End()
		}
	})
}
