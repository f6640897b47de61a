package bus

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus/internal/fanout"
)

// Memory is the in-process Bus for the embedded single-process setup: no
// external service to run, at the price that jobs live only as long as the
// process. It keeps the same delivery contract as redisbus (including
// visibility-timeout redelivery of jobs abandoned by a cancelled consumer) so
// code tested against it behaves the same in production.
type Memory struct {
	hub    *fanout.Hub
	ctx    context.Context // cancelled by Close; stops consumers
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	queues map[string]*memQueue
	lease  uint64         // last lease handed out; guarded by mu
	wg     sync.WaitGroup // running Consume calls
}

var _ Bus = (*Memory)(nil)

type memQueue struct {
	ready    []*memJob
	delayed  map[*memJob]struct{}
	inflight map[*memJob]struct{}
	dead     []*memJob
	wake     chan struct{} // closed (and replaced) whenever ready grows
}

type memJob struct {
	id       string
	queue    string
	payload  []byte
	headers  map[string]string
	attempts int    // deliveries so far
	err      string // last handler error, for dead letters
	readyAt  time.Time
	lease    uint64      // identifies the current delivery or backoff; stale settlements are ignored
	timer    *time.Timer // backoff or abandonment timer
}

// NewMemory returns an empty in-process bus.
func NewMemory() *Memory {
	ctx, cancel := context.WithCancel(context.Background())
	return &Memory{
		hub:    fanout.New(),
		ctx:    ctx,
		cancel: cancel,
		queues: map[string]*memQueue{},
	}
}

// Publish implements Bus.
func (m *Memory) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	m.hub.Deliver(topic, payload)
	return nil
}

// Subscribe implements Bus.
func (m *Memory) Subscribe(ctx context.Context, topic string, fn func(Message)) (func(), error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	s, _ := m.hub.Add(topic, func(topic string, payload []byte) { fn(Message{Topic: topic, Payload: payload}) })
	if s == nil {
		return nil, ErrClosed
	}
	remove := func() { m.hub.Remove(s) }
	stop := context.AfterFunc(ctx, remove)
	return func() {
		stop()
		remove()
	}, nil
}

// Enqueue implements Bus.
func (m *Memory) Enqueue(ctx context.Context, queue string, payload []byte, headers map[string]string) (string, error) {
	if queue == "" {
		return "", errEmptyQueue
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	j := &memJob{
		id:      rand.Text(),
		queue:   queue,
		payload: clonePayload(payload),
		headers: maps.Clone(headers),
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return "", ErrClosed
	}
	m.queueLocked(queue).push(j)
	return j.id, nil
}

// Consume implements Bus. It runs opts.Concurrency handlers and returns once
// ctx has ended and they have returned (nil), or when the bus is closed
// (ErrClosed).
func (m *Memory) Consume(ctx context.Context, queue string, opts ConsumeOptions, h Handler) error {
	if queue == "" {
		return errEmptyQueue
	}
	opts = opts.WithDefaults()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	q := m.queueLocked(queue)
	m.wg.Add(1)
	m.mu.Unlock()
	defer m.wg.Done()

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(m.ctx, cancel)()

	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Go(func() { m.work(cctx, q, opts, h) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return ErrClosed
}

func (m *Memory) work(ctx context.Context, q *memQueue, opts ConsumeOptions, h Handler) {
	for {
		j, lease, job, ok := m.take(ctx, q)
		if !ok {
			return
		}
		// A consumer whose context ends while its handler still runs is treated
		// like a crashed process: unless the handler settles the job first,
		// the job is redelivered after Visibility.
		stop := context.AfterFunc(ctx, func() { m.abandon(q, j, lease, opts) })
		err := SafeCall(ctx, h, job)
		stop()
		var delay time.Duration
		if err != nil && !IsPermanent(err) && ctx.Err() == nil && job.Attempt < opts.MaxAttempts {
			delay = opts.Backoff(job.Attempt)
		}
		m.settle(q, j, lease, err, ctx.Err() != nil, opts, delay)
	}
}

func (m *Memory) take(ctx context.Context, q *memQueue) (*memJob, uint64, Job, bool) {
	for {
		if ctx.Err() != nil {
			return nil, 0, Job{}, false
		}
		m.mu.Lock()
		if len(q.ready) > 0 && !m.closed {
			j := q.ready[0]
			q.ready[0] = nil
			q.ready = q.ready[1:]
			j.attempts++
			j.lease = m.nextLease()
			q.inflight[j] = struct{}{}
			job := j.snapshot()
			lease := j.lease
			m.mu.Unlock()
			return j, lease, job, true
		}
		wake := q.wake
		m.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
		}
	}
}

func (m *Memory) abandon(q *memQueue, j *memJob, lease uint64, opts ConsumeOptions) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || j.lease != lease {
		return
	}
	if _, ok := q.inflight[j]; !ok {
		return
	}
	j.timer = time.AfterFunc(opts.Visibility, func() { m.expire(q, j, lease, opts) })
}

func (m *Memory) expire(q *memQueue, j *memJob, lease uint64, opts ConsumeOptions) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || j.lease != lease {
		return
	}
	if _, ok := q.inflight[j]; !ok {
		return
	}
	delete(q.inflight, j)
	j.timer = nil
	j.lease = m.nextLease()
	if j.attempts >= opts.MaxAttempts {
		j.err = fmt.Sprintf("bus: not acknowledged within visibility timeout %s", opts.Visibility)
		q.dead = append(q.dead, j)
		return
	}
	q.push(j)
}

