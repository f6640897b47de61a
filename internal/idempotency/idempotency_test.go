package idempotency_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/idempotency"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		s := idempotency.NewStore(db, clock)
		sc := idempotency.Scope{APIKeyID: 1, Route: "POST /x", Key: "k"}

		// Concurrent duplicates: exactly one claims, the others are in flight.
		var claimed, inFlight atomic.Int32
		var claim idempotency.Claim
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				c, replay, err := s.Begin(ctx, sc, "h1")
				var f *idempotency.InFlightError
				switch {
				case err == nil && replay == nil:
					claimed.Add(1)
					claim = c
				case errors.As(err, &f):
					inFlight.Add(1)
				default:
					t.Errorf("begin: %v %v", replay, err)
				}
			})
		}
		wg.Wait()
		if claimed.Load() != 1 || inFlight.Load() != 7 {
			t.Fatalf("claimed %d, in flight %d", claimed.Load(), inFlight.Load())
		}
		if err := s.Complete(ctx, claim, idempotency.Response{Status: 201, ContentType: "application/json", Body: []byte(`{"a":1}`)}); err != nil {
			t.Fatal(err)
		}
		_, replay, err := s.Begin(ctx, sc, "h1")
		if err != nil || replay == nil || replay.Status != 201 || string(replay.Body) != `{"a":1}` {
			t.Fatalf("replay: %+v %v", replay, err)
		}
		if _, _, err := s.Begin(ctx, sc, "h2"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("other body: %v", err)
		}
		// After 24 h the key is free again.
		mu.Lock()
		now = now.Add(idempotency.TTL + time.Second)
		mu.Unlock()
		c, replay, err := s.Begin(ctx, sc, "h2")
		if err != nil || replay != nil {
			t.Fatalf("expired key: %+v %v", replay, err)
		}
		// A released claim (server error) lets a retry run.
		if err := s.Release(ctx, c); err != nil {
			t.Fatal(err)
		}
		if _, replay, err := s.Begin(ctx, sc, "h3"); err != nil || replay != nil {
			t.Fatalf("after release: %+v %v", replay, err)
		}
		if _, _, err := s.Begin(ctx, idempotency.Scope{APIKeyID: 1, Route: "r", Key: strings.Repeat("k", 256)}, "h"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("long key: %v", err)
		}
		mu.Lock()
		now = now.Add(idempotency.TTL + time.Second)
		mu.Unlock()
		if n, err := s.Purge(ctx); err != nil || n != 1 {
			t.Fatalf("purge: %d %v", n, err)
		}
	})
}
