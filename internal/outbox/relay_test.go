package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/bus/dbbus"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/outbox"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// flakyBus fails every Enqueue while down is set: a Redis outage.
type flakyBus struct {
	bus.Bus
	down atomic.Bool
}

func (f *flakyBus) Enqueue(ctx context.Context, q string, p []byte, h map[string]string) (string, error) {
	if f.down.Load() {
		return "", errors.New("connection refused")
	}
	return f.Bus.Enqueue(ctx, q, p, h)
}

func enqueue(t *testing.T, db *store.DB, n int, commit bool) {
	t.Helper()
	ctx := context.Background()
	err := db.Tx(ctx, func(tx *store.Tx) error {
		for i := range n {
			if err := tx.Enqueue(ctx, jobs.QueueRoles, jobs.RoleChange{GuildID: 1, UserID: int64(100 + i), RoleID: 7, Add: true},
				map[string]string{"traceparent": "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"}); err != nil {
				return err
			}
		}
		if !commit {
			return errors.New("rolled back")
		}
		return nil
	})
	if commit && err != nil {
		t.Fatal(err)
	}
}

func pending(t *testing.T, db *store.DB) int64 {
	t.Helper()
	lag, err := outbox.Lag(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return lag.Pending
}

// TestRelayPublishesCommittedJobsOnly, on the in-process bus and on the
// database bus behind the metrics decorator, as serve wires it without
// Redis: there the relay must enqueue in its own transaction, which on
// SQLite holds the only writer connection.
func TestRelayPublishesCommittedJobsOnly(t *testing.T) {
	for name, open := range map[string]func(*store.DB) bus.Bus{
		"memory":   func(*store.DB) bus.Bus { return bus.NewMemory() },
		"database": func(db *store.DB) bus.Bus { return metrics.InstrumentBus(dbbus.New(db, dbbus.Options{})) },
	} {
		t.Run(name, func(t *testing.T) { relayCommittedOnly(t, open) })
	}
}

func relayCommittedOnly(t *testing.T, open func(*store.DB) bus.Bus) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := open(db)
		defer b.Close()
		enqueue(t, db, 3, true)
		enqueue(t, db, 2, false)
		if got := pending(t, db); got != 3 {
			t.Fatalf("pending = %d, want 3 (the rolled-back jobs must not exist)", got)
		}
		r := outbox.NewRelay(db, b, outbox.Options{Batch: 2})
		total := 0
		// A relay that waited for the connection its own transaction holds
		// would wait forever: fail instead.
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		for {
			n, err := r.RelayOnce(rctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			total += n
		}
		if total != 3 || pending(t, db) != 0 {
			t.Fatalf("published %d, pending %d; want 3 and 0", total, pending(t, db))
		}
		st, err := b.Stats(ctx, jobs.QueueRoles)
		if err != nil || st.Ready != 3 {
			t.Fatalf("bus holds %+v (err %v), want 3 ready jobs", st, err)
		}
		got := make(chan bus.Job, 3)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go b.Consume(cctx, jobs.QueueRoles, bus.ConsumeOptions{}, func(_ context.Context, j bus.Job) error {
			got <- j
			return nil
		})
		seen := map[int64]bool{}
		for range 3 {
			select {
			case j := <-got:
				var rc jobs.RoleChange
				if err := json.Unmarshal(j.Payload, &rc); err != nil {
					t.Fatal(err)
				}
				if rc.GuildID != 1 || rc.RoleID != 7 || !rc.Add {
					t.Fatalf("payload changed on the way: %+v", rc)
				}
				if j.Headers["traceparent"] == "" {
					t.Fatalf("headers lost: %v", j.Headers)
				}
				seen[rc.UserID] = true
			case <-time.After(5 * time.Second):
				t.Fatal("jobs did not arrive")
			}
		}
		if len(seen) != 3 {
			t.Fatalf("distinct jobs %v", seen)
		}
	})
}

func TestRelaySurvivesBusOutage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mem := bus.NewMemory()
		defer mem.Close()
		b := &flakyBus{Bus: mem}
		b.down.Store(true)
		enqueue(t, db, 4, true)
		r := outbox.NewRelay(db, b, outbox.Options{})
		if _, err := r.RelayOnce(ctx); err == nil {
			t.Fatal("relay reported success while the bus was down")
		}
		if got := pending(t, db); got != 4 {
			t.Fatalf("pending = %d after a failed relay, want all 4 kept", got)
		}
		b.down.Store(false)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.Run(runCtx) }()
		deadline := time.Now().Add(5 * time.Second)
		for pending(t, db) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("relay did not drain the outbox after the bus came back")
			}
			time.Sleep(20 * time.Millisecond)
		}
		st, _ := mem.Stats(ctx, jobs.QueueRoles)
		if st.Ready != 4 {
			t.Fatalf("bus has %d jobs, want 4", st.Ready)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	})
}

func TestPurgeKeepsUnpublished(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := bus.NewMemory()
		defer b.Close()
		enqueue(t, db, 2, true)
		r := outbox.NewRelay(db, b, outbox.Options{Retention: time.Nanosecond})
		if _, err := r.RelayOnce(ctx); err != nil {
			t.Fatal(err)
		}
		enqueue(t, db, 1, true)
		time.Sleep(10 * time.Millisecond)
		n, err := r.Purge(ctx)
		if err != nil || n != 2 {
			t.Fatalf("purged %d (err %v), want the 2 published rows", n, err)
		}
		if got := pending(t, db); got != 1 {
			t.Fatalf("pending = %d, want the unpublished row kept", got)
		}
	})
}
