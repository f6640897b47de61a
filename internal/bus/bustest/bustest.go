// Package bustest is the conformance suite every bus.Bus implementation must
// pass, so the in-process bus used in development and tests cannot drift from
// the Redis bus used in production.
package bustest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
)

// Options describes the implementation under test.
type Options struct {
	// Shared means that buses returned by newBus within one test share one
	// backend, so a message or job sent through one reaches subscribers and
	// consumers of another (true for Redis). When false (the in-process bus),
	// the cross-instance checks run against a single bus instead.
	Shared bool
	// SharedJobs means that buses returned by newBus within one test share
	// their jobs but not their notifications (the database bus: one table for
	// every process, pub/sub in-process). The job checks then run across two
	// buses and the pub/sub checks against one. Shared implies it.
	SharedJobs bool
}

// Run runs the suite. newBus must return a new, empty bus for the test (for a
// shared backend: a new bus on the same backend as the test's other buses,
// isolated from other tests) and arrange any backend cleanup itself; Run
// closes the buses it gets.
func Run(t *testing.T, newBus func(t *testing.T) bus.Bus, opts Options) {
	s := suite{newBus: newBus, opts: opts}
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"PubSub/FanOutToEverySubscriber", s.pubSubFanOut},
		{"PubSub/Unsubscribe", s.pubSubUnsubscribe},
		{"PubSub/Resubscribe", s.pubSubResubscribe},
		{"Jobs/RoundTrip", s.jobsRoundTrip},
		{"Jobs/AckedNotRedelivered", s.jobsAckedNotRedelivered},
		{"Jobs/RetryWithBackoff", s.jobsRetryWithBackoff},
		{"Jobs/DelayedStats", s.jobsDelayedStats},
		{"Jobs/DeadLetterAndRedrive", s.jobsDeadLetterAndRedrive},
		{"Jobs/Permanent", s.jobsPermanent},
		{"Jobs/CompetingConsumers", s.jobsCompetingConsumers},
		{"Jobs/ConcurrencyAndStats", s.jobsConcurrencyAndStats},
		{"Jobs/CrashedConsumerRedelivered", s.jobsCrashedConsumer},
		{"Jobs/CrashOnLastAttemptDeadLetters", s.jobsCrashOnLastAttempt},
		{"Jobs/LiveSlowHandlerKeepsJob", s.jobsLiveSlowHandler},
		{"Jobs/ShutdownReleasesJob", s.jobsShutdownReleases},
		{"Jobs/ConsumeReturnsOnCancel", s.jobsConsumeReturnsOnCancel},
		{"Jobs/QueuesIsolatedAndOldestWait", s.jobsQueuesIsolated},
		{"Close", s.close},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	newBus func(t *testing.T) bus.Bus
	opts   Options
}

// buses returns two buses on the same backend, or one bus twice where the
// backend is not shared.
func (s suite) buses(t *testing.T) (bus.Bus, bus.Bus) {
	b1 := s.bus(t)
	if !s.opts.Shared {
		return b1, b1
	}
	return b1, s.bus(t)
}

// jobBuses is buses for the job checks, which SharedJobs also spreads over
// two buses.
func (s suite) jobBuses(t *testing.T) (bus.Bus, bus.Bus) {
	b1 := s.bus(t)
	if !s.opts.Shared && !s.opts.SharedJobs {
		return b1, b1
	}
	return b1, s.bus(t)
}

func (s suite) bus(t *testing.T) bus.Bus {
	t.Helper()
	b := s.newBus(t)
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	return b
}

// fast are consume options that keep the suite quick.
func fast() bus.ConsumeOptions {
	return bus.ConsumeOptions{
		Backoff:    func(int) time.Duration { return 10 * time.Millisecond },
		Visibility: 300 * time.Millisecond,
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

// ---- pub/sub ----

type inbox struct {
	mu   sync.Mutex
	msgs []bus.Message
}

func (in *inbox) add(m bus.Message) {
	in.mu.Lock()
	in.msgs = append(in.msgs, m)
	in.mu.Unlock()
}

func (in *inbox) get() []bus.Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.msgs)
}

