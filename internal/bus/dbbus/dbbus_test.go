package dbbus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/bus/bustest"
	"github.com/smarterdev/smarterdev/internal/bus/dbbus"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

func newBus(t *testing.T, db *store.DB) *dbbus.Bus {
	return dbbus.New(db, dbbus.Options{
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}

func TestDBBus(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			// The buses of one test share a database, as processes would.
			var mu sync.Mutex
			dbs := map[*testing.T]*store.DB{}
			bustest.Run(t, func(t *testing.T) bus.Bus {
				mu.Lock()
				defer mu.Unlock()
				db, ok := dbs[t]
				if !ok {
					db = storetest.Open(t, engine)
					dbs[t] = db
				}
				return newBus(t, db)
			}, bustest.Options{SharedJobs: true})
		})
	}
}

// openProcess opens url as a new process would: its own pools, migrated.
func openProcess(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), url, store.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

func rows(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM bus_jobs").Scan(&n); err != nil {
		t.Fatalf("count jobs: %v", err)
	}
	return n
}

func stats(t *testing.T, b bus.Bus, queue string) bus.QueueStats {
	t.Helper()
	st, err := b.Stats(t.Context(), queue)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	st.OldestWait = 0
	return st
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

func enqueue(t *testing.T, b bus.Bus, queue, payload string) string {
	t.Helper()
	id, err := b.Enqueue(t.Context(), queue, []byte(payload), map[string]string{"p": payload})
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return id
}

// consume runs Consume in the background; the returned cancel stops it
// without waiting for its handlers (a process that died).
func consume(t *testing.T, b bus.Bus, opts bus.ConsumeOptions, h bus.Handler) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = b.Consume(ctx, "q", opts, h) }()
	t.Cleanup(cancel)
	return cancel
}

// TestRestartLosesNothing is what the in-process bus cannot do: a process
// dies with jobs queued, one retrying, one in flight and one dead letter;
// the next process delivers all of them and can still redrive the dead one.
func TestRestartLosesNothing(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			url := storetest.URL(t, engine)
			db1 := openProcess(t, url)
			b1 := newBus(t, db1)
			stuck := make(chan struct{})
			t.Cleanup(func() { close(stuck); _ = b1.Close() })

			ids := map[string]string{}
			for _, p := range []string{"poison", "retry", "held"} {
				ids[p] = enqueue(t, b1, "q", p)
			}
			heldGot := make(chan struct{}, 1)
			opts := bus.ConsumeOptions{Concurrency: 3, Visibility: 500 * time.Millisecond,
				Backoff: func(int) time.Duration { return time.Second }}
			kill := consume(t, b1, opts, func(_ context.Context, j bus.Job) error {
				switch string(j.Payload) {
				case "poison":
					return bus.Permanent(errors.New("cannot decode"))
				case "retry":
					return errors.New("try later")
				default:
					heldGot <- struct{}{}
					<-stuck // the process dies during this handler
					return nil
				}
			})
			<-heldGot
			waitFor(t, "one dead, one delayed, one in flight", func() bool {
				return stats(t, b1, "q") == bus.QueueStats{Delayed: 1, InFlight: 1, Dead: 1}
			})
			kill()
			ids["queued1"] = enqueue(t, b1, "q", "queued1")
			ids["queued2"] = enqueue(t, b1, "q", "queued2")

			// The next process.
			db2 := openProcess(t, url)
			b2 := newBus(t, db2)
			t.Cleanup(func() { _ = b2.Close() })
			dead, err := b2.DeadLetters(t.Context(), "q", 0)
			if err != nil || len(dead) != 1 {
				t.Fatalf("DeadLetters after restart = %v, %v; want the poison job", dead, err)
			}
			if d := dead[0]; d.ID != ids["poison"] || string(d.Payload) != "poison" || d.Headers["p"] != "poison" ||
				d.Error != "cannot decode" || d.Attempt != 1 {
				t.Errorf("dead letter after restart = %+v", d)
			}

			var mu sync.Mutex
			got := map[string][]int{} // payload -> attempts delivered
			consume(t, b2, opts, func(_ context.Context, j bus.Job) error {
				mu.Lock()
				defer mu.Unlock()
				if j.ID != ids[string(j.Payload)] || j.Headers["p"] != string(j.Payload) {
					t.Errorf("job %s: payload %q headers %v, want the enqueued ones", j.ID, j.Payload, j.Headers)
				}
				got[string(j.Payload)] = append(got[string(j.Payload)], j.Attempt)
				return nil
			})
			want := map[string][]int{"retry": {2}, "held": {2}, "queued1": {1}, "queued2": {1}}
			delivered := func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(got) == len(want)
			}
			waitFor(t, "every job delivered by the new process", delivered)
			if n, err := b2.Redrive(t.Context(), "q"); err != nil || n != 1 {
				t.Fatalf("Redrive = %d, %v; want 1", n, err)
			}
			want["poison"] = []int{1}
			waitFor(t, "the redriven job delivered", delivered)
			waitFor(t, "the queue empty", func() bool { return stats(t, b2, "q") == bus.QueueStats{} })
			mu.Lock()
			for p, attempts := range want {
				if !slices.Equal(got[p], attempts) {
					t.Errorf("%s delivered with attempts %v, want %v", p, got[p], attempts)
				}
			}
			mu.Unlock()
			if n := rows(t, db2); n != 0 {
				t.Errorf("%d job rows left, want 0", n)
			}
		})
	}
}

// TestAcknowledgedJobsLeaveNoRows: the table holds only live jobs and dead
// letters, so it does not grow with the work done.
func TestAcknowledgedJobsLeaveNoRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := newBus(t, db)
		t.Cleanup(func() { _ = b.Close() })
		for i := range 30 {
			enqueue(t, b, "q", fmt.Sprint(i))
		}
		var mu sync.Mutex
		n := 0
		consume(t, b, bus.ConsumeOptions{Concurrency: 3}, func(context.Context, bus.Job) error {
			mu.Lock()
			n++
			mu.Unlock()
			return nil
		})
		waitFor(t, "30 jobs handled and deleted", func() bool {
			mu.Lock()
			handled := n
			mu.Unlock()
			return handled == 30 && rows(t, db) == 0
		})
	})
}

// TestEnqueueTx: a job enqueued in a transaction exists only if it commits.
func TestEnqueueTx(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		b := newBus(t, db)
		t.Cleanup(func() { _ = b.Close() })
		ctx := t.Context()
		rollback := errors.New("roll back")
		err := db.Tx(ctx, func(tx *store.Tx) error {
			if _, err := b.EnqueueTx(ctx, tx, "q", []byte("lost"), nil); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("Tx = %v", err)
		}
		var id string
		err = db.Tx(ctx, func(tx *store.Tx) error {
			var err error
			id, err = b.EnqueueTx(ctx, tx, "q", []byte("kept"), nil)
			return err
		})
		if err != nil {
			t.Fatalf("Tx: %v", err)
		}
		got := make(chan bus.Job, 2)
		consume(t, b, bus.ConsumeOptions{}, func(_ context.Context, j bus.Job) error { got <- j; return nil })
		select {
		case j := <-got:
			if j.ID != id || string(j.Payload) != "kept" {
				t.Errorf("delivered %s %q, want %s kept", j.ID, j.Payload, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("committed job not delivered")
		}
		waitFor(t, "the queue empty", func() bool { return stats(t, b, "q") == bus.QueueStats{} })
		if n := rows(t, db); n != 0 {
			t.Errorf("%d job rows left, want 0 (the rolled back job must not exist)", n)
		}
	})
}
