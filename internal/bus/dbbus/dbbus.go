// Package dbbus is the bus.Bus for deployments without Redis: jobs live in
// the database (table bus_jobs), so a crash or restart delays them but never
// loses them, as it would with the in-process bus. Several processes on one
// database share the queues. Pub/sub stays in-process: notifications are
// best effort, and without Redis there is one process to notify.
//
// A delivered job holds a lease (a token and an expiry in its row) that its
// consumer extends while the handler runs; a job whose lease expired (its
// consumer crashed) is claimed again like a ready one. Every settlement names
// the lease it ends, so a late one changes nothing.
package dbbus

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/bus/internal/fanout"
	"github.com/smarterdev/smarterdev/internal/bus/internal/pump"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// Options tunes a Bus; zero values take the defaults.
type Options struct {
	// Logger receives errors the bus recovers from; default slog.Default().
	Logger *slog.Logger
	// Poll bounds how long an idle consumer waits before it looks again for
	// jobs that another process (or a transaction, EnqueueTx) added; jobs
	// enqueued through this Bus wake its consumers at once. Default 250ms.
	Poll time.Duration
}

const (
	settleTimeout = 10 * time.Second // for settling after the consumer's ctx ended
	maxErrDelay   = 5 * time.Second
	// minIdle keeps a consumer from spinning when a due job is momentarily
	// out of its reach (claimed by a racing consumer on PostgreSQL).
	minIdle = 10 * time.Millisecond
)

// Bus is a bus.Bus on a store.DB. The database stays owned by the caller:
// Close does not close it.
type Bus struct {
	db   *store.DB
	log  *slog.Logger
	poll time.Duration
	hub  *fanout.Hub

	ctx    context.Context // cancelled by Close; stops consumers
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wakes  map[string]chan struct{} // by queue: closed when its jobs may have become due
	wg     sync.WaitGroup           // running Consume calls
}

var _ bus.Bus = (*Bus)(nil)

// New returns a Bus on db, whose schema must be migrated.
func New(db *store.DB, opts Options) *Bus {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Poll <= 0 {
		opts.Poll = 250 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Bus{
		db:     db,
		log:    opts.Logger.With("component", "dbbus"),
		poll:   opts.Poll,
		hub:    fanout.New(),
		ctx:    ctx,
		cancel: cancel,
		wakes:  map[string]chan struct{}{},
	}
}

// ---- pub/sub ----

// Publish implements bus.Bus.
func (b *Bus) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	b.hub.Deliver(topic, payload)
	return nil
}

// Subscribe implements bus.Bus.
func (b *Bus) Subscribe(ctx context.Context, topic string, fn func(bus.Message)) (func(), error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	s, _ := b.hub.Add(topic, func(topic string, payload []byte) { fn(bus.Message{Topic: topic, Payload: payload}) })
	if s == nil {
		return nil, bus.ErrClosed
	}
	remove := func() { b.hub.Remove(s) }
	stop := context.AfterFunc(ctx, remove)
	return func() {
		stop()
		remove()
	}, nil
}

// ---- jobs ----

// Enqueue implements bus.Bus. The job is committed when it returns.
func (b *Bus) Enqueue(ctx context.Context, queue string, payload []byte, headers map[string]string) (string, error) {
	if queue == "" {
		return "", errEmptyQueue
	}
	if err := b.check(ctx); err != nil {
		return "", err
	}
	var id string
	err := b.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = insert(ctx, tx, queue, payload, headers)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("dbbus: enqueue on %q: %w", queue, err)
	}
	b.wake(queue)
	return id, nil
}

