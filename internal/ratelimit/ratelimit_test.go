package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smarterdev/smarterdev/internal/ratelimit"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// checkGCRA runs the same script on any limiter: a burst, a refusal with
// the wait, then one more after the wait. slack allows Remaining to be one
// low: redis_rate computes it in floating point on Redis's clock and
// truncates (0.2s/0.1s can come out as 1.999...).
func checkGCRA(t *testing.T, l ratelimit.Limiter, key string, wait func(time.Duration), slack int) {
	ctx := context.Background()
	lim := ratelimit.Limit{Rate: 10, Burst: 3}
	for i := range 3 {
		r, err := l.Allow(ctx, key, lim)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Allowed || r.Remaining > 2-i || r.Remaining < 2-i-slack {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	r, err := l.Allow(ctx, key, lim)
	if err != nil {
		t.Fatal(err)
	}
	if r.Allowed || r.RetryAfter <= 0 || r.RetryAfter > 100*time.Millisecond {
		t.Fatalf("over the burst: %+v", r)
	}
	wait(r.RetryAfter + 5*time.Millisecond)
	if r, _ := l.Allow(ctx, key, lim); !r.Allowed {
		t.Fatalf("after the wait: %+v", r)
	}
	if r, _ := l.Allow(ctx, key+"-other", lim); !r.Allowed || r.Remaining < 2-slack {
		t.Fatalf("keys are independent: %+v", r)
	}
}

func TestMemory(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	m := ratelimit.NewMemory(c.now)
	checkGCRA(t, m, "k", c.add, 0)
	c.add(10 * time.Second)
	_, _ = m.Allow(context.Background(), "fresh", ratelimit.Default)
	if n := m.Len(); n != 1 {
		t.Fatalf("full buckets are not swept: %d keys", n)
	}
}

func TestRedis(t *testing.T) {
	url := os.Getenv("SMARTERDEV_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("SMARTERDEV_REQUIRE_SERVICES") == "1" {
			t.Fatal("SMARTERDEV_TEST_REDIS_URL is not set")
		}
		t.Skip("SMARTERDEV_TEST_REDIS_URL is not set")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	checkGCRA(t, ratelimit.NewRedis(client, "test:"+hex.EncodeToString(b)+":"), "k", time.Sleep, 1)
}
