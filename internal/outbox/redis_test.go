package outbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smarterdev/smarterdev/internal/bus/redisbus"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/outbox"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// TestRelayAcrossRedisOutage: jobs committed while Redis cannot be reached
// stay in the outbox and reach Redis once it answers again.
func TestRelayAcrossRedisOutage(t *testing.T) {
	url := os.Getenv("SMARTERDEV_TEST_REDIS_URL")
	if url == "" {
		if storetest.RequireServices() {
			t.Fatal("SMARTERDEV_REQUIRE_SERVICES=1 but SMARTERDEV_TEST_REDIS_URL is not set")
		}
		t.Skip("SMARTERDEV_TEST_REDIS_URL is not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		prefix := "outboxtest-" + hex.EncodeToString(b)

		// Redis "down": nothing listens on this port.
		deadOpt := *opt
		deadOpt.Addr = "127.0.0.1:1"
		deadOpt.MaxRetries = -1
		deadOpt.DialTimeout = 200 * time.Millisecond
		dead := redis.NewClient(&deadOpt)
		defer dead.Close()
		down := redisbus.New(dead, redisbus.Options{Prefix: prefix})
		enqueue(t, db, 5, true)
		if _, err := outbox.NewRelay(db, down, outbox.Options{}).RelayOnce(ctx); err == nil {
			t.Fatal("relay claimed success with Redis down")
		}
		if got := pending(t, db); got != 5 {
			t.Fatalf("pending = %d during the outage, want 5", got)
		}

		live := redis.NewClient(opt)
		defer live.Close()
		defer func() {
			keys, _ := live.Keys(ctx, prefix+"*").Result()
			if len(keys) > 0 {
				live.Del(ctx, keys...)
			}
		}()
		up := redisbus.New(live, redisbus.Options{Prefix: prefix})
		defer up.Close()
		if _, err := outbox.NewRelay(db, up, outbox.Options{}).RelayOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := pending(t, db); got != 0 {
			t.Fatalf("pending = %d after Redis came back, want 0", got)
		}
		st, err := up.Stats(ctx, jobs.QueueRoles)
		if err != nil || st.Ready != 5 {
			t.Fatalf("Redis queue %+v (err %v), want 5 ready", st, err)
		}
	})
}
