// Package bus carries notifications between processes (pub/sub, best effort,
// fan-out to every live subscriber) and durable jobs (at-least-once, acknowledged,
// retried with backoff, dead-lettered after MaxAttempts). The in-process
// implementation serves the embedded default; redisbus serves production. Both
// pass the conformance suite in bustest.
package bus

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Message is one pub/sub notification.
type Message struct {
	Topic   string
	Payload []byte
}

// Job is one durable unit of work.
type Job struct {
	ID      string            // assigned by the bus on Enqueue
	Queue   string            // the queue it was enqueued on
	Payload []byte            // opaque to the bus
	Headers map[string]string // e.g. W3C trace context; may be nil
	Attempt int               // 1 on the first delivery
	Error   string            // for dead letters: the last handler error
}

// Handler processes one job. Returning nil acknowledges it; returning an error
// schedules a retry after Backoff, or dead-letters the job once MaxAttempts
// deliveries have failed. A handler may return Permanent(err) to dead-letter at once.
type Handler func(ctx context.Context, job Job) error

// ConsumeOptions tunes a consumer; zero values take the defaults.
type ConsumeOptions struct {
	Concurrency int                             // parallel handlers in this process; default 1
	MaxAttempts int                             // deliveries before dead-lettering; default 8
	Backoff     func(attempt int) time.Duration // delay before delivery attempt+1; default DefaultBackoff
	// Visibility is how long a delivered job may stay unacknowledged before
	// another consumer reclaims it (a crashed consumer); default 30s.
	Visibility time.Duration
}

// WithDefaults fills the zero fields.
func (o ConsumeOptions) WithDefaults() ConsumeOptions {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Visibility <= 0 {
		o.Visibility = 30 * time.Second
	}
	return o
}

// DefaultBackoff is exponential from 1s, capped at 5 minutes, with ±20% jitter.
func DefaultBackoff(attempt int) time.Duration {
	d := time.Second
	for i := 1; i < attempt && d < 5*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 5*time.Minute)
	jitter := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}

// QueueStats describes a queue for readiness checks and metrics.
type QueueStats struct {
	Ready      int64         // waiting to be delivered now
	Delayed    int64         // waiting for a retry backoff
	InFlight   int64         // delivered, not yet acknowledged
	Dead       int64         // dead-lettered
	OldestWait time.Duration // age of the oldest ready job (lag); 0 when empty
}

// Bus is the one interface for notifications and jobs.
type Bus interface {
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe calls fn for every message published on topic from now on,
	// until unsubscribe is called or ctx ends. fn must not block for long.
	Subscribe(ctx context.Context, topic string, fn func(Message)) (unsubscribe func(), err error)

	Enqueue(ctx context.Context, queue string, payload []byte, headers map[string]string) (id string, err error)
	// Consume delivers jobs of queue to h until ctx ends; it returns nil then.
	// Several consumers (in one process or many) share a queue: each job goes to one.
	Consume(ctx context.Context, queue string, opts ConsumeOptions, h Handler) error
	DeadLetters(ctx context.Context, queue string, limit int) ([]Job, error)
	// Redrive moves dead letters of queue back to the queue; it returns how many.
	Redrive(ctx context.Context, queue string) (int, error)
	Stats(ctx context.Context, queue string) (QueueStats, error)

	Ping(ctx context.Context) error
	Close() error
}

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks a handler error as not worth retrying.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// ErrClosed is returned by calls on a closed bus.
var ErrClosed = errors.New("bus: closed")
