// Package outbox relays jobs that services wrote in their own transactions
// (store.Tx.Enqueue) to the bus. A row is marked published only after the bus
// accepted it, so a crash or a Redis outage between commit and publish delays
// a job but never loses it; a crash after publishing and before marking
// publishes it again, which at-least-once consumers tolerate.
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// Options tunes a Relay; zero values take the defaults.
type Options struct {
	Interval  time.Duration // between polls when idle; default 100ms
	Batch     int           // rows per transaction; default 100
	Retention time.Duration // how long published rows are kept; default 24h
	Logger    *slog.Logger
}

// Relay moves outbox rows to the bus.
type Relay struct {
	db   *store.DB
	bus  bus.Bus
	txq  txEnqueuer // the bus, when it keeps its jobs in db (dbbus)
	opts Options
	wake chan struct{}
}

// txEnqueuer is a bus that enqueues in the relay's own transaction: the
// move from outbox to queue is then atomic, and on SQLite it must be, since
// that transaction holds the only writer connection.
type txEnqueuer interface {
	EnqueueTx(ctx context.Context, tx *store.Tx, queue string, payload []byte, headers map[string]string) (string, error)
	Wake(queue string) // after the commit: consumers need not wait for their next poll
}

// NewRelay returns a Relay; Run starts it.
func NewRelay(db *store.DB, b bus.Bus, o Options) *Relay {
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Retention <= 0 {
		o.Retention = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Relay{db: db, bus: b, opts: o, wake: make(chan struct{}, 1)}
	for x := b; x != nil; {
		if t, ok := x.(txEnqueuer); ok {
			r.txq = t
			break
		}
		u, ok := x.(interface{ Unwrap() bus.Bus })
		if !ok {
			break
		}
		x = u.Unwrap()
	}
	return r
}

// Wake asks the relay to poll now instead of at the next interval.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx ends. Failures are logged and retried with backoff.
func (r *Relay) Run(ctx context.Context) error {
	lastPurge := time.Time{}
	failures := 0
	for {
		n, err := r.RelayOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := r.opts.Interval
		switch {
		case err != nil:
			failures++
			metrics.OutboxFailures.Inc()
			wait = min(r.opts.Interval*time.Duration(1<<min(failures, 6)), 10*time.Second)
			r.opts.Logger.Warn("outbox relay failed; jobs stay in the outbox and will be retried", "err", err, "retry_in", wait)
		case n == r.opts.Batch:
			failures = 0
			continue // more waiting
		default:
			failures = 0
		}
		if time.Since(lastPurge) > 10*time.Minute {
			if _, err := r.Purge(ctx); err != nil && ctx.Err() == nil {
				r.opts.Logger.Warn("outbox purge failed", "err", err)
			}
			lastPurge = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-time.After(wait):
		}
	}
}

// pendingForUpdate lets several relays on PostgreSQL share the outbox
// without waiting on each other; SQLite has a single writer anyway.
const pendingForUpdate = `SELECT id, queue, payload, headers FROM outbox
WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`

// RelayOnce publishes up to one batch and returns how many rows it published.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	published := 0
	enqueued := map[string]int{} // by queue, through txq: counted and woken once committed
	err := r.db.Tx(ctx, func(tx *store.Tx) error {
		published = 0
		clear(enqueued)
		rows, err := r.pending(ctx, tx)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		now := tx.Now()
		for _, row := range rows {
			var headers map[string]string
			if err := json.Unmarshal([]byte(row.Headers), &headers); err != nil {
				headers = nil // a malformed header set must not block the job
			}
			var err error
			if r.txq != nil {
				if _, err = r.txq.EnqueueTx(ctx, tx, row.Queue, []byte(row.Payload), headers); err == nil {
					enqueued[row.Queue]++
				}
			} else {
				_, err = r.bus.Enqueue(ctx, row.Queue, []byte(row.Payload), headers)
			}
			if err != nil {
				if published > 0 {
					return nil // commit what went out; the rest waits
				}
				return fmt.Errorf("publish outbox row %d: %w", row.ID, err)
			}
			if err := tx.MarkOutboxPublished(ctx, sqldb.MarkOutboxPublishedParams{PublishedAt: sqlNullTime(now), ID: row.ID}); err != nil {
				return fmt.Errorf("mark outbox row %d: %w", row.ID, err)
			}
			published++
		}
		return nil
	})
	if err == nil {
		metrics.OutboxRelayed.Add(float64(published))
		for q, n := range enqueued {
			metrics.JobsEnqueued.WithLabelValues(q).Add(float64(n)) // the bus's metrics decorator was bypassed
			r.txq.Wake(q)
		}
	}
	return published, err
}

func (r *Relay) pending(ctx context.Context, tx *store.Tx) ([]sqldb.Outbox, error) {
	if r.db.Dialect != store.Postgres {
		return tx.PendingOutbox(ctx, int32(r.opts.Batch))
	}
	rows, err := tx.SQL().QueryContext(ctx, pendingForUpdate, r.opts.Batch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sqldb.Outbox
	for rows.Next() {
		var o sqldb.Outbox
		if err := rows.Scan(&o.ID, &o.Queue, &o.Payload, &o.Headers); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Purge deletes rows published longer ago than the retention.
func (r *Relay) Purge(ctx context.Context) (int64, error) {
	var n int64
	err := r.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.PurgeOutbox(ctx, sqlNullTime(tx.Now().Add(-r.opts.Retention)))
		return err
	})
	return n, err
}

// Backlog is the outbox's unpublished rows: how many and how old the oldest.
type Backlog struct {
	Pending int64
	Oldest  time.Duration
}

// Lag reads the outbox's lag, for readiness and metrics.
func Lag(ctx context.Context, db *store.DB) (Backlog, error) {
	q := db.Q()
	n, err := q.OutboxPendingCount(ctx)
	if err != nil {
		return Backlog{}, err
	}
	b := Backlog{Pending: n}
	if n > 0 {
		oldest, err := q.OldestPendingOutbox(ctx)
		if err != nil && !store.IsNoRows(err) {
			return Backlog{}, err
		}
		if err == nil {
			b.Oldest = max(time.Since(oldest), 0)
		}
	}
	return b, nil
}

func sqlNullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: true} }