func (in *inbox) len() int { return len(in.get()) }

func subscribe(t *testing.T, b bus.Bus, c context.Context, topic string) (*inbox, func()) {
	t.Helper()
	in := &inbox{}
	unsub, err := b.Subscribe(c, topic, in.add)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	t.Cleanup(unsub)
	return in, unsub
}

func (s suite) pubSubFanOut(t *testing.T) {
	b1, b2 := s.buses(t)
	a, _ := subscribe(t, b1, ctx(t), "config")
	b, _ := subscribe(t, b2, ctx(t), "config")
	c, _ := subscribe(t, b2, ctx(t), "config")
	other, _ := subscribe(t, b1, ctx(t), "other")

	payload := []byte("tenant 42 \x00\xff changed")
	if err := b1.Publish(ctx(t), "config", payload); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	// Cache invalidation must reach every process within a second.
	eventually(t, time.Second, "every subscriber receives the message", func() bool {
		return a.len() >= 1 && b.len() >= 1 && c.len() >= 1
	})
	if err := b2.Publish(ctx(t), "config", []byte("second")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	eventually(t, time.Second, "every subscriber receives the second message", func() bool {
		return a.len() >= 2 && b.len() >= 2 && c.len() >= 2
	})
	time.Sleep(50 * time.Millisecond) // room for wrong extra deliveries
	for name, in := range map[string]*inbox{"a": a, "b": b, "c": c} {
		got := in.get()
		if len(got) != 2 {
			t.Fatalf("subscriber %s got %d messages, want 2", name, len(got))
		}
		if got[0].Topic != "config" || !bytes.Equal(got[0].Payload, payload) {
			t.Errorf("subscriber %s: first message = %q %q, want %q %q", name, got[0].Topic, got[0].Payload, "config", payload)
		}
		if got[1].Topic != "config" || string(got[1].Payload) != "second" {
			t.Errorf("subscriber %s: second message = %q %q, want in order", name, got[1].Topic, got[1].Payload)
		}
	}
	if n := other.len(); n != 0 {
		t.Errorf("subscriber of another topic got %d messages", n)
	}
}

func (s suite) pubSubUnsubscribe(t *testing.T) {
	b1, b2 := s.buses(t)
	gone, unsub := subscribe(t, b2, ctx(t), "topic")
	subCtx, cancel := context.WithCancel(ctx(t))
	cancelled, _ := subscribe(t, b2, subCtx, "topic")
	control, _ := subscribe(t, b2, ctx(t), "topic")

	if err := b1.Publish(ctx(t), "topic", []byte("before")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	eventually(t, time.Second, "all three subscribers receive the first message", func() bool {
		return gone.len() == 1 && cancelled.len() == 1 && control.len() == 1
	})

	unsub()
	unsub() // idempotent
	cancel()
	time.Sleep(50 * time.Millisecond) // ctx cancellation takes effect asynchronously
	if err := b1.Publish(ctx(t), "topic", []byte("after")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	eventually(t, time.Second, "the remaining subscriber receives the second message", func() bool {
		return control.len() == 2
	})
	time.Sleep(50 * time.Millisecond)
	if n := gone.len(); n != 1 {
		t.Errorf("unsubscribed subscriber got %d messages, want 1", n)
	}
	if n := cancelled.len(); n != 1 {
		t.Errorf("subscriber whose ctx ended got %d messages, want 1", n)
	}
}

// pubSubResubscribe drops a topic's last subscriber and subscribes again at
// once, the pattern that trips up shared-connection implementations.
func (s suite) pubSubResubscribe(t *testing.T) {
	b1, b2 := s.buses(t)
	for i := range 3 {
		in, unsub := subscribe(t, b2, ctx(t), "flip")
		msg := fmt.Sprintf("m%d", i)
		if err := b1.Publish(ctx(t), "flip", []byte(msg)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		eventually(t, time.Second, "subscriber receives "+msg, func() bool { return in.len() == 1 })
		time.Sleep(20 * time.Millisecond)
		if got := in.get(); len(got) != 1 || string(got[0].Payload) != msg {
			t.Fatalf("round %d: got %v, want exactly %q", i, got, msg)
		}
		unsub()
	}
}

// ---- jobs ----

type record struct {
	job bus.Job
	at  time.Time
}

type recorder struct {
	mu   sync.Mutex
	recs []record
}

func (r *recorder) add(j bus.Job) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, record{j, time.Now()})
	return len(r.recs)
}

func (r *recorder) get() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recs)
}

