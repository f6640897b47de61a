// Package redisbus is the production bus.Bus on Redis, so that several
// processes share config-cache invalidations and one set of durable job
// queues. Jobs live in Redis Streams (one consumer group per queue) because
// streams give acknowledgement and crash recovery (pending entries, XAUTOCLAIM)
// without a separate lease store; retries wait in a sorted set scored by due
// time, and failed jobs end in a dead-letter stream. Needs Redis >= 7.
package redisbus

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/bus/internal/fanout"
	"github.com/smarterdev/smarterdev/internal/bus/internal/pump"
)

// Options configures a Bus.
type Options struct {
	// Prefix starts every key and channel name, so that several deployments
	// can share one Redis; default "smarterdev".
	Prefix string
	// Logger receives errors the bus recovers from; default slog.Default().
	Logger *slog.Logger
	// Block bounds one blocking read of a consumer, and so how long Consume
	// takes to return after its ctx ends; default 1s.
	Block time.Duration
}

const (
	group       = "workers"
	batch       = 100
	maxPoll     = time.Second      // longest sleep of the retry promoter
	opTimeout   = 10 * time.Second // for settling after the consumer's ctx ended
	subWaitCap  = 5 * time.Second  // longest wait for a SUBSCRIBE confirmation
	maxErrDelay = 5 * time.Second
)

// Bus is a bus.Bus on Redis. The client stays owned by the caller: Close does
// not close it.
type Bus struct {
	client redis.UniversalClient
	prefix string
	block  time.Duration
	log    *slog.Logger
	name   string // consumer name stem: host-pid-random
	seq    atomic.Uint64
	groups sync.Map // stream key -> struct{}: group known to exist

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // running Consume calls

	// Pub/sub: one Redis connection per Bus, fanned out to local subscribers.
	psMu       sync.Mutex
	ps         *redis.PubSub
	psClosed   bool
	readerDone chan struct{}
	topics     map[string]*topic // by channel
	pendingSub map[string]int    // SUBSCRIBEs sent but not yet confirmed, by channel
	hub        *fanout.Hub
}

type topic struct {
	refs      int
	ready     chan struct{} // closed once Redis confirmed the subscription
	confirmed bool
}

var _ bus.Bus = (*Bus)(nil)

