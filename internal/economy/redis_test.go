package economy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smarterdev/smarterdev/internal/bus/redisbus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// TestConfigChangeReachesOtherProcessesOverRedis: two services standing for
// two processes, each with its own Redis bus, share one database. A change
// saved through one is seen by the other, which had cached the old value,
// within a second.
func TestConfigChangeReachesOtherProcessesOverRedis(t *testing.T) {
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
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		prefix := "econtest-" + hex.EncodeToString(b)
		newProcess := func() *economy.Service {
			client := redis.NewClient(opt)
			t.Cleanup(func() { client.Close() })
			rb := redisbus.New(client, redisbus.Options{Prefix: prefix})
			t.Cleanup(func() { rb.Close() })
			// A long TTL: only the notification can refresh the cache in time.
			s := economy.NewService(db, rb, economy.Options{ConfigTTL: time.Hour})
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
			return s
		}
		writer, reader := newProcess(), newProcess()
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