// EnqueueTx enqueues a job in the caller's transaction, so that it exists
// only if tx commits. A caller that holds a transaction while it enqueues
// must use it: on SQLite that transaction holds the only writer connection,
// which Enqueue would wait for. Consumers find the job at their next poll,
// or at once when the caller calls Wake after the commit.
func (b *Bus) EnqueueTx(ctx context.Context, tx *store.Tx, queue string, payload []byte, headers map[string]string) (string, error) {
	if queue == "" {
		return "", errEmptyQueue
	}
	if err := b.check(ctx); err != nil {
		return "", err
	}
	id, err := insert(ctx, tx, queue, payload, headers)
	if err != nil {
		return "", fmt.Errorf("dbbus: enqueue on %q: %w", queue, err)
	}
	return id, nil
}

func insert(ctx context.Context, tx *store.Tx, queue string, payload []byte, headers map[string]string) (string, error) {
	var hdr string
	if len(headers) > 0 {
		h, err := json.Marshal(headers)
		if err != nil {
			return "", fmt.Errorf("encode headers: %w", err)
		}
		hdr = string(h)
	}
	if payload == nil {
		payload = []byte{} // the column is NOT NULL
	}
	id, err := tx.InsertBusJob(ctx, sqldb.InsertBusJobParams{Queue: queue, Payload: payload, Headers: hdr, Now: tx.Now()})
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(id, 10), nil
}

// Consume implements bus.Bus. It returns once ctx has ended and the running
// handlers have returned (nil), or when the bus is closed (bus.ErrClosed).
// Database errors are logged and retried, not returned.
func (b *Bus) Consume(ctx context.Context, queue string, opts bus.ConsumeOptions, h bus.Handler) error {
	if queue == "" {
		return errEmptyQueue
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.wg.Add(1)
	b.mu.Unlock()
	defer b.wg.Done()

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(b.ctx, cancel)()

	opts = opts.WithDefaults()
	c := &consumer{
		b:       b,
		queue:   queue,
		opts:    opts,
		h:       h,
		log:     b.log.With("queue", queue),
		expired: fmt.Sprintf("dbbus: not acknowledged within visibility timeout %s", opts.Visibility),
		running: map[delivery]struct{}{},
	}
	c.run(cctx)
	if ctx.Err() != nil {
		return nil
	}
	return bus.ErrClosed
}

// DeadLetters implements bus.Bus: oldest first, at most limit (100 if limit <= 0).
func (b *Bus) DeadLetters(ctx context.Context, queue string, limit int) ([]bus.Job, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := b.db.Q().BusDeadLetters(ctx, sqldb.BusDeadLettersParams{Queue: queue, MaxJobs: int32(min(limit, 1<<30))})
	if err != nil {
		return nil, fmt.Errorf("dbbus: dead letters of %q: %w", queue, err)
	}
	jobs := make([]bus.Job, 0, len(rows))
	for _, r := range rows {
		j := bus.Job{
			ID:      strconv.FormatInt(r.ID, 10),
			Queue:   r.Queue,
			Payload: payloadOf(r.Payload),
			Attempt: int(r.Attempt),
			Error:   r.LastError,
		}
		// Headers were encoded by insert; a row edited by hand that no
		// longer decodes is still listed, without them.
		j.Headers, _ = decodeHeaders(r.Headers)
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// Redrive implements bus.Bus. Redriven jobs get a fresh attempt budget.
func (b *Bus) Redrive(ctx context.Context, queue string) (int, error) {
	if err := b.check(ctx); err != nil {
		return 0, err
	}
	var n int64
	err := b.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.RedriveBusJobs(ctx, sqldb.RedriveBusJobsParams{Now: tx.Now(), Queue: queue})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("dbbus: redrive %q: %w", queue, err)
	}
	if n > 0 {
		b.wake(queue)
	}
	return int(n), nil
}

// Stats implements bus.Bus. A job whose lease expired counts as in flight
// until a consumer claims it again.
func (b *Bus) Stats(ctx context.Context, queue string) (bus.QueueStats, error) {
	if err := b.check(ctx); err != nil {
		return bus.QueueStats{}, err
	}
	now := time.Now().UTC()
	q := b.db.Q()
	r, err := q.BusQueueStats(ctx, sqldb.BusQueueStatsParams{Now: now, Queue: queue})
	if err != nil {
		return bus.QueueStats{}, fmt.Errorf("dbbus: stats of %q: %w", queue, err)
	}
	st := bus.QueueStats{Ready: r.Ready, Delayed: r.Delayed, InFlight: r.InFlight, Dead: r.Dead}
	if st.Ready > 0 {
		oldest, err := q.OldestReadyBusJob(ctx, sqldb.OldestReadyBusJobParams{Queue: queue, Now: now})
		switch {
		case err == nil:
			st.OldestWait = max(now.Sub(oldest), 0)
		case !errors.Is(err, sql.ErrNoRows): // taken meanwhile: no wait to report
			return bus.QueueStats{}, fmt.Errorf("dbbus: oldest job of %q: %w", queue, err)
		}
	}
	return st, nil
}

// Ping implements bus.Bus.
func (b *Bus) Ping(ctx context.Context) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := b.db.Ping(ctx); err != nil {
		return fmt.Errorf("dbbus: %w", err)
	}
	return nil
}

// Close stops consumers (waiting for their running handlers to return, so
// interrupted jobs are handed back for redelivery) and subscribers. Jobs stay
// in the database. Later calls return bus.ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	b.hub.Close()
	return nil
}