// New returns a Bus on client.
func New(client redis.UniversalClient, opts Options) *Bus {
	if opts.Prefix == "" {
		opts.Prefix = "smarterdev"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Block <= 0 {
		opts.Block = time.Second
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown"
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Bus{
		client:     client,
		prefix:     opts.Prefix,
		block:      opts.Block,
		log:        opts.Logger.With("component", "redisbus"),
		name:       fmt.Sprintf("%s-%d-%s", host, os.Getpid(), strings.ToLower(rand.Text()[:8])),
		ctx:        ctx,
		cancel:     cancel,
		topics:     map[string]*topic{},
		pendingSub: map[string]int{},
		hub:        fanout.New(),
	}
}

// ---- pub/sub ----

func (b *Bus) channel(topic string) string { return b.prefix + ":topic:" + topic }

// Publish implements bus.Bus.
func (b *Bus) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	return b.client.Publish(ctx, b.channel(topic), payload).Err()
}

// Subscribe implements bus.Bus. It returns once Redis has confirmed the
// subscription, so a message published afterwards is delivered.
func (b *Bus) Subscribe(ctx context.Context, name string, fn func(bus.Message)) (func(), error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	ch := b.channel(name)
	b.psMu.Lock()
	if b.psClosed {
		b.psMu.Unlock()
		return nil, bus.ErrClosed
	}
	if b.ps == nil {
		b.ps = b.client.Subscribe(b.ctx)
		b.readerDone = make(chan struct{})
		go b.read(b.ps.ChannelWithSubscriptions(redis.WithChannelSize(1000)), b.readerDone)
	}
	tp := b.topics[ch]
	if tp == nil {
		tp = &topic{ready: make(chan struct{})}
		b.pendingSub[ch]++
		if err := b.ps.Subscribe(ctx, ch); err != nil {
			b.pendingSub[ch]--
			b.psMu.Unlock()
			return nil, err
		}
		b.topics[ch] = tp
	}
	s, _ := b.hub.Add(name, func(topic string, payload []byte) {
		fn(bus.Message{Topic: topic, Payload: payload})
	})
	if s == nil {
		b.psMu.Unlock()
		return nil, bus.ErrClosed
	}
	tp.refs++
	ready := tp.ready
	b.psMu.Unlock()

	remove := func() { b.unsubscribe(ch, s) }
	timer := time.NewTimer(subWaitCap)
	defer timer.Stop()
	select {
	case <-ready:
	case <-ctx.Done():
		remove()
		return nil, ctx.Err()
	case <-b.ctx.Done():
		remove()
		return nil, bus.ErrClosed
	case <-timer.C:
		// Best effort: go-redis keeps the channel subscribed across
		// reconnects, so the subscription will take effect.
		b.log.Warn("no confirmation of SUBSCRIBE", "channel", ch, "waited", subWaitCap)
		b.psMu.Lock()
		delete(b.pendingSub, ch)
		b.confirmLocked(ch)
		b.psMu.Unlock()
	}
	stop := context.AfterFunc(ctx, remove)
	return func() {
		stop()
		remove()
	}, nil
}

func (b *Bus) unsubscribe(ch string, s *fanout.Sub) {
	b.psMu.Lock()
	defer b.psMu.Unlock()
	if _, removed := b.hub.Remove(s); !removed {
		return
	}
	tp := b.topics[ch]
	if tp == nil {
		return
	}
	if tp.refs--; tp.refs > 0 {
		return
	}
	delete(b.topics, ch)
	if b.ps == nil || b.psClosed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := b.ps.Unsubscribe(ctx, ch); err != nil {
		b.log.Warn("unsubscribe", "channel", ch, "err", err)
	}
}

func (b *Bus) read(msgs <-chan any, done chan struct{}) {
	defer close(done)
	for m := range msgs {
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			b.psMu.Lock()
			// Confirmations of resubscriptions after a reconnect find no
			// pending count and change nothing.
			if b.pendingSub[m.Channel] > 0 {
				if b.pendingSub[m.Channel]--; b.pendingSub[m.Channel] == 0 {
					delete(b.pendingSub, m.Channel)
					b.confirmLocked(m.Channel)
				}
			}
			b.psMu.Unlock()
		case *redis.Message:
			if name, ok := strings.CutPrefix(m.Channel, b.prefix+":topic:"); ok {
				b.hub.Deliver(name, []byte(m.Payload))
			}
		}
	}
}

func (b *Bus) confirmLocked(ch string) {
	if tp := b.topics[ch]; tp != nil && !tp.confirmed {
		tp.confirmed = true
		close(tp.ready)
	}
}

// ---- jobs ----

type keys struct {
	queue, stream, retry, dead string
}

func (b *Bus) keys(queue string) keys {
	// The hash tag keeps a queue's keys in one cluster slot, as the scripts need.
	base := b.prefix + ":{" + queue + "}"
	return keys{queue: queue, stream: base + ":jobs", retry: base + ":retry", dead: base + ":dead"}
}

func (b *Bus) ensureGroup(ctx context.Context, k keys) error {
	if _, ok := b.groups.Load(k.stream); ok {
		return nil
	}
	err := b.client.XGroupCreateMkStream(ctx, k.stream, group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("redisbus: create consumer group: %w", err)
	}
	b.groups.Store(k.stream, struct{}{})
	return nil
}

// Enqueue implements bus.Bus.
func (b *Bus) Enqueue(ctx context.Context, queue string, payload []byte, headers map[string]string) (string, error) {
	if queue == "" {
		return "", errEmptyQueue
	}
	if err := b.check(ctx); err != nil {
		return "", err
	}
	k := b.keys(queue)
	if err := b.ensureGroup(ctx, k); err != nil {
		return "", err
	}
	e := entry{id: rand.Text(), attempt: 1, payload: string(payload)}
	if len(headers) > 0 {
		h, err := json.Marshal(headers)
		if err != nil {
			return "", fmt.Errorf("redisbus: encode headers: %w", err)
		}
		e.headers, e.hasHeaders = string(h), true
	}
	if err := b.client.XAdd(ctx, &redis.XAddArgs{Stream: k.stream, Values: e.fields()}).Err(); err != nil {
		return "", fmt.Errorf("redisbus: enqueue: %w", err)
	}
	return e.id, nil
}

