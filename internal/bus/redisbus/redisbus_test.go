package redisbus_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/bus/bustest"
	"github.com/smarterdev/smarterdev/internal/bus/redisbus"
	"github.com/smarterdev/smarterdev/internal/bus/redisbus/redistest"
)

func testClient(t *testing.T) *redis.Client { return redistest.Client(t) }

func prefixFor(t *testing.T, client *redis.Client) string {
	return redistest.Prefix(t, client, "bustest")
}

func deleteKeys(t *testing.T, client *redis.Client, prefix string) {
	redistest.DeleteKeys(t, client, prefix)
}

func newBus(t *testing.T, client *redis.Client, prefix string) *redisbus.Bus {
	return redisbus.New(client, redisbus.Options{
		Prefix: prefix,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Block:  100 * time.Millisecond, // quick consumer shutdown keeps the suite fast
	})
}

func TestRedisBus(t *testing.T) {
	client := testClient(t)
	var mu sync.Mutex
	prefixes := map[*testing.T]string{}
	bustest.Run(t, func(t *testing.T) bus.Bus {
		mu.Lock()
		p, ok := prefixes[t]
		if !ok {
			p = prefixFor(t, client)
			prefixes[t] = p
		}
		mu.Unlock()
		return newBus(t, client, p)
	}, bustest.Options{Shared: true})
}

// TestRedisHousekeeping checks what the conformance suite cannot see: that
// acknowledged entries and finished consumers do not accumulate in Redis.
func TestRedisHousekeeping(t *testing.T) {
	client := testClient(t)
	prefix := prefixFor(t, client)
	b := newBus(t, client, prefix)
	defer b.Close()
	ctx := t.Context()
	for i := range 20 {
		if _, err := b.Enqueue(ctx, "q", fmt.Appendf(nil, "%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	n := 0
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, "q", bus.ConsumeOptions{Concurrency: 3}, func(context.Context, bus.Job) error {
			mu.Lock()
			n++
			mu.Unlock()
			return nil
		})
	}()
	stream := prefix + ":{q}:jobs"
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		got := n
		mu.Unlock()
		l, err := client.XLen(ctx, stream).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got == 20 && l == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handled %d of 20, stream length %d; want 20 and 0 (acknowledged entries deleted)", got, l)
		}
	}
	consumers, err := client.XInfoConsumers(ctx, stream, "workers").Result()
	if err != nil || len(consumers) != 1 {
		t.Fatalf("consumers while consuming = %v, %v; want 1", consumers, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume: %v", err)
	}
	consumers, err = client.XInfoConsumers(ctx, stream, "workers").Result()
	if err != nil || len(consumers) != 0 {
		t.Errorf("consumers after Consume returned = %v, %v; want none", consumers, err)
	}
}

func TestRedisDefaultPrefix(t *testing.T) {
	client := testClient(t)
	b := redisbus.New(client, redisbus.Options{})
	defer b.Close()
	queue := "bustest-" + rand.Text()[:10]
	t.Cleanup(func() { deleteKeys(t, client, "smarterdev:{"+queue+"}") })
	if _, err := b.Enqueue(t.Context(), queue, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if n, err := client.XLen(t.Context(), "smarterdev:{"+queue+"}:jobs").Result(); err != nil || n != 1 {
		t.Errorf("XLEN of the default-prefixed stream = %d, %v; want 1", n, err)
	}
}
