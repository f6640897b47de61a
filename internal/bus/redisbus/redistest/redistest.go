// Package redistest connects tests to the Redis at SMARTERDEV_TEST_REDIS_URL,
// skipping them when none is configured or reachable, unless
// SMARTERDEV_REQUIRE_SERVICES=1, which turns a missing Redis into a failure.
package redistest

import (
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options returns the parsed connection options, or skips/fails the test.
func Options(t testing.TB) *redis.Options {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("SMARTERDEV_REQUIRE_SERVICES") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	url := os.Getenv("SMARTERDEV_TEST_REDIS_URL")
	if url == "" {
		unavailable("SMARTERDEV_TEST_REDIS_URL is not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("SMARTERDEV_TEST_REDIS_URL: %v", err)
	}
	probe := redis.NewClient(opt)
	defer probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := probe.Ping(ctx).Err(); err != nil {
		unavailable("Redis at SMARTERDEV_TEST_REDIS_URL does not answer PING: %v", err)
	}
	return opt
}

// Client returns a client closed at the end of the test.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(Options(t))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a key prefix of the test's own; its keys are deleted at the end.
func Prefix(t testing.TB, client *redis.Client, name string) string {
	p := name + "-" + rand.Text()[:10]
	t.Cleanup(func() { DeleteKeys(t, client, p) })
	return p
}

// DeleteKeys removes every key starting with prefix.
func DeleteKeys(t testing.TB, client *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan %s*: %v", prefix, err)
		return
	}
	if len(keys) > 0 {
		if err := client.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("delete %s*: %v", prefix, err)
		}
	}
}