// settle records a handler's outcome unless the delivery went stale (its
// visibility timeout already expired and the job was redelivered).
func (m *Memory) settle(q *memQueue, j *memJob, lease uint64, err error, stopping bool, opts ConsumeOptions, delay time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || j.lease != lease {
		return
	}
	if _, ok := q.inflight[j]; !ok {
		return
	}
	delete(q.inflight, j)
	if j.timer != nil {
		j.timer.Stop()
		j.timer = nil
	}
	j.lease = m.nextLease()
	switch {
	case err == nil:
		// acknowledged
	case IsPermanent(err) || (!stopping && j.attempts >= opts.MaxAttempts):
		j.err = err.Error()
		q.dead = append(q.dead, j)
	case stopping:
		// The consumer is shutting down and its handler gave up: hand the
		// job back at once and do not count the interrupted delivery.
		j.attempts--
		q.push(j)
	default:
		q.delayed[j] = struct{}{}
		lease := j.lease
		j.timer = time.AfterFunc(delay, func() { m.promote(q, j, lease) })
	}
}

func (m *Memory) promote(q *memQueue, j *memJob, lease uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || j.lease != lease {
		return
	}
	if _, ok := q.delayed[j]; !ok {
		return
	}
	delete(q.delayed, j)
	j.timer = nil
	q.push(j)
}

// DeadLetters implements Bus: oldest first, at most limit (100 if limit <= 0).
func (m *Memory) DeadLetters(ctx context.Context, queue string, limit int) ([]Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	q := m.queues[queue]
	if q == nil {
		return nil, nil
	}
	out := make([]Job, 0, min(limit, len(q.dead)))
	for _, j := range q.dead[:min(limit, len(q.dead))] {
		out = append(out, j.snapshot())
	}
	return out, nil
}

// Redrive implements Bus. Redriven jobs get a fresh attempt budget.
func (m *Memory) Redrive(ctx context.Context, queue string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	q := m.queues[queue]
	if q == nil {
		return 0, nil
	}
	n := len(q.dead)
	for _, j := range q.dead {
		j.attempts = 0
		j.err = ""
		q.push(j)
	}
	q.dead = nil
	return n, nil
}

// Stats implements Bus.
func (m *Memory) Stats(ctx context.Context, queue string) (QueueStats, error) {
	if err := ctx.Err(); err != nil {
		return QueueStats{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return QueueStats{}, ErrClosed
	}
	q := m.queues[queue]
	if q == nil {
		return QueueStats{}, nil
	}
	st := QueueStats{
		Ready:    int64(len(q.ready)),
		Delayed:  int64(len(q.delayed)),
		InFlight: int64(len(q.inflight)),
		Dead:     int64(len(q.dead)),
	}
	if len(q.ready) > 0 {
		st.OldestWait = time.Since(q.ready[0].readyAt)
	}
	return st, nil
}

// Ping implements Bus.
func (m *Memory) Ping(ctx context.Context) error { return m.check(ctx) }

// Close stops consumers (waiting for running handlers to return) and
// subscribers, and drops all jobs. Later calls return ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.closed = true
	for _, q := range m.queues {
		for _, j := range q.ready {
			j.stopTimer()
		}
		for j := range q.delayed {
			j.stopTimer()
		}
		for j := range q.inflight {
			j.stopTimer()
		}
	}
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	m.hub.Close()
	return nil
}

func (m *Memory) check(ctx context.Context) error {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return ctx.Err()
}

func (m *Memory) queueLocked(name string) *memQueue {
	q := m.queues[name]
	if q == nil {
		q = &memQueue{
			delayed:  map[*memJob]struct{}{},
			inflight: map[*memJob]struct{}{},
			wake:     make(chan struct{}),
		}
		m.queues[name] = q
	}
	return q
}

func (m *Memory) nextLease() uint64 {
	m.lease++
	return m.lease
}

func (q *memQueue) push(j *memJob) {
	j.readyAt = time.Now()
	q.ready = append(q.ready, j)
	close(q.wake)
	q.wake = make(chan struct{})
}

func (j *memJob) snapshot() Job {
	return Job{
		ID:      j.id,
		Queue:   j.queue,
		Payload: clonePayload(j.payload),
		Headers: maps.Clone(j.headers),
		Attempt: j.attempts,
		Error:   j.err,
	}
}

func (j *memJob) stopTimer() {
	if j.timer != nil {
		j.timer.Stop()
		j.timer = nil
	}
}

var errEmptyQueue = errors.New("bus: empty queue name")

func clonePayload(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return append([]byte{}, p...)
}

// SafeCall runs h on job, turning a panic into the handler's error, so that
// a bad job is retried and dead-lettered like any failure instead of taking
// the process down. Every bus calls handlers through it.
func SafeCall(ctx context.Context, h Handler, job Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bus: handler panicked: %v", r)
		}
	}()
	return h(ctx, job)
}