func (b *Bus) check(ctx context.Context) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return bus.ErrClosed
	}
	return ctx.Err()
}

// wakeChan returns the channel that wake closes for queue. Taken before a
// claim, it also catches jobs that arrive between the claim and the wait.
func (b *Bus) wakeChan(queue string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := b.wakes[queue]
	if ch == nil {
		ch = make(chan struct{})
		b.wakes[queue] = ch
	}
	return ch
}

// Wake tells this process's consumers of queue to look for jobs now: for a
// caller of EnqueueTx, once its transaction has committed.
func (b *Bus) Wake(queue string) { b.wake(queue) }

// wake tells this process's consumers of queue to look for jobs now.
func (b *Bus) wake(queue string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch := b.wakes[queue]; ch != nil {
		close(ch)
		delete(b.wakes, queue)
	}
}

var errEmptyQueue = errors.New("dbbus: empty queue name")

// ---- consumer ----

// delivery is one claim of a job: settlements and lease extensions match both.
type delivery struct {
	id    int64
	lease string
}

type consumer struct {
	b       *Bus
	queue   string
	opts    bus.ConsumeOptions
	h       bus.Handler
	log     *slog.Logger
	expired string // dead-letter reason for a lease that ran out on the last attempt

	mu      sync.Mutex
	running map[delivery]struct{} // leases to extend
}

func (c *consumer) run(ctx context.Context) {
	var extender sync.WaitGroup
	extender.Go(func() { c.extendLoop(ctx) })
	c.fetchLoop(ctx)
	extender.Wait()
}

func (c *consumer) fetchLoop(ctx context.Context) {
	type claimed struct {
		row   sqldb.ClaimBusJobsRow
		lease string
	}
	var wake <-chan struct{}
	pump.Loop(ctx, c.opts.Concurrency, maxErrDelay, c.log, "claim jobs",
		func(n int) ([]claimed, error) {
			// Taken before the claim: a job enqueued after it still wakes the wait.
			wake = c.b.wakeChan(c.queue)
			rows, lease, err := c.claim(ctx, n)
			out := make([]claimed, len(rows))
			for i, r := range rows {
				out[i] = claimed{r, lease}
			}
			return out, err
		},
		func(j claimed) { c.handle(ctx, j.row, j.lease) },
		func() bool { return c.idle(ctx, wake) })
}

