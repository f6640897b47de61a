package logging

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// TestAccessLineAsSlog: the access log's direct writer writes the bytes
// slog's JSON handler writes for the same line, or leaves the line to it.
func TestAccessLineAsSlog(t *testing.T) {
	secrets := []string{"s3cret-value"}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4}, TraceFlags: trace.FlagsSampled,
	})
	base := accessLine{time: time.Date(2026, 11, 22, 16, 40, 1, 123456789, time.UTC), level: slog.LevelInfo,
		method: "GET", route: "/api/v1/guilds/{guild}/bytes/balances/{user}", status: 200,
		duration: 1234567 * time.Nanosecond, bytes: 97, remote: "127.0.0.1:4242"}
	type tc struct {
		name   string
		line   func(accessLine) accessLine
		ctx    func(context.Context) context.Context
		with   []any
		direct bool // written by the direct writer
	}
	cases := []tc{
		{name: "plain", direct: true},
		{name: "component", with: []any{"component", "http", "n", 3}, direct: true},
		{name: "request id and trace", ctx: func(c context.Context) context.Context {
			return trace.ContextWithSpanContext(WithRequestID(c, "abc-123"), sc)
		}, with: []any{"component", "http"}, direct: true},
		{name: "error level, zero duration", line: func(l accessLine) accessLine {
			l.level, l.status, l.duration = slog.LevelError, 500, 0
			return l
		}, direct: true},
		{name: "long duration", line: func(l accessLine) accessLine { l.duration = 90 * time.Second; return l }, direct: true},
		{name: "sub-microsecond", line: func(l accessLine) accessLine { l.duration = 999; return l }, direct: true},
		{name: "local time", line: func(l accessLine) accessLine {
			l.time = l.time.In(time.FixedZone("x", 3600+1800))
			return l
		}, direct: true},
		{name: "escaped", line: func(l accessLine) accessLine { l.route = "/a\"b\\c\n\u2028é"; return l }},
		{name: "secret", line: func(l accessLine) accessLine { l.remote = "s3cret-value:1"; return l }},
		{name: "fields", ctx: func(c context.Context) context.Context { return With(c, "guild", 7) }},
		{name: "grouped attrs", with: []any{slog.Group("g", "a", 1)}},
		{name: "sensitive key", with: []any{"token", "xyz"}, direct: true},
		{name: "odd kind", with: []any{"f", 1.5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := base
			if c.line != nil {
				l = c.line(l)
			}
			ctx := context.Background()
			if c.ctx != nil {
				ctx = c.ctx(ctx)
			}
			var direct, viaSlog bytes.Buffer
			dl := New(&direct, Options{Secrets: secrets}).With(c.with...)
			sl := New(&viaSlog, Options{Secrets: secrets}).With(c.with...)
			sh := sl.Handler().(*Handler)
			sh.fast = nil
			if err := sh.Handle(ctx, l.record()); err != nil {
				t.Fatal(err)
			}
			h := dl.Handler().(*Handler)
			wrote := h.writeAccess(ctx, &l)
			if wrote != c.direct {
				t.Fatalf("written directly: %v, want %v", wrote, c.direct)
			}
			if !wrote {
				_ = h.Handle(ctx, l.record())
			}
			if direct.String() != viaSlog.String() {
				t.Errorf("direct:\n%s\nslog:\n%s", direct.String(), viaSlog.String())
			}
		})
	}
}
