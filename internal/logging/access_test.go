package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
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
		{name: "request id and trace", line: func(l accessLine) accessLine {
			l.id, l.sc = "abc-123", sc
			return l
		}, ctx: func(c context.Context) context.Context {
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
		{name: "a route known plain", line: func(l accessLine) accessLine {
			ri := routeOf("GET " + l.route) // as Middleware has it
			l.plainRoute, l.routeTail = ri.plain, ri.tail
			return l
		}, direct: true},
		{name: "debug level", line: func(l accessLine) accessLine { l.level = slog.LevelDebug; return l }, direct: true},
		{name: "warn level", line: func(l accessLine) accessLine { l.level = slog.LevelWarn; return l }, direct: true},
		{name: "a level between", line: func(l accessLine) accessLine { l.level = slog.LevelInfo + 2; return l }, direct: true},
		{name: "a level beyond", line: func(l accessLine) accessLine { l.level = slog.LevelError + 8; return l }, direct: true},
		{name: "a client's id that is a secret", line: func(l accessLine) accessLine {
			l.id = "s3cret-value"
			return l
		}, ctx: func(c context.Context) context.Context { return WithRequestID(c, "s3cret-value") }},
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
			var direct, viaSlog, buffered bytes.Buffer
			dl := New(&direct, Options{Secrets: secrets}).With(c.with...)
			bo := newBuffered(&buffered, time.Hour) // a server's output: the line is copied from the stack
			bl := New(bo, Options{Secrets: secrets}).With(c.with...)
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
			bh := bl.Handler().(*Handler)
			if !bh.writeAccess(ctx, &l) {
				_ = bh.Handle(ctx, l.record())
			}
			if err := bo.Close(); err != nil {
				t.Fatal(err)
			}
			if buffered.String() != viaSlog.String() {
				t.Errorf("through Buffered:\n%s\nslog:\n%s", buffered.String(), viaSlog.String())
			}
		})
	}
}

// Lines written at once by the access log's direct writer and by slog to a
// file, which they share without a lock of ours, come out whole.
func TestLinesWholeOnAFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log := New(f, Options{})
	h := log.Handler().(*Handler)
	const each = 500
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range each {
				if g%2 == 0 {
					l := accessLine{time: time.Now(), level: slog.LevelInfo, method: "GET", route: "/x/{id}", status: 200,
						duration: time.Millisecond, bytes: int64(i), remote: "127.0.0.1:1"}
					if !h.writeAccess(context.Background(), &l) {
						t.Error("not written directly")
						return
					}
				} else {
					log.Info("something happened", "i", i, "pad", strings.Repeat("x", 300))
				}
			}
		})
	}
	wg.Wait()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 4*each {
		t.Fatalf("%d lines, want %d", len(lines), 4*each)
	}
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("a broken line %q: %v", l, err)
		}
	}
}

// appendTime writes what time.RFC3339Nano does, in any zone, at any
// fraction, across seconds and zones in turn (its cache is per second and
// zone).
func TestAppendTimeAsRFC3339Nano(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800), time.FixedZone("y", -8*3600), time.Local}
	base := time.Date(2026, 11, 22, 23, 59, 58, 0, time.UTC)
	for i := range 5000 {
		tm := base.Add(time.Duration(i) * 1234567 * time.Nanosecond).In(zones[i%len(zones)])
		for _, ns := range []int{0, 1, 10, 120000000, 999999999, tm.Nanosecond()} {
			tt := time.Date(tm.Year(), tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second(), ns, tm.Location())
			if got, want := string(appendTime(nil, tt)), tt.Format(time.RFC3339Nano); got != want {
				t.Fatalf("appendTime = %s, want %s", got, want)
			}
		}
	}
	mono := time.Now() // with a monotonic reading, as the middleware's times have
	if got, want := string(appendTime(nil, mono)), mono.Round(0).Format(time.RFC3339Nano); got != want {
		t.Fatalf("appendTime = %s, want %s", got, want)
	}
}

// appendMillis writes what slog's JSON handler writes for the float
// duration_ms (appendMillisFloat), from 0 through the largest durations.
func TestAppendMillisAsFloat(t *testing.T) {
	check := func(us int64) {
		t.Helper()
		if got, want := string(appendMillis(nil, time.Duration(us)*time.Microsecond)), string(appendMillisFloat(nil, us)); got != want {
			t.Fatalf("appendMillis(%d µs) = %s, want %s", us, got, want)
		}
	}
	for us := int64(-3000); us <= 3000; us++ {
		check(us)
	}
	for _, us := range []int64{1e12 - 1, 1e12, 1e12 + 1, -1e12 + 1, -1e12, 1<<53 - 1, 1 << 53, math.MaxInt64 / 1000, math.MinInt64 / 1000} {
		check(us)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		check(r.Int64N(2e12) - 1e12)
		check(r.Int64N(1e7))
	}
}

// TestPlainJSON: the word-at-a-time test answers as the bytewise one for
// every byte value at every position of strings up to 17 bytes long (two
// words and a tail), beside plain bytes of every kind.
func TestPlainJSON(t *testing.T) {
	bytewise := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	plain := "az09 ~!#/{}[]:,.-_"
	rejected := 0
	for n := 1; n <= 17; n++ {
		for pos := range n {
			for c := range 256 {
				b := make([]byte, n)
				for i := range b {
					b[i] = plain[(i+c)%len(plain)]
				}
				b[pos] = byte(c)
				s := string(b)
				want := bytewise(s)
				if got := plainJSON(s); got != want {
					t.Fatalf("plainJSON(%q) = %v, want %v", s, got, want)
				}
				if !want {
					rejected++
				}
			}
		}
	}
	// Bytes 0-31, '"', '\\' and 127-255: 163 of 256 at each of 153 positions.
	if rejected != 163*153 {
		t.Fatalf("%d strings rejected, want %d", rejected, 163*153)
	}
	if !plainJSON("") || !plainJSON("/api/v1/guilds/{guild}/bytes/balances/{user}") {
		t.Fatal("plain strings rejected")
	}
}

// routeOf gives Route's answer and plainJSON's, and for a plain route its
// part of the access line, the first time for a pattern and every time
// after (from its memo).
func TestRouteOf(t *testing.T) {
	for _, c := range []struct {
		pattern, route string
		plain          bool
	}{
		{"GET /api/v1/guilds/{guild}", "/api/v1/guilds/{guild}", true},
		{"/static/", "/static/", true},
		{"GET /a\"b/{id}", "/a\"b/{id}", false},
		{"GET /café", "/café", false},
		{"", "unmatched", true},
	} {
		for i := range 3 {
			ri := routeOf(c.pattern)
			if ri.route != c.route || ri.plain != c.plain {
				t.Fatalf("routeOf(%q), call %d = %q, %v; want %q, %v", c.pattern, i+1, ri.route, ri.plain, c.route, c.plain)
			}
			if want := `","route":"` + c.route + `","status":`; c.plain && ri.tail != want || !c.plain && ri.tail != "" {
				t.Fatalf("routeOf(%q), call %d: tail %q", c.pattern, i+1, ri.tail)
			}
		}
	}
}