// claim takes up to n due jobs, first dead-lettering those whose lease ran
// out on their last attempt (their consumer crashed, perhaps because of them).
func (c *consumer) claim(ctx context.Context, n int) ([]sqldb.ClaimBusJobsRow, string, error) {
	lease := rand.Text()
	var jobs []sqldb.ClaimBusJobsRow
	var buried int64
	err := c.b.db.Tx(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		var err error
		buried, err = tx.DeadLetterExpiredBusJobs(ctx, sqldb.DeadLetterExpiredBusJobsParams{
			LastError: c.expired, Now: now, Queue: c.queue, MaxAttempts: int32(min(c.opts.MaxAttempts, 1<<30)),
		})
		if err != nil {
			return fmt.Errorf("dbbus: dead-letter expired jobs: %w", err)
		}
		p := sqldb.ClaimBusJobsParams{Lease: lease, LeaseUntil: now.Add(c.opts.Visibility), Queue: c.queue, Now: now, MaxJobs: int32(n)}
		if c.b.db.Dialect == store.Postgres {
			jobs, err = claimSkipLocked(ctx, tx, p)
		} else {
			jobs, err = tx.ClaimBusJobs(ctx, p)
		}
		if err != nil {
			return fmt.Errorf("dbbus: claim jobs: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if buried > 0 {
		c.log.Warn("dead-lettered jobs whose last delivery was never acknowledged", "count", buried)
	}
	return jobs, lease, nil
}

// claimSkipLockedSQL is ClaimBusJobs with FOR UPDATE SKIP LOCKED, so that
// consumers on PostgreSQL take different jobs instead of queueing on the same
// rows. Same parameters and columns.
const claimSkipLockedSQL = `UPDATE bus_jobs SET state = 'running', attempt = attempt + 1, lease = $1, due_at = $2
WHERE id IN (
    SELECT j.id FROM bus_jobs j
    WHERE j.queue = $3 AND j.state <> 'dead' AND j.due_at <= $4
    ORDER BY j.due_at, j.id LIMIT $5
    FOR UPDATE SKIP LOCKED
) AND state <> 'dead' AND due_at <= $4
RETURNING id, queue, payload, headers, attempt`

func claimSkipLocked(ctx context.Context, tx *store.Tx, p sqldb.ClaimBusJobsParams) ([]sqldb.ClaimBusJobsRow, error) {
	rows, err := tx.SQL().QueryContext(ctx, claimSkipLockedSQL, p.Lease, p.LeaseUntil, p.Queue, p.Now, p.MaxJobs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sqldb.ClaimBusJobsRow
	for rows.Next() {
		var r sqldb.ClaimBusJobsRow
		if err := rows.Scan(&r.ID, &r.Queue, &r.Payload, &r.Headers, &r.Attempt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// idle waits until this process enqueues to the queue or the queue's next
// job is due (a ready job, a retry, an expired lease), looking every Poll for
// jobs from elsewhere; only then does the consumer claim, so an idle one
// only reads. It reports false once ctx has ended.
func (c *consumer) idle(ctx context.Context, wake <-chan struct{}) bool {
	// The first look comes after a pause: the claim that just came back short
	// may have missed a due job only because a racing consumer had it locked.
	t := time.NewTimer(minIdle)
	defer t.Stop()
	for {
		select {
		case <-wake:
			return true
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		wait := c.b.poll
		next, err := c.b.db.Q().NextBusJobDue(ctx, c.queue)
		switch {
		case err == nil:
			d := time.Until(next)
			if d <= 0 {
				return true
			}
			wait = min(wait, d)
		case errors.Is(err, sql.ErrNoRows):
		case ctx.Err() != nil:
			return false
		default:
			return true // the claim will report it and back off
		}
		t.Reset(wait)
	}
}

func (c *consumer) handle(ctx context.Context, r sqldb.ClaimBusJobsRow, lease string) {
	d := delivery{id: r.ID, lease: lease}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	headers, err := decodeHeaders(r.Headers)
	if err != nil {
		c.log.Error("dead-lettering a job with malformed headers", "job", r.ID, "err", err)
		c.bury(sctx, d, err.Error())
		return
	}
	if ctx.Err() != nil {
		// Claimed as the consumer stopped: hand it back untouched.
		c.requeue(sctx, d, 0, true)
		return
	}
	job := bus.Job{
		ID:      strconv.FormatInt(r.ID, 10),
		Queue:   r.Queue,
		Payload: payloadOf(r.Payload),
		Headers: headers,
		Attempt: int(r.Attempt),
	}
	c.track(d, true)
	herr := bus.SafeCall(ctx, c.h, job)
	c.track(d, false)
	stopping := ctx.Err() != nil
	switch {
	case herr == nil:
		err := c.b.db.Tx(sctx, func(tx *store.Tx) error {
			_, err := tx.AckBusJob(sctx, sqldb.AckBusJobParams{ID: d.id, Lease: d.lease})
			return err
		})
		if err != nil {
			// The job stays and is delivered again once its lease expires.
			c.log.Error("acknowledge job", "job", r.ID, "err", err)
		}
	case bus.IsPermanent(herr) || (!stopping && job.Attempt >= c.opts.MaxAttempts):
		c.bury(sctx, d, herr.Error())
	case stopping:
		// Shutting down and the handler gave up: hand the job back at once
		// without counting the interrupted delivery.
		c.requeue(sctx, d, 0, true)
	default:
		c.requeue(sctx, d, max(c.opts.Backoff(job.Attempt), 0), false)
	}
}

// requeue makes a delivered job ready again after delay; uncount takes back
// the attempt that the delivery counted.
func (c *consumer) requeue(ctx context.Context, d delivery, delay time.Duration, uncount bool) {
	var u int32
	if uncount {
		u = 1
	}
	err := c.b.db.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.RequeueBusJob(ctx, sqldb.RequeueBusJobParams{DueAt: tx.Now().Add(delay), Uncount: u, ID: d.id, Lease: d.lease})
		return err
	})
	if err != nil {
		c.log.Error("requeue job", "job", d.id, "err", err)
		return
	}
	// Local consumers (this one included) recompute when to look next.
	c.b.wake(c.queue)
}

func (c *consumer) bury(ctx context.Context, d delivery, reason string) {
	err := c.b.db.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.BuryBusJob(ctx, sqldb.BuryBusJobParams{LastError: reason, Now: tx.Now(), ID: d.id, Lease: d.lease})
		return err
	})
	if err != nil {
		c.log.Error("dead-letter job", "job", d.id, "err", err)
	}
}

func (c *consumer) track(d delivery, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.running[d] = struct{}{}
	} else {
		delete(c.running, d)
	}
}

// extendLoop renews the leases of running handlers, so that a live
// consumer's slow job is not handed to another. It stops with ctx: the
// leases of handlers that outlive their consumer then run out, as a
// crashed process's would.
func (c *consumer) extendLoop(ctx context.Context) {
	interval := max(c.opts.Visibility/3, 5*time.Millisecond)
	for pump.Sleep(ctx, interval) {
		c.mu.Lock()
		ds := make([]delivery, 0, len(c.running))
		for d := range c.running {
			ds = append(ds, d)
		}
		c.mu.Unlock()
		if len(ds) == 0 {
			continue
		}
		err := c.b.db.Tx(ctx, func(tx *store.Tx) error {
			until := tx.Now().Add(c.opts.Visibility)
			for _, d := range ds {
				if _, err := tx.ExtendBusJobLease(ctx, sqldb.ExtendBusJobLeaseParams{LeaseUntil: until, ID: d.id, Lease: d.lease}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			c.log.Error("extend leases of running jobs", "err", err)
		}
	}
}

// ---- helpers ----

func decodeHeaders(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		return nil, fmt.Errorf("dbbus: decode headers: %w", err)
	}
	return h, nil
}

// payloadOf never returns nil, as the other buses deliver an empty payload.
func payloadOf(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}