func (r *recorder) len() int { return len(r.get()) }

type consumer struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// consume runs b.Consume in the background until stop (or the test's end).
func consume(t *testing.T, b bus.Bus, queue string, opts bus.ConsumeOptions, h bus.Handler) *consumer {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	cs := &consumer{cancel: cancel, done: make(chan error, 1)}
	go func() { cs.done <- b.Consume(c, queue, opts, h) }()
	t.Cleanup(func() { cs.stop(t) })
	return cs
}

// stop cancels the consumer and requires Consume to return nil promptly.
func (c *consumer) stop(t *testing.T) {
	t.Helper()
	c.once.Do(func() {
		c.cancel()
		select {
		case err := <-c.done:
			if err != nil {
				t.Errorf("Consume returned %v after its ctx ended, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Consume did not return within 5s after its ctx ended")
		}
	})
}

func enqueue(t *testing.T, b bus.Bus, queue string, payload []byte, headers map[string]string) string {
	t.Helper()
	id, err := b.Enqueue(ctx(t), queue, payload, headers)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if id == "" {
		t.Fatal("Enqueue returned an empty id")
	}
	return id
}

func stats(t *testing.T, b bus.Bus, queue string) bus.QueueStats {
	t.Helper()
	st, err := b.Stats(ctx(t), queue)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

func waitStats(t *testing.T, b bus.Bus, queue string, want bus.QueueStats) {
	t.Helper()
	var last bus.QueueStats
	eventuallyf(t, 5*time.Second, func() bool {
		last = stats(t, b, queue)
		last.OldestWait = 0
		return last == want
	}, func() string { return fmt.Sprintf("stats of %q: got %+v, want %+v", queue, last, want) })
}

func (s suite) jobsRoundTrip(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	payload := []byte{0, 1, 2, 0xfe, 0xff, 'h', 'i', '\n'}
	headers := map[string]string{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"with space":  "a value: with=punctuation, ünïcode",
		"empty":       "",
	}
	sentPayload, sentHeaders := bytes.Clone(payload), maps.Clone(headers)
	id1 := enqueue(t, b1, "q", payload, headers)
	id2 := enqueue(t, b1, "q", nil, nil)
	if id1 == id2 {
		t.Fatalf("two jobs got the same id %q", id1)
	}
	// The caller may reuse its buffers once Enqueue has returned.
	payload[0] = 'X'
	headers["traceparent"] = "changed"
	payload, headers = sentPayload, sentHeaders

	rec := &recorder{}
	consume(t, b2, "q", fast(), func(_ context.Context, j bus.Job) error { rec.add(j); return nil })
	eventually(t, 5*time.Second, "both jobs delivered", func() bool { return rec.len() >= 2 })

	byID := map[string]bus.Job{}
	for _, r := range rec.get() {
		byID[r.job.ID] = r.job
	}
	j1, ok1 := byID[id1]
	j2, ok2 := byID[id2]
	if !ok1 || !ok2 || len(byID) != 2 {
		t.Fatalf("delivered ids %v, want %q and %q", slices.Collect(maps.Keys(byID)), id1, id2)
	}
	if !bytes.Equal(j1.Payload, payload) {
		t.Errorf("payload = %q, want %q", j1.Payload, payload)
	}
	if !maps.Equal(j1.Headers, headers) {
		t.Errorf("headers = %q, want %q", j1.Headers, headers)
	}
	if j1.Queue != "q" || j1.Attempt != 1 || j1.Error != "" {
		t.Errorf("job = queue %q attempt %d error %q, want q 1 \"\"", j1.Queue, j1.Attempt, j1.Error)
	}
	if len(j2.Payload) != 0 || len(j2.Headers) != 0 || j2.Attempt != 1 {
		t.Errorf("empty job = payload %q headers %v attempt %d, want empty, empty, 1", j2.Payload, j2.Headers, j2.Attempt)
	}
}

func (s suite) jobsAckedNotRedelivered(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	opts := fast()
	enqueue(t, b1, "q", []byte("once"), nil)
	rec := &recorder{}
	consume(t, b2, "q", opts, func(_ context.Context, j bus.Job) error { rec.add(j); return nil })
	eventually(t, 5*time.Second, "job delivered", func() bool { return rec.len() == 1 })
	waitStats(t, b1, "q", bus.QueueStats{})
	// Longer than the visibility timeout and any backoff.
	time.Sleep(opts.Visibility + 200*time.Millisecond)
	if n := rec.len(); n != 1 {
		t.Fatalf("acknowledged job delivered %d times, want 1", n)
	}
	waitStats(t, b1, "q", bus.QueueStats{})
}

func (s suite) jobsRetryWithBackoff(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	const backoff = 60 * time.Millisecond
	var mu sync.Mutex
	var backoffCalls []int
	opts := fast()
	opts.MaxAttempts = 5
	opts.Backoff = func(attempt int) time.Duration {
		mu.Lock()
		backoffCalls = append(backoffCalls, attempt)
		mu.Unlock()
		return backoff
	}
	headers := map[string]string{"h": "v"}
	id := enqueue(t, b1, "q", []byte("retry me"), headers)
	rec := &recorder{}
	consume(t, b2, "q", opts, func(_ context.Context, j bus.Job) error {
		if n := rec.add(j); n < 3 {
			return fmt.Errorf("transient %d", n)
		}
		return nil
	})
	eventually(t, 5*time.Second, "third delivery", func() bool { return rec.len() >= 3 })
	waitStats(t, b1, "q", bus.QueueStats{})
	time.Sleep(backoff + 50*time.Millisecond)
	recs := rec.get()
	if len(recs) != 3 {
		t.Fatalf("got %d deliveries, want 3 (2 failures, then success)", len(recs))
	}
	for i, r := range recs {
		j := r.job
		if j.ID != id || j.Attempt != i+1 || string(j.Payload) != "retry me" || !maps.Equal(j.Headers, headers) {
			t.Errorf("delivery %d = id %q attempt %d payload %q headers %v; want id %q attempt %d, same payload and headers",
				i+1, j.ID, j.Attempt, j.Payload, j.Headers, id, i+1)
		}
		if i > 0 {
			if gap := r.at.Sub(recs[i-1].at); gap < backoff-15*time.Millisecond {
				t.Errorf("delivery %d came %v after the previous failure, want at least the %v backoff", i+1, gap, backoff)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(backoffCalls, []int{1, 2}) {
		t.Errorf("Backoff called with %v, want [1 2]", backoffCalls)
	}
}

func (s suite) jobsDelayedStats(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	opts := fast()
	opts.Backoff = func(int) time.Duration { return 500 * time.Millisecond }
	enqueue(t, b1, "q", []byte("x"), nil)
	rec := &recorder{}
	consume(t, b2, "q", opts, func(_ context.Context, j bus.Job) error {
		if rec.add(j) == 1 {
			return errors.New("not yet")
		}
		return nil
	})
	eventually(t, 5*time.Second, "first delivery", func() bool { return rec.len() >= 1 })
	waitStats(t, b1, "q", bus.QueueStats{Delayed: 1})
	if n := rec.len(); n != 1 {
		t.Fatalf("%d deliveries during the 500ms backoff, want 1", n)
	}
	eventually(t, 5*time.Second, "second delivery", func() bool { return rec.len() >= 2 })
	waitStats(t, b1, "q", bus.QueueStats{})
	if got := rec.get(); got[1].at.Sub(got[0].at) < 450*time.Millisecond {
		t.Errorf("retry after %v, want after the 500ms backoff", got[1].at.Sub(got[0].at))
	}
}

func (s suite) jobsDeadLetterAndRedrive(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	opts := fast()
	opts.MaxAttempts = 3
	headers := map[string]string{"traceparent": "t"}
	id := enqueue(t, b1, "q", []byte("poison"), headers)
	var healthy atomic.Bool
	rec := &recorder{}
	consume(t, b2, "q", opts, func(_ context.Context, j bus.Job) error {
		rec.add(j)
		if healthy.Load() {
			return nil
		}
		return fmt.Errorf("boom %d", j.Attempt)
	})
	waitStats(t, b1, "q", bus.QueueStats{Dead: 1})
	time.Sleep(50 * time.Millisecond)
	if n := rec.len(); n != 3 {
		t.Fatalf("job delivered %d times before dead-lettering, want MaxAttempts=3", n)
	}
	dead, err := b1.DeadLetters(ctx(t), "q", 10)
	if err != nil {
		t.Fatalf("DeadLetters: %v", err)
	}
	if len(dead) != 1 {
		t.Fatalf("DeadLetters returned %d jobs, want 1", len(dead))
	}
	d := dead[0]
	if d.ID != id || d.Queue != "q" || string(d.Payload) != "poison" || !maps.Equal(d.Headers, headers) ||
		d.Error != "boom 3" || d.Attempt != 3 {
		t.Errorf("dead letter = %+v, want id %q, payload, headers, Error \"boom 3\", Attempt 3", d, id)
	}
	if other, err := b1.DeadLetters(ctx(t), "other", 10); err != nil || len(other) != 0 {
		t.Errorf("DeadLetters(other) = %v, %v; want none", other, err)
	}

	healthy.Store(true)
	n, err := b1.Redrive(ctx(t), "q")
	if err != nil || n != 1 {
		t.Fatalf("Redrive = %d, %v; want 1, nil", n, err)
	}
	eventually(t, 5*time.Second, "redriven job processed", func() bool { return rec.len() >= 4 })
	waitStats(t, b1, "q", bus.QueueStats{})
	recs := rec.get()
	if j := recs[3].job; j.ID != id || string(j.Payload) != "poison" || j.Attempt != 1 {
		t.Errorf("redriven delivery = id %q payload %q attempt %d, want %q, poison, 1 (a fresh budget)", j.ID, j.Payload, j.Attempt, id)
	}
	if dead, err := b1.DeadLetters(ctx(t), "q", 10); err != nil || len(dead) != 0 {
		t.Errorf("DeadLetters after redrive = %v, %v; want none", dead, err)
	}
	if n, err := b1.Redrive(ctx(t), "q"); err != nil || n != 0 {
		t.Errorf("second Redrive = %d, %v; want 0, nil", n, err)
	}
}

func (s suite) jobsPermanent(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	id := enqueue(t, b1, "q", []byte("bad"), nil)
	rec := &recorder{}
	consume(t, b2, "q", fast(), func(_ context.Context, j bus.Job) error {
		rec.add(j)
		return fmt.Errorf("decoding: %w", bus.Permanent(errors.New("bad input")))
	})
	waitStats(t, b1, "q", bus.QueueStats{Dead: 1})
	time.Sleep(50 * time.Millisecond)
	if n := rec.len(); n != 1 {
		t.Fatalf("permanently failing job delivered %d times, want 1", n)
	}
	dead, err := b1.DeadLetters(ctx(t), "q", 0)
	if err != nil || len(dead) != 1 {
		t.Fatalf("DeadLetters = %v, %v; want one job", dead, err)
	}
	if dead[0].ID != id || dead[0].Error != "decoding: bad input" || dead[0].Attempt != 1 {
		t.Errorf("dead letter = %+v, want id %q, Error %q, Attempt 1", dead[0], id, "decoding: bad input")
	}
}

func (s suite) jobsCompetingConsumers(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	const n = 500
	want := map[string]string{}
	for i := range n {
		p := fmt.Sprintf("job-%d", i)
		want[enqueue(t, b1, "q", []byte(p), nil)] = p
	}
	var (
		mu      sync.Mutex
		seen    = map[string]int{}
		bad     []string
		running atomic.Int64
		maxRun  atomic.Int64
		per     [2]atomic.Int64
	)
	handler := func(which int) bus.Handler {
		return func(_ context.Context, j bus.Job) error {
			r := running.Add(1)
			defer running.Add(-1)
			for m := maxRun.Load(); r > m && !maxRun.CompareAndSwap(m, r); m = maxRun.Load() {
			}
			per[which].Add(1)
			mu.Lock()
			seen[j.ID]++
			if want[j.ID] != string(j.Payload) {
				bad = append(bad, fmt.Sprintf("%s: payload %q, want %q", j.ID, j.Payload, want[j.ID]))
			}
			mu.Unlock()
			time.Sleep(time.Millisecond)
			return nil
		}
	}
	opts := fast()
	opts.Visibility = 30 * time.Second // no redelivery: every delivery must be unique
	opts.Concurrency = 4
	consume(t, b1, "q", opts, handler(0))
	consume(t, b2, "q", opts, handler(1))
	eventually(t, 20*time.Second, "all jobs processed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= n
	})
	waitStats(t, b1, "q", bus.QueueStats{})
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for id, c := range seen {
		total += c
		if c != 1 {
			t.Errorf("job %s processed %d times", id, c)
		}
		if _, ok := want[id]; !ok {
			t.Errorf("unknown job %s processed", id)
		}
	}
	if total != n || len(seen) != n {
		t.Errorf("%d deliveries of %d distinct jobs, want %d of %d", total, len(seen), n, n)
	}
	for _, b := range bad {
		t.Error(b)
	}
	if m := maxRun.Load(); m > 8 || m < 2 {
		t.Errorf("max concurrent handlers = %d, want 2..8 (two consumers with Concurrency 4)", m)
	}
	if per[0].Load() == 0 || per[1].Load() == 0 {
		t.Errorf("per-consumer deliveries = %d, %d; want both consumers to take part", per[0].Load(), per[1].Load())
	}
}

func (s suite) jobsConcurrencyAndStats(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	for i := range 10 {
		enqueue(t, b1, "q", fmt.Appendf(nil, "%d", i), nil)
	}
	waitStats(t, b1, "q", bus.QueueStats{Ready: 10})
	gate := make(chan struct{})
	var running, maxRun, done atomic.Int64
	opts := fast()
	opts.Visibility = 30 * time.Second
	opts.Concurrency = 3
	consume(t, b2, "q", opts, func(c context.Context, j bus.Job) error {
		r := running.Add(1)
		defer running.Add(-1)
		for m := maxRun.Load(); r > m && !maxRun.CompareAndSwap(m, r); m = maxRun.Load() {
		}
		select {
		case <-gate:
		case <-c.Done():
			return c.Err()
		}
		done.Add(1)
		return nil
	})
	eventually(t, 5*time.Second, "three handlers running", func() bool { return running.Load() == 3 })
	waitStats(t, b1, "q", bus.QueueStats{Ready: 7, InFlight: 3})
	time.Sleep(50 * time.Millisecond)
	if m := maxRun.Load(); m != 3 {
		t.Fatalf("max concurrent handlers = %d, want Concurrency=3", m)
	}
	close(gate)
	eventually(t, 5*time.Second, "all jobs done", func() bool { return done.Load() == 10 })
	waitStats(t, b1, "q", bus.QueueStats{})
	if m := maxRun.Load(); m != 3 {
		t.Errorf("max concurrent handlers = %d, want Concurrency=3", m)
	}
}

func (s suite) jobsCrashedConsumer(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	opts := fast()
	id := enqueue(t, b1, "q", []byte("survive"), nil)

	first := make(chan time.Time, 1)
	release := make(chan struct{})
	var firstRet atomic.Int64
	c1 := consume(t, b1, "q", opts, func(_ context.Context, j bus.Job) error {
		first <- time.Now()
		<-release // a crashed process never returns, whatever its ctx says
		firstRet.Add(1)
		return nil
	})
	var started time.Time
	select {
	case started = <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("first consumer got no job")
	}
	c1.cancel()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	rec := &recorder{}
	consume(t, b2, "q", opts, func(_ context.Context, j bus.Job) error { rec.add(j); return nil })
	eventually(t, 5*time.Second, "job redelivered to the second consumer", func() bool { return rec.len() >= 1 })
	r := rec.get()[0]
	if r.job.ID != id || r.job.Attempt != 2 || string(r.job.Payload) != "survive" {
		t.Errorf("redelivery = id %q attempt %d payload %q, want %q, 2, survive", r.job.ID, r.job.Attempt, r.job.Payload, id)
	}
	if wait := r.at.Sub(started); wait < opts.Visibility*9/10 {
		t.Errorf("redelivered %v after the first delivery, want no sooner than Visibility %v", wait, opts.Visibility)
	}

	// The crashed handler finally returns; its late acknowledgement must not
	// disturb anything, and its Consume must now return.
	close(release)
	released = true
	c1.stop(t)
	if firstRet.Load() != 1 {
		t.Errorf("first handler returned %d times", firstRet.Load())
	}
	waitStats(t, b1, "q", bus.QueueStats{})
	time.Sleep(opts.Visibility + 100*time.Millisecond)
	if n := rec.len(); n != 1 {
		t.Errorf("job delivered %d times to the second consumer, want 1", n)
	}
	waitStats(t, b1, "q", bus.QueueStats{})
}

// jobsCrashOnLastAttempt: a job whose last allowed delivery went to a
// consumer that never acknowledged it is dead-lettered, not retried forever
// (a job that crashes its process every time must not crash every process).
func (s suite) jobsCrashOnLastAttempt(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	opts := fast()
	opts.MaxAttempts = 1
	id := enqueue(t, b1, "q", []byte("crasher"), nil)
	got := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	c1 := consume(t, b1, "q", opts, func(context.Context, bus.Job) error {
		got <- struct{}{}
		<-release
		return nil
	})
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("job not delivered")
	}
	c1.cancel()
	rec := &recorder{}
	consume(t, b2, "q", opts, func(_ context.Context, j bus.Job) error { rec.add(j); return nil })
	waitStats(t, b1, "q", bus.QueueStats{Dead: 1})
	if n := rec.len(); n != 0 {
		t.Errorf("job redelivered %d times after its last attempt", n)
	}
	dead, err := b2.DeadLetters(ctx(t), "q", 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("DeadLetters = %v, %v; want one", dead, err)
	}
	if dead[0].ID != id || dead[0].Attempt != 1 || dead[0].Error == "" {
		t.Errorf("dead letter = %+v, want id %q, Attempt 1 and an error saying why", dead[0], id)
	}
}

// jobsLiveSlowHandlerKeepsJob: Visibility is about crashed consumers; a live
// consumer's handler may run longer without the job being handed to another.
func (s suite) jobsLiveSlowHandler(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	opts := fast()
	enqueue(t, b1, "q", []byte("slow"), nil)
	rec := &recorder{}
	h := func(c context.Context, j bus.Job) error {
		rec.add(j)
		select {
		case <-time.After(3 * opts.Visibility):
			return nil
		case <-c.Done():
			return c.Err()
		}
	}
	consume(t, b1, "q", opts, h)
	consume(t, b2, "q", opts, h)
	eventually(t, 5*time.Second, "job delivered", func() bool { return rec.len() >= 1 })
	waitStats(t, b1, "q", bus.QueueStats{})
	if n := rec.len(); n != 1 {
		t.Errorf("job delivered %d times while its handler was alive, want 1", n)
	}
}

func (s suite) jobsShutdownReleases(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	id := enqueue(t, b1, "q", []byte("interrupted"), nil)
	got := make(chan bus.Job, 1)
	opts := bus.ConsumeOptions{Visibility: 30 * time.Second, Backoff: func(int) time.Duration { return time.Hour }}
	c1 := consume(t, b1, "q", opts, func(c context.Context, j bus.Job) error {
		got <- j
		<-c.Done()
		return c.Err()
	})
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("job not delivered")
	}
	start := time.Now()
	c1.stop(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Consume took %v to return after cancel", d)
	}
	// A handler interrupted by shutdown hands its job back at once (not after
	// Visibility or Backoff) and the interrupted delivery does not count.
	rec := &recorder{}
	consume(t, b2, "q", opts, func(_ context.Context, j bus.Job) error { rec.add(j); return nil })
	eventually(t, 3*time.Second, "released job redelivered", func() bool { return rec.len() >= 1 })
	if j := rec.get()[0].job; j.ID != id || j.Attempt != 1 {
		t.Errorf("redelivery = id %q attempt %d, want %q attempt 1", j.ID, j.Attempt, id)
	}
	waitStats(t, b1, "q", bus.QueueStats{})
}

func (s suite) jobsConsumeReturnsOnCancel(t *testing.T) {
	b := s.bus(t)
	c, cancel := context.WithCancel(ctx(t))
	done := make(chan error, 1)
	go func() { done <- b.Consume(c, "q", fast(), func(context.Context, bus.Job) error { return nil }) }()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Consume returned %v before its ctx ended", err)
	default:
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Consume returned %v, want nil", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Consume did not return within 3s of cancel")
	}
}

