package telemetry

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// batcher is a batching span processor like the SDK's (batches of 512, at
// most 2,048 spans waiting, the rest dropped; exported every timeout or when
// a batch is full), without the SDK's channel: that one hands every ended
// span to its goroutine, which wakes it once per span, a cost that grew with
// the API's load on two cores (docs/PERFORMANCE.md, issue 6). Here a span is
// appended under a lock and the goroutine is woken once per full batch.
type batcher struct {
	exp     sdktrace.SpanExporter
	timeout time.Duration

	mu      sync.Mutex
	pending []sdktrace.ReadOnlySpan
	dropped atomic.Uint64

	full     chan struct{} // a batch is ready (capacity 1)
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	stopped  atomic.Bool
	exportMu sync.Mutex // one export at a time
}

const (
	batchSize     = 512
	batchQueueMax = 2048
	exportTimeout = 30 * time.Second
)

func newBatcher(exp sdktrace.SpanExporter, timeout time.Duration) *batcher {
	b := &batcher{exp: exp, timeout: timeout, full: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

func (b *batcher) run() {
	defer close(b.done)
	t := time.NewTicker(b.timeout)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.full:
		}
		b.export(context.Background())
	}
}

// OnStart implements sdktrace.SpanProcessor.
func (b *batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd implements sdktrace.SpanProcessor: a sampled span waits for the
// next export.
func (b *batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() || b.stopped.Load() {
		return
	}
	b.mu.Lock()
	if len(b.pending) >= batchQueueMax {
		b.mu.Unlock()
		b.dropped.Add(1)
		return
	}
	if b.pending == nil {
		b.pending = make([]sdktrace.ReadOnlySpan, 0, batchSize)
	}
	b.pending = append(b.pending, s)
	n := len(b.pending)
	b.mu.Unlock()
	if n == batchSize {
		select {
		case b.full <- struct{}{}:
		default:
		}
	}
}

// export sends everything pending, in batches of batchSize.
func (b *batcher) export(ctx context.Context) error {
	b.exportMu.Lock()
	defer b.exportMu.Unlock()
	b.mu.Lock()
	spans := b.pending
	b.pending = nil
	b.mu.Unlock()
	var first error
	for len(spans) > 0 {
		n := min(len(spans), batchSize)
		ectx, cancel := context.WithTimeout(ctx, exportTimeout)
		err := b.exp.ExportSpans(ectx, spans[:n])
		cancel()
		if err != nil {
			otel.Handle(err)
			if first == nil {
				first = err
			}
		}
		spans = spans[n:]
	}
	return first
}

// ForceFlush implements sdktrace.SpanProcessor.
func (b *batcher) ForceFlush(ctx context.Context) error {
	if b.stopped.Load() {
		return nil
	}
	return b.export(ctx)
}

// Shutdown implements sdktrace.SpanProcessor: what is pending is exported,
// then the exporter shut down.
func (b *batcher) Shutdown(ctx context.Context) error {
	var err error
	b.stopOnce.Do(func() {
		b.stopped.Store(true)
		close(b.stop)
		select {
		case <-b.done:
		case <-ctx.Done():
			err = ctx.Err()
			return
		}
		err = b.export(ctx)
		if e := b.exp.Shutdown(ctx); err == nil {
			err = e
		}
	})
	return err
}
