package botstatus_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/botstatus"
	"github.com/smarterdev/smarterdev/internal/bus/redisbus/redistest"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

func heartbeat(instance string, at time.Time, connected ...bool) botstatus.Heartbeat {
	h := botstatus.Heartbeat{Instance: instance, PID: 42, Host: "h", Version: "test", At: at.UTC().Truncate(time.Millisecond), ShardCount: len(connected)}
	for i, c := range connected {
		st := "disconnected"
		if c {
			st = "ready"
			h.ShardsConnected++
		}
		h.Shards = append(h.Shards, botstatus.Shard{ID: i, Status: st, Connected: c, LatencyMS: 12.5})
	}
	return h
}

// conformance: what every store must do.
func conformance(t *testing.T, s botstatus.Store) {
	ctx := context.Background()
	if hs, err := s.Read(ctx); err != nil || len(hs) != 0 {
		t.Fatalf("empty store: %v %v", hs, err)
	}
	now := time.Now()
	if err := s.Write(ctx, heartbeat("b", now.Add(-time.Second), true, false)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, heartbeat("a", now.Add(-time.Second), true)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, heartbeat("b", now, true, true)); err != nil { // overwrites
		t.Fatal(err)
	}
	hs, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].Instance != "a" || hs[1].Instance != "b" || hs[1].ShardsConnected != 2 ||
		len(hs[1].Shards) != 2 || hs[1].Shards[1].LatencyMS != 12.5 || !hs[1].At.Equal(now.UTC().Truncate(time.Millisecond)) {
		t.Fatalf("read back: %+v", hs)
	}
}

func TestDB(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := botstatus.DB{DB: db}
		conformance(t, s)
		// A process silent for over an hour is pruned on the next write.
		ctx := context.Background()
		if err := s.Write(ctx, heartbeat("old", time.Now().Add(-2*time.Hour), true)); err != nil {
			t.Fatal(err)
		}
		if err := s.Write(ctx, heartbeat("a", time.Now(), true)); err != nil {
			t.Fatal(err)
		}
		hs, _ := s.Read(ctx)
		for _, h := range hs {
			if h.Instance == "old" {
				t.Errorf("stale row not pruned: %+v", hs)
			}
		}
	})
}

func TestRedis(t *testing.T) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c, "heartbeat") + ":"
	s := botstatus.Redis{Client: c, Prefix: prefix}
	conformance(t, s)
	ttl, err := c.TTL(context.Background(), prefix+"a").Result()
	if err != nil || ttl <= 0 || ttl > botstatus.MaxAge {
		t.Fatalf("TTL %v (%v), want at most %s", ttl, err, botstatus.MaxAge)
	}
}

type memStore struct{ hs []botstatus.Heartbeat }

func (m *memStore) Write(_ context.Context, h botstatus.Heartbeat) error {
	m.hs = append(m.hs, h)
	return nil
}
func (m *memStore) Read(context.Context) ([]botstatus.Heartbeat, error) { return m.hs, nil }

func TestCheck(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := start
	m := &memStore{}
	check := botstatus.Check(m, start, time.Minute, func() time.Time { return now })
	ctx := context.Background()
	if err := check(ctx); err != nil {
		t.Fatalf("no heartbeat yet, within grace: %v", err)
	}
	now = start.Add(2 * time.Minute)
	if err := check(ctx); !errors.Is(err, botstatus.ErrNoHeartbeat) {
		t.Fatalf("no heartbeat after grace: %v", err)
	}
	m.hs = []botstatus.Heartbeat{heartbeat("a", now.Add(-5*time.Second), true, true)}
	if err := check(ctx); err != nil {
		t.Fatalf("fresh heartbeat: %v", err)
	}
	m.hs = []botstatus.Heartbeat{heartbeat("a", now.Add(-5*time.Second), true, false)}
	if err := check(ctx); err == nil || !strings.Contains(err.Error(), "shard 1 (a)") {
		t.Fatalf("a disconnected shard: %v", err)
	}
	m.hs = []botstatus.Heartbeat{heartbeat("a", now.Add(-45*time.Second), true, true)}
	if err := check(ctx); !errors.Is(err, botstatus.ErrNoHeartbeat) || !strings.Contains(err.Error(), "45s") {
		t.Fatalf("stale heartbeat: %v", err)
	}
}

func TestPublish(t *testing.T) {
	m := &syncStore{ch: make(chan botstatus.Heartbeat, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- botstatus.Publish(ctx, m, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)),
			func() botstatus.Heartbeat { return heartbeat("p", time.Now(), true) })
	}()
	for range 3 {
		select {
		case h := <-m.ch:
			if h.Instance != "p" {
				t.Fatalf("%+v", h)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no heartbeat written")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type syncStore struct{ ch chan botstatus.Heartbeat }

func (s *syncStore) Write(_ context.Context, h botstatus.Heartbeat) error {
	select {
	case s.ch <- h:
	default:
	}
	return nil
}
func (s *syncStore) Read(context.Context) ([]botstatus.Heartbeat, error) { return nil, nil }