func (s suite) jobsQueuesIsolated(t *testing.T) {
	b1, b2 := s.jobBuses(t)
	if st := stats(t, b1, "never-used"); st != (bus.QueueStats{}) {
		t.Errorf("stats of an unused queue = %+v, want zero", st)
	}
	enqueue(t, b1, "a", []byte("for a"), nil)
	rec := &recorder{}
	consume(t, b2, "b", fast(), func(_ context.Context, j bus.Job) error { rec.add(j); return nil })
	time.Sleep(100 * time.Millisecond)
	if n := rec.len(); n != 0 {
		t.Fatalf("consumer of queue b got %d jobs of queue a", n)
	}
	st := stats(t, b2, "a")
	if st.Ready != 1 || st.InFlight != 0 || st.Delayed != 0 || st.Dead != 0 {
		t.Errorf("stats of a = %+v, want Ready 1", st)
	}
	if st.OldestWait < 50*time.Millisecond || st.OldestWait > time.Minute {
		t.Errorf("OldestWait = %v, want about 100ms", st.OldestWait)
	}
	waitStats(t, b2, "b", bus.QueueStats{})
}

func (s suite) close(t *testing.T) {
	b := s.newBus(t)
	c := context.Background()
	if err := b.Ping(c); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	in := &inbox{}
	if _, err := b.Subscribe(c, "t", in.add); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	enqueue(t, b, "q", []byte("x"), nil)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(c, "q", fast(), func(c context.Context, j bus.Job) error {
			<-c.Done()
			return c.Err()
		})
	}()
	waitStats(t, b, "q", bus.QueueStats{InFlight: 1})

	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, bus.ErrClosed) {
			t.Errorf("running Consume returned %v on Close, want nil or ErrClosed", err)
		}
	case <-time.After(time.Second):
		t.Fatal("running Consume did not return on Close")
	}

	check := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, bus.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	check("Publish", b.Publish(c, "t", nil))
	_, err := b.Subscribe(c, "t", func(bus.Message) {})
	check("Subscribe", err)
	_, err = b.Enqueue(c, "q", nil, nil)
	check("Enqueue", err)
	check("Consume", b.Consume(c, "q", fast(), func(context.Context, bus.Job) error { return nil }))
	_, err = b.DeadLetters(c, "q", 1)
	check("DeadLetters", err)
	_, err = b.Redrive(c, "q")
	check("Redrive", err)
	_, err = b.Stats(c, "q")
	check("Stats", err)
	check("Ping", b.Ping(c))
}

// ---- helpers ----

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	eventuallyf(t, timeout, cond, func() string { return what })
}

func eventuallyf(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting: %s", timeout, what())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
