package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/smarterdev/smarterdev/internal/apikeys"
	"github.com/smarterdev/smarterdev/internal/app"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/logging"
	"github.com/smarterdev/smarterdev/internal/telemetry"
	"github.com/smarterdev/smarterdev/internal/web"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkInstrumentation is `-instr both` without the network: GET balance
// through the handler benchapi serves (SQLite), with the instrumentation off,
// on without tracing (logs and metrics: production without an OTLP
// endpoint), on with the production sampler (traced-default: 10 % of new
// traces, at most 100 a second), with the ratio alone (traced-10pct: 10 % of
// requests) and on with every request traced (traced-all), so that its cost
// per request is measured in process. With -cpu 1 the span processor's and
// the GC's work counts too.
func BenchmarkInstrumentation(b *testing.B) {
	ctx := context.Background()
	dbURL := "sqlite:" + filepath.Join(b.TempDir(), "bench.db")
	const accounts = 1000
	handlers := map[string]http.Handler{}
	var token string
	modes := []string{"off", "logs-metrics", "traced-default", "traced-10pct", "traced-all"}
	samplers := map[string]string{"traced-default": "", "traced-10pct": "", "traced-all": "always_on"}
	providers := map[string]*sdktrace.TracerProvider{}
	for mode, sampler := range samplers {
		perSecond := 0
		if mode == "traced-default" {
			perSecond = config.DefaultTracesPerSecond
		}
		tp := telemetry.NewProvider(&countingExporter{}, telemetry.Options{ServiceVersion: "bench", Role: "web",
			TracesPerSecond: perSecond,
			Getenv: func(k string) string {
				if k == "OTEL_TRACES_SAMPLER" {
					return sampler
				}
				return ""
			}})
		providers[mode] = tp
		defer func() { _ = tp.Shutdown(ctx) }()
	}
	for i, mode := range modes {
		instr := "on"
		if mode == "off" {
			instr = "off"
		}
		if mode == "traced-default" { // the tracing middleware is in the chain from here on
			telemetry.Install(providers[mode])
			defer telemetry.Uninstall()
		}
		st, h, closeStack, err := newStack(ctx, dbURL, instr)
		if err != nil {
			b.Fatal(err)
		}
		defer closeStack()
		handlers[mode] = h
		if i == 0 {
			for u := range accounts {
				if _, _, err := st.econ.EnsureAccount(ctx, guild, economy.Member{ID: int64(firstUser + u), Name: "m"}); err != nil {
					b.Fatal(err)
				}
			}
			if _, token, err = st.keys.Create(ctx, 0, apikeys.Spec{Name: "bench", Scope: apikeys.Read}); err != nil {
				b.Fatal(err)
			}
		}
	}
	paths := make([]string, accounts)
	for u := range paths {
		paths[u] = "/api/v1/guilds/" + strconv.Itoa(guild) + "/bytes/balances/" + strconv.Itoa(firstUser+u)
	}
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			if tp := providers[mode]; tp != nil {
				telemetry.Install(tp) // the tracer each span starts from
			}
			h := handlers[mode]
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// As net/http gives handlers: a context that ends with the request.
				rctx, cancel := context.WithCancel(ctx)
				req := httptest.NewRequest(http.MethodGet, paths[i%accounts], nil).WithContext(rctx)
				req.Header.Set("Authorization", "Bearer "+token)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				cancel()
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
				i++
			}
		})
	}
}

// BenchmarkInstrumentationMiddleware is the cost of app.InstrumentHTTP alone,
// around a handler that writes a small JSON body through a ServeMux: bare,
// logs and metrics (production without an OTLP endpoint), and tracing with
// no request sampled, with the default sampler (10 % of new traces, at most
// 100 a second), with the ratio alone (10 %) and with every one.
func BenchmarkInstrumentationMiddleware(b *testing.B) {
	benchMiddleware(b, false)
}

// BenchmarkInstrumentationMiddlewareParallel is the same with requests on
// every core at once (-cpu 2), as a busy server has them: what every
// request writes to memory shared with the other cores (a metric's counts,
// a lock) costs the cache line's trip between them.
func BenchmarkInstrumentationMiddlewareParallel(b *testing.B) {
	benchMiddleware(b, true)
}

func benchMiddleware(b *testing.B, parallel bool) {
	// Through logging.Buffered, as a server writes (app.serverLogs), to a
	// writer that drops what it is given.
	out := logging.NewBuffered(io.Discard)
	defer func() { _ = out.Close() }()
	log := logging.New(out, logging.Options{Format: "json", Level: slog.LevelInfo, Secrets: []string{
		"MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789ABCD",
		"q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6",
	}})
	body := []byte(`{"guild_id":"1","user_id":"1000000","balance":100,"total_received":0,"total_sent":0,"streak":0}` + "\n")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/guilds/{guild}/bytes/balances/{user}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	inner := logging.CaptureRoute(mux)
	slo := web.NewSLOCounter(nil, nil)
	for _, mode := range []string{"bare", "logs-metrics", "traced-unsampled", "traced-default", "traced-10pct", "traced-all"} {
		b.Run(mode, func(b *testing.B) {
			var h http.Handler = inner
			if mode != "bare" {
				if mode != "logs-metrics" {
					o := telemetry.Options{ServiceVersion: "bench", Role: "web"}
					env := map[string]map[string]string{
						"traced-unsampled": {"OTEL_TRACES_SAMPLER_ARG": "0"},
						"traced-default":   {},
						"traced-10pct":     {},
						"traced-all":       {"OTEL_TRACES_SAMPLER": "always_on"},
					}[mode]
					o.Getenv = func(k string) string { return env[k] }
					if mode == "traced-default" {
						o.TracesPerSecond = config.DefaultTracesPerSecond
					}
					tp := telemetry.NewProvider(&countingExporter{}, o)
					telemetry.Install(tp)
					defer func() {
						telemetry.Uninstall()
						_ = tp.Shutdown(context.Background())
					}()
				}
				h = app.InstrumentHTTP(inner, log, slo, mode != "logs-metrics")
			}
			newReq := func() (*http.Request, *discardWriter) {
				req := httptest.NewRequest(http.MethodGet, "/api/v1/guilds/1/bytes/balances/1000000", nil)
				req.RemoteAddr = "127.0.0.1:40000"
				return req.WithContext(serverContext()), &discardWriter{h: http.Header{}}
			}
			// The middleware sets the request's X-Request-Id: removed each
			// time, so that every request draws its id, as a client's do.
			b.ReportAllocs()
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					req, w := newReq()
					for pb.Next() {
						clear(w.h)
						delete(req.Header, logging.HeaderRequestID)
						h.ServeHTTP(w, req)
					}
				})
				return
			}
			req, w := newReq()
			for b.Loop() {
				clear(w.h)
				delete(req.Header, logging.HeaderRequestID)
				h.ServeHTTP(w, req)
			}
		})
	}
}

// serverContext is a request's context as an http.Server gives it: a
// context ended with the request, over the connection's (the local
// address) over the server's. A lookup of what no layer holds walks all
// three; httptest's context.Background() would make it look free.
func serverContext() context.Context {
	ctx := context.WithValue(context.Background(), http.ServerContextKey, &http.Server{})
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080})
	ctx, cancel := context.WithCancel(ctx)
	_ = cancel // ended with the benchmark's process
	return ctx
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
