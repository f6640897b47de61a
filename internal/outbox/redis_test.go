package outbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smarterdev/smarterdev/internal/bus/redisbus"
	"github.com/smarterdev/smarterdev/internal/bus/redisbus/redistest"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/outbox"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// TestRelayAcrossRedisOutage: jobs committed while Redis cannot be reached
// stay in the outbox and reach Redis once it answers again.
func TestRelayAcrossRedisOutage(t *testing.T) {
	opt := redistest.Options(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		live := redistest.Client(t)
		prefix := redistest.Prefix(t, live, "outboxtest")

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
