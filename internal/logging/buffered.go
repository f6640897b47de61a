package logging

import (
	"io"
	"sync"
	"time"
)

// Buffered gathers log lines bound for the process's output into one write
// every FlushEvery or every BufferSize bytes, whichever comes first. A write
// system call per line costs about as much as the rest of a request's
// instrumentation together (1.4-1.6 µs to /dev/null here, more to a pipe;
// BenchmarkLogOutput, docs/PERFORMANCE.md, issue 6, ninth pass), and the
// access log writes a line for every request.
//
// Access lines (the middleware's, through a logger made by New) wait as
// records and are formatted in batches, in order with the other lines,
// when the buffer is written out or AccessBatch of them wait. Formatted
// one at a time inside each request, the line's code (~100 lines of
// machine code run once per line) was fetched afresh on every request, a
// server's own code having evicted it since; in a batch it stays in the
// instruction cache (docs/PERFORMANCE.md, issue 6, twelfth pass).
//
// What it gives up: a process that dies without Close (a crash, SIGKILL)
// loses the info and debug lines of its last FlushEvery. A logger made by
// New writes warnings and errors through at once, with everything buffered
// before them, so the lines that explain a failure are never the ones held
// back, and the order of lines is kept.
type Buffered struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	recs []accessRec // access lines after buf's bytes, not yet formatted
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

const (
	// FlushEvery bounds how long a line waits in the buffer.
	FlushEvery = 100 * time.Millisecond
	// BufferSize is the buffer's size: a write of its size when full.
	BufferSize = 64 << 10
	// AccessBatch is how many access lines wait to be formatted at most:
	// the batch's formatting holds the lock for tens of microseconds.
	AccessBatch = 64
)

// NewBuffered returns a Buffered writing to w, flushed every FlushEvery
// until Close.
func NewBuffered(w io.Writer) *Buffered { return newBuffered(w, FlushEvery) }

func newBuffered(w io.Writer, every time.Duration) *Buffered {
	b := &Buffered{w: w, buf: make([]byte, 0, BufferSize), recs: make([]accessRec, 0, AccessBatch),
		stop: make(chan struct{}), done: make(chan struct{})}
	go b.run(every)
	return b
}

func (b *Buffered) run(every time.Duration) {
	defer close(b.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write buffers p, a whole line (slog's handlers and the access log write
// one line per call): the buffer is written out first when p does not fit,
// and a line as large as the buffer is written directly.
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.formatLocked(); err != nil {
		return 0, err
	}
	if len(p) >= cap(b.buf) {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		return b.w.Write(p)
	}
	return len(p), b.appendLocked(p)
}

// writeLine is Write for a caller that keeps p: p is copied, never handed
// to the writer, so that it can live on the caller's stack (the access
// log's line). A line larger than the buffer goes out in pieces, in order.
func (b *Buffered) writeLine(p []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.formatLocked(); err != nil {
		return err
	}
	return b.appendLocked(p)
}

// queueAccess adds an access line, written by f, after what is buffered.
func (b *Buffered) queueAccess(f *fastJSON, l *accessLine) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.recs) == cap(b.recs) {
		_ = b.formatLocked() // an error drops the lines, as a failed flush does
	}
	b.recs = b.recs[:len(b.recs)+1]
	b.recs[len(b.recs)-1].set(f, l)
}

// formatLocked appends the waiting access lines to the buffer, in order.
func (b *Buffered) formatLocked() error {
	var err error
	for i := range b.recs {
		var line [512]byte
		r := &b.recs[i]
		if e := b.appendLocked(r.f.appendLine(line[:0], &r.line)); e != nil && err == nil {
			err = e
		}
	}
	// The records stay as they are until overwritten: what they hold
	// besides copies (addresses, routes, methods) is strings, small.
	b.recs = b.recs[:0]
	return err
}

// appendLocked copies p into the buffer, written out first when p does not
// fit, and again each time it fills.
func (b *Buffered) appendLocked(p []byte) error {
	if len(b.buf)+len(p) > cap(b.buf) {
		if err := b.flushLocked(); err != nil {
			return err
		}
	}
	for {
		n := copy(b.buf[len(b.buf):cap(b.buf)], p)
		b.buf, p = b.buf[:len(b.buf)+n], p[n:]
		if len(p) == 0 {
			return nil
		}
		if err := b.flushLocked(); err != nil {
			return err
		}
	}
}

// Flush writes out what is buffered.
func (b *Buffered) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.formatLocked()
	if e := b.flushLocked(); e != nil {
		err = e
	}
	return err
}

func (b *Buffered) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0] // a failed write drops its lines rather than growing without bound
	return err
}

// Close stops the periodic flush and writes out what is buffered. Lines
// written after Close are buffered until the next Flush.
func (b *Buffered) Close() error {
	b.once.Do(func() { close(b.stop); <-b.done })
	return b.Flush()
}
