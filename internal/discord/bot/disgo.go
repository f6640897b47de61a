package bot

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/disgoorg/disgo/rest"
)

// This file adapts disgo v0.19.6 to what the bot needs: a REST client with
// the right base URL and two workarounds for data races inside disgo (see
// docs/emulator.md), which the race detector reports in tests.

// RESTOptions configure a REST client for Discord or the emulator.
type RESTOptions struct {
	Token  string
	APIURL string // base including /api/v10; empty: Discord's
	Logger *slog.Logger
}

// NewREST returns disgo's REST client (it waits out Discord's rate limits and
// retries 429s) with requests serialised per rate-limit bucket, which disgo's
// limiter does anyway but logs bucket fields before taking its lock.
func NewREST(o RESTOptions) rest.Rest {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	opts := []rest.ClientConfigOpt{
		rest.WithLogger(o.Logger),
		// disgo's default client with metrics and spans (resttransport.go).
		rest.WithHTTPClient(&http.Client{Timeout: 20 * time.Second, Transport: restTransport{inner: http.DefaultTransport}}),
		rest.WithRateLimiter(&bucketLocks{inner: rest.NewRateLimiter(rest.WithRateLimiterLogger(o.Logger))}),
	}
	if o.APIURL != "" {
		opts = append(opts, rest.WithURL(o.APIURL))
	}
	return rest.New(rest.NewClient(o.Token, opts...))
}

// bucketLocks holds one mutex per route bucket from Wait to Unlock around
// disgo's limiter, so its unlocked reads of bucket fields are ordered.
type bucketLocks struct {
	inner rest.RateLimiter
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func bucketKey(e *rest.CompiledEndpoint) string {
	return e.Endpoint.Method + "+" + e.Endpoint.Route + "+" + e.MajorParams
}

func (b *bucketLocks) lock(e *rest.CompiledEndpoint) *sync.Mutex {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.locks == nil {
		b.locks = map[string]*sync.Mutex{}
	}
	l := b.locks[bucketKey(e)]
	if l == nil {
		l = &sync.Mutex{}
		b.locks[bucketKey(e)] = l
	}
	return l
}

func (b *bucketLocks) MaxRetries() int { return b.inner.MaxRetries() }

// Close waits, until ctx ends, for the requests in flight. It does not call
// disgo's Close: that one leaves the limiter's bucket map locked for ever
// (v0.19.6), so that a request finishing after it, or sent after it (the
// bot's last menu-expiry edit, say), blocks for ever and shutdown with it.
func (b *bucketLocks) Close(ctx context.Context) {
	b.mu.Lock()
	locks := make([]*sync.Mutex, 0, len(b.locks))
	for _, l := range b.locks {
		locks = append(locks, l)
	}
	b.mu.Unlock()
	for _, l := range locks {
		for !l.TryLock() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		l.Unlock()
	}
}
func (b *bucketLocks) Reset() { b.inner.Reset() }

func (b *bucketLocks) Wait(ctx context.Context, e *rest.CompiledEndpoint) error {
	l := b.lock(e)
	l.Lock()
	if err := b.inner.Wait(ctx, e); err != nil {
		l.Unlock()
		return err
	}
	return nil
}

func (b *bucketLocks) Unlock(e *rest.CompiledEndpoint, rs *http.Response) error {
	defer b.lock(e).Unlock()
	return b.inner.Unlock(e, rs)
}

// fence orders disgo's gateway goroutines for the race detector: its
// heartbeat goroutine logs before touching fields that the read loop writes
// before calling listeners. Both pass through the same mutex (taken and
// released at once), which is what disgo's own code lacks.
type fence struct {
	mu         sync.Mutex
	heartbeats atomic.Int64 // heartbeats sent, seen in disgo's log
}

func (f *fence) pass() {
	f.mu.Lock()
	//lint:ignore SA2001 the lock only orders memory, see fence
	f.mu.Unlock()
}

// fenceHandler is a slog.Handler that passes the fence on every record.
// disgo's gateway loggers carry a shard_id attribute; a heartbeat sent on
// such a logger is reported to sent (observe.go: heartbeat latency).
type fenceHandler struct {
	f        *fence
	inner    slog.Handler
	sent     func(shard int, at time.Time)
	waitAcks func() // under -race (observe.go)
	// beforeACK runs on a shard's read loop before disgo handles a
	// heartbeat ACK, without -race (observe.go: awaitSends).
	beforeACK func(shard int)
	shard     int // -1: not a shard's logger
}

func (h fenceHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h fenceHandler) Handle(ctx context.Context, r slog.Record) error {
	switch {
	case raceDetector && r.Message == "unlocking gateway rate limiter" && h.waitAcks != nil:
		h.waitAcks() // observe.go
	case !raceDetector && r.Message == "received gateway message" && h.beforeACK != nil && h.shard >= 0 && heartbeatACK(r):
		h.beforeACK(h.shard) // observe.go
	}
	h.f.pass()
	if r.Message == "sending heartbeat" {
		h.f.heartbeats.Add(1)
		if h.sent != nil && h.shard >= 0 {
			h.sent(h.shard, r.Time)
		}
	}
	if r.Level >= slog.LevelError && r.Message == "failed to open shard" && canceledBy(r) {
		r = shutdownRecord(r)
	}
	if h.inner.Enabled(ctx, r.Level) {
		return h.inner.Handle(ctx, r)
	}
	return nil
}

// heartbeatACK reports whether r, disgo's "received gateway message"
// record, carries a heartbeat ACK (op 11): a frame of a few dozen bytes.
func heartbeatACK(r slog.Record) bool {
	ack := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "data" {
			return true
		}
		if s := a.Value.String(); len(s) <= 128 && strings.Contains(s, "11") {
			var f struct {
				Op *int `json:"op"`
			}
			ack = json.Unmarshal([]byte(s), &f) == nil && f.Op != nil && *f.Op == 11
		}
		return false
	})
	return ack
}

// canceledBy reports whether r's error is a cancelled context: a shard
// whose opening the bot's own shutdown stopped (a SIGINT while it starts),
// which disgo logs as an error although nothing failed.
func canceledBy(r slog.Record) bool {
	canceled := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "err" {
			canceled = errors.Is(err, context.Canceled)
			return false
		}
		return true
	})
	return canceled
}

// shutdownRecord is r at info level, saying what happened, with its
// attributes (the error and the shard).
func shutdownRecord(r slog.Record) slog.Record {
	out := slog.NewRecord(r.Time, slog.LevelInfo, "shard opening stopped: shutting down", r.PC)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return out
}
func (h fenceHandler) WithAttrs(a []slog.Attr) slog.Handler {
	shard := h.shard
	for _, at := range a {
		if at.Key == "shard_id" && at.Value.Kind() == slog.KindInt64 {
			shard = int(at.Value.Int64())
		}
	}
	return fenceHandler{f: h.f, inner: h.inner.WithAttrs(a), sent: h.sent, waitAcks: h.waitAcks, beforeACK: h.beforeACK, shard: shard}
}
func (h fenceHandler) WithGroup(n string) slog.Handler {
	return fenceHandler{f: h.f, inner: h.inner.WithGroup(n), sent: h.sent, waitAcks: h.waitAcks, beforeACK: h.beforeACK, shard: h.shard}
}