// Consume implements bus.Bus. It returns once ctx has ended and the running
// handlers have returned (nil), or when the bus is closed (bus.ErrClosed).
// Transient Redis errors are logged and retried, not returned.
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

	c := &consumer{
		b:        b,
		k:        b.keys(queue),
		opts:     opts.WithDefaults(),
		h:        h,
		name:     fmt.Sprintf("%s-%d", b.name, b.seq.Add(1)),
		log:      b.log.With("queue", queue),
		inflight: map[string]struct{}{},
		kick:     make(chan struct{}, 1),
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
	msgs, err := b.client.XRangeN(ctx, b.keys(queue).dead, "-", "+", int64(limit)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisbus: dead letters: %w", err)
	}
	jobs := make([]bus.Job, 0, len(msgs))
	for _, m := range msgs {
		e, err := parseEntry(m)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, e.job(queue))
	}
	return jobs, nil
}

// Redrive implements bus.Bus. Redriven jobs get a fresh attempt budget.
func (b *Bus) Redrive(ctx context.Context, queue string) (int, error) {
	if err := b.check(ctx); err != nil {
		return 0, err
	}
	k := b.keys(queue)
	if err := b.ensureGroup(ctx, k); err != nil {
		return 0, err
	}
	total := 0
	for {
		n, err := redriveScript.Run(ctx, b.client, []string{k.dead, k.stream}, batch).Int()
		total += n
		if err != nil {
			return total, fmt.Errorf("redisbus: redrive: %w", err)
		}
		if n < batch {
			return total, nil
		}
	}
}

// Stats implements bus.Bus.
func (b *Bus) Stats(ctx context.Context, queue string) (bus.QueueStats, error) {
	if err := b.check(ctx); err != nil {
		return bus.QueueStats{}, err
	}
	k := b.keys(queue)
	v, err := statsScript.Run(ctx, b.client, []string{k.stream, k.retry, k.dead}, group).Int64Slice()
	if err != nil {
		return bus.QueueStats{}, fmt.Errorf("redisbus: stats: %w", err)
	}
	if len(v) != 5 {
		return bus.QueueStats{}, fmt.Errorf("redisbus: stats: unexpected reply %v", v)
	}
	st := bus.QueueStats{Ready: v[0], Delayed: v[1], InFlight: v[2], Dead: v[3]}
	if v[4] > 0 {
		st.OldestWait = time.Duration(v[4]) * time.Millisecond
	}
	return st, nil
}

// Ping implements bus.Bus.
func (b *Bus) Ping(ctx context.Context) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	return b.client.Ping(ctx).Err()
}

// Close stops consumers (waiting for their running handlers to return) and
// subscribers. It leaves the client open.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()

	b.psMu.Lock()
	b.psClosed = true
	ps, done := b.ps, b.readerDone
	b.psMu.Unlock()
	var err error
	if ps != nil {
		err = ps.Close()
		<-done
	}
	b.hub.Close()
	b.wg.Wait()
	return err
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

var errEmptyQueue = errors.New("redisbus: empty queue name")

// ---- consumer ----

type consumer struct {
	b    *Bus
	k    keys
	opts bus.ConsumeOptions
	h    bus.Handler
	name string
	log  *slog.Logger
	kick chan struct{} // wakes the retry promoter

	mu       sync.Mutex
	inflight map[string]struct{} // stream entry ids being handled
}

func (c *consumer) run(ctx context.Context) {
	var helpers sync.WaitGroup
	helpers.Go(func() { c.promoteLoop(ctx) })
	helpers.Go(func() { c.reclaimLoop(ctx) })
	helpers.Go(func() { c.heartbeatLoop(ctx) })
	c.fetchLoop(ctx)
	helpers.Wait()

	// Leave no idle consumer behind in the group (one is created per Consume).
	sctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := dropConsumerScript.Run(sctx, c.b.client, []string{c.k.stream}, group, c.name).Err(); err != nil && !isNoGroup(err) {
		c.log.Warn("remove consumer from group", "consumer", c.name, "err", err)
	}
}

