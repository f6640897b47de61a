package ratelimit

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is a GCRA limiter shared by every process that uses the same Redis.
type Redis struct {
	l      *redis_rate.Limiter
	prefix string
}

// NewRedis returns a limiter on client; prefix namespaces its keys (tests use
// one per run).
func NewRedis(client *redis.Client, prefix string) *Redis {
	return &Redis{l: redis_rate.NewLimiter(client), prefix: prefix}
}

// Allow asks Redis; an error means Redis did not answer.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	res, err := r.l.Allow(ctx, r.prefix+key, redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: time.Second})
	if err != nil {
		return Result{}, err
	}
	out := Result{Limit: l, Allowed: res.Allowed > 0, Remaining: res.Remaining, ResetAfter: res.ResetAfter}
	if !out.Allowed {
		out.RetryAfter = res.RetryAfter
	}
	return out, nil
}
