// Package ratelimit limits request rates per caller with GCRA (the generic
// cell rate algorithm): a steady rate plus a burst, one timestamp of state per
// key. With Redis every web replica shares the limit (go-redis/redis_rate);
// without it each process keeps its own, which is what a single embedded
// process needs.
package ratelimit

import (
	"context"
	"time"
)

// Limit is Rate requests per second with bursts of up to Burst.
type Limit struct {
	Rate  int
	Burst int
}

// Default is what an API key gets unless configured otherwise.
var Default = Limit{Rate: 20, Burst: 40}

// Result is one decision, with what the RateLimit-* headers report.
type Result struct {
	Limit      Limit
	Allowed    bool
	Remaining  int           // requests that would pass right now
	ResetAfter time.Duration // until the bucket is full again
	RetryAfter time.Duration // until the next request passes; 0 when allowed
}

// Limiter decides whether one more request under key passes.
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}