func (c *consumer) fetchLoop(ctx context.Context) {
	// XREADGROUP blocks for new entries itself: no wait when it comes back short.
	pump.Loop(ctx, c.opts.Concurrency, maxErrDelay, c.log, "read jobs",
		func(n int) ([]redis.XMessage, error) { return c.read(ctx, n) },
		func(m redis.XMessage) { c.handle(ctx, m) }, nil)
}

func (c *consumer) read(ctx context.Context, n int) ([]redis.XMessage, error) {
	if err := c.b.ensureGroup(ctx, c.k); err != nil {
		return nil, err
	}
	// Not cancellable mid-call (go-redis ignores cancellation there); Block
	// bounds it instead. Entries that arrive after ctx ended are handed back
	// by handle without running.
	res, err := c.b.client.XReadGroup(context.WithoutCancel(ctx), &redis.XReadGroupArgs{
		Group:    group,
		Consumer: c.name,
		Streams:  []string{c.k.stream, ">"},
		Count:    int64(n),
		Block:    c.b.block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if isNoGroup(err) { // the stream was deleted; recreate it next time
			c.b.groups.Delete(c.k.stream)
			return nil, nil
		}
		return nil, err
	}
	var msgs []redis.XMessage
	for _, s := range res {
		msgs = append(msgs, s.Messages...)
	}
	return msgs[:min(len(msgs), n)], nil
}

func (c *consumer) handle(ctx context.Context, m redis.XMessage) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	e, err := parseEntry(m)
	if err != nil {
		c.log.Error("dead-lettering malformed job entry", "entry", m.ID, "err", err)
		fields := rawFields(m.Values, "error", err.Error())
		c.settle(sctx, m.ID, "dead", 0, fields)
		return
	}
	if ctx.Err() != nil {
		c.settle(sctx, m.ID, "ready", 0, e.fields())
		return
	}
	c.track(m.ID, true)
	defer c.track(m.ID, false)

	herr := bus.SafeCall(ctx, c.h, e.job(c.k.queue))
	stopping := ctx.Err() != nil
	switch {
	case herr == nil:
		_, err := c.b.client.TxPipelined(sctx, func(p redis.Pipeliner) error {
			p.XAck(sctx, c.k.stream, group, m.ID)
			p.XDel(sctx, c.k.stream, m.ID)
			return nil
		})
		if err != nil {
			c.log.Error("acknowledge job", "job", e.id, "err", err)
		}
	case bus.IsPermanent(herr) || (!stopping && e.attempt >= c.opts.MaxAttempts):
		e.err, e.hasErr = herr.Error(), true
		c.settle(sctx, m.ID, "dead", 0, e.fields())
	case stopping:
		// Shutting down and the handler gave up: hand the job back at once
		// without counting the interrupted delivery.
		c.settle(sctx, m.ID, "ready", 0, e.fields())
	default:
		delay := max(c.opts.Backoff(e.attempt), 0)
		e.attempt++
		c.settle(sctx, m.ID, "retry", delay.Milliseconds(), e.fields())
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

func (c *consumer) settle(ctx context.Context, entryID, mode string, delayMs int64, fields []any) {
	args := append([]any{group, c.name, entryID, mode, delayMs}, fields...)
	if err := settleScript.Run(ctx, c.b.client, []string{c.k.stream, c.k.retry, c.k.dead}, args...).Err(); err != nil {
		// The entry stays pending and is reclaimed after Visibility.
		c.log.Error("settle job", "entry", entryID, "mode", mode, "err", err)
	}
}

func (c *consumer) track(id string, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.inflight[id] = struct{}{}
	} else {
		delete(c.inflight, id)
	}
}

func (c *consumer) promoteLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-c.kick:
		}
		wait := maxPoll
		next, err := promoteScript.Run(ctx, c.b.client, []string{c.k.retry, c.k.stream}, batch).Int64()
		switch {
		case err != nil:
			if ctx.Err() == nil {
				c.log.Error("promote due retries", "err", err)
			}
		case next >= 0:
			wait = min(wait, time.Duration(next)*time.Millisecond)
		}
		timer.Reset(wait)
	}
}

