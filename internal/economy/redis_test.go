package economy_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smarterdev/smarterdev/internal/bus/redisbus"
	"github.com/smarterdev/smarterdev/internal/bus/redisbus/redistest"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// TestConfigChangeReachesOtherProcessesOverRedis: two services standing for
// two processes, each with its own Redis bus, share one database. A change
// saved through one is seen by the other, which had cached the old value,
// within a second.
func TestConfigChangeReachesOtherProcessesOverRedis(t *testing.T) {
	opt := redistest.Options(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		prefix := redistest.Prefix(t, redistest.Client(t), "econtest")
		// A long TTL: only the notification can refresh the cache in time.
		o := economy.Options{ConfigTTL: time.Hour}
		writer, reader := redisProcess(t, ctx, db, opt, prefix, o), redisProcess(t, ctx, db, opt, prefix, o)
		const guild = 77
		if cfg, err := reader.Config(ctx, guild); err != nil || cfg.DailyAmount != 10 {
			t.Fatalf("reader config %+v, err %v", cfg, err)
		}
		cfg := economy.DefaultConfig()
		cfg.DailyAmount = 42
		if _, err := writer.UpdateConfig(ctx, guild, 1, cfg); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Second)
		for {
			got, err := reader.Config(ctx, guild)
			if err != nil {
				t.Fatal(err)
			}
			if got.DailyAmount == 42 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the other process still sees daily_amount %d a second after the change", got.DailyAmount)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// redisProcess is an economy service standing for a process of its own: its
// own Redis client and bus (under prefix), started until ctx ends.
func redisProcess(t *testing.T, ctx context.Context, db *store.DB, opt *redis.Options, prefix string, o economy.Options) *economy.Service {
	t.Helper()
	client := redis.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	rb := redisbus.New(client, redisbus.Options{Prefix: prefix})
	t.Cleanup(func() { rb.Close() })
	s := economy.NewService(db, rb, o)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
