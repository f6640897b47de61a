package metrics

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/smarterdev/smarterdev/internal/telemetry"
)

// RedisHook times every Redis command and pipeline and, inside a traced
// operation, adds a client span for it. Add it with client.AddHook.
// Blocking reads (XREADGROUP with BLOCK) take up to their block time by
// design; dashboards leave them out of latency panels.
func RedisHook() redis.Hook { return redisHook{} }

type redisHook struct{}

type redisHandles struct {
	duration prometheus.Observer
	errors   prometheus.Counter
}

var redisCommands sync.Map // command -> *redisHandles

func redisHandlesOf(cmd string) *redisHandles {
	if h, ok := redisCommands.Load(cmd); ok {
		return h.(*redisHandles)
	}
	h, _ := redisCommands.LoadOrStore(cmd, &redisHandles{
		duration: RedisDuration.WithLabelValues(cmd),
		errors:   RedisErrors.WithLabelValues(cmd),
	})
	return h.(*redisHandles)
}

const redisTracer = "github.com/smarterdev/smarterdev/internal/metrics/redis"

func (redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		name := cmdName(cmd.Name())
		return observeRedis(ctx, name, func(ctx context.Context) error { return next(ctx, cmd) })
	}
}

func (redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return observeRedis(ctx, "pipeline", func(ctx context.Context) error { return next(ctx, cmds) })
	}
}

func observeRedis(ctx context.Context, name string, run func(context.Context) error) error {
	var span trace.Span
	if telemetry.Enabled() && trace.SpanContextFromContext(ctx).IsSampled() { // not under an unsampled span: nothing would record
		ctx, span = otel.Tracer(redisTracer).Start(ctx, "redis "+name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system.name", "redis"), attribute.String("db.operation.name", name)))
	}
	start := time.Now()
	err := run(ctx)
	h := redisHandlesOf(name)
	h.duration.Observe(time.Since(start).Seconds())
	failed := err != nil && !errors.Is(err, redis.Nil) && !strings.HasPrefix(err.Error(), "NOSCRIPT")
	if failed {
		h.errors.Inc()
	}
	if span != nil {
		if failed {
			telemetry.RecordError(span, err)
		}
		span.End()
	}
	return err
}

// cmdName bounds the command label: go-redis names are lower case already;
// anything odd becomes "other".
func cmdName(n string) string {
	if n == "" || len(n) > 32 {
		return "other"
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || c >= '0' && c <= '9') {
			return strings.ToLower(n)
		}
	}
	return n
}