func (c *consumer) reclaimLoop(ctx context.Context) {
	interval := min(max(c.opts.Visibility/2, 10*time.Millisecond), 30*time.Second)
	msg := fmt.Sprintf("redisbus: not acknowledged within visibility timeout %s", c.opts.Visibility)
	for {
		for {
			n, err := reclaimScript.Run(ctx, c.b.client, []string{c.k.stream, c.k.dead},
				group, c.name, c.opts.Visibility.Milliseconds(), batch, c.opts.MaxAttempts, msg).Int()
			if err != nil {
				if ctx.Err() == nil && !isNoGroup(err) {
					c.log.Error("reclaim abandoned jobs", "err", err)
				}
				break
			}
			if n > 0 {
				c.log.Warn("reclaimed jobs from a consumer that stopped acknowledging", "count", n)
			}
			if n < batch {
				break
			}
		}
		if !pump.Sleep(ctx, interval) {
			return
		}
	}
}

func (c *consumer) heartbeatLoop(ctx context.Context) {
	interval := max(c.opts.Visibility/3, 5*time.Millisecond)
	for pump.Sleep(ctx, interval) {
		c.mu.Lock()
		ids := make([]any, 0, 2+len(c.inflight))
		ids = append(ids, group, c.name)
		for id := range c.inflight {
			ids = append(ids, id)
		}
		c.mu.Unlock()
		if len(ids) == 2 {
			continue
		}
		if err := heartbeatScript.Run(ctx, c.b.client, []string{c.k.stream}, ids...).Err(); err != nil && ctx.Err() == nil {
			c.log.Error("extend visibility of running jobs", "err", err)
		}
	}
}

// ---- entries ----

// entry is a job as stored in a stream entry.
type entry struct {
	id         string
	attempt    int // of the delivery this entry stands for
	payload    string
	headers    string // JSON object
	hasHeaders bool
	err        string
	hasErr     bool
}

func (e entry) fields() []any {
	f := []any{"id", e.id, "attempt", strconv.Itoa(e.attempt), "payload", e.payload}
	if e.hasHeaders {
		f = append(f, "headers", e.headers)
	}
	if e.hasErr {
		f = append(f, "error", e.err)
	}
	return f
}

func (e entry) job(queue string) bus.Job {
	j := bus.Job{ID: e.id, Queue: queue, Payload: []byte(e.payload), Attempt: e.attempt, Error: e.err}
	if e.hasHeaders {
		_ = json.Unmarshal([]byte(e.headers), &j.Headers) // validated by parseEntry
	}
	return j
}

func parseEntry(m redis.XMessage) (entry, error) {
	get := func(k string) (string, bool) {
		s, ok := m.Values[k].(string)
		return s, ok
	}
	var e entry
	var ok bool
	if e.id, ok = get("id"); !ok || e.id == "" {
		return e, fmt.Errorf("redisbus: entry %s has no job id", m.ID)
	}
	a, _ := get("attempt")
	attempt, err := strconv.Atoi(a)
	if err != nil || attempt < 1 {
		return e, fmt.Errorf("redisbus: entry %s has a bad attempt %q", m.ID, a)
	}
	e.attempt = attempt
	e.payload, _ = get("payload")
	if e.headers, e.hasHeaders = get("headers"); e.hasHeaders {
		var h map[string]string
		if err := json.Unmarshal([]byte(e.headers), &h); err != nil {
			return e, fmt.Errorf("redisbus: entry %s has bad headers: %w", m.ID, err)
		}
	}
	e.err, e.hasErr = get("error")
	return e, nil
}

// rawFields flattens an entry's fields (sorted, for determinism) with extra
// fields appended, replacing any of the same name.
func rawFields(values map[string]any, extra ...string) []any {
	skip := map[string]bool{}
	for i := 0; i+1 < len(extra); i += 2 {
		skip[extra[i]] = true
	}
	names := make([]string, 0, len(values))
	for k := range values {
		if !skip[k] {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	f := make([]any, 0, 2*len(names)+len(extra))
	for _, k := range names {
		f = append(f, k, fmt.Sprint(values[k]))
	}
	for _, x := range extra {
		f = append(f, x)
	}
	return f
}

func isNoGroup(err error) bool {
	return err != nil && strings.Contains(err.Error(), "NOGROUP")
}
