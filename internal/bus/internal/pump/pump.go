// Package pump runs the fetch-and-handle loop of a consumer whose jobs live
// outside the process (Redis, the database): it asks for as many jobs as it
// has free handler slots, so a slow handler never holds jobs it cannot start
// yet, and it backs off while fetching fails.
package pump

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Loop runs handle on each job fetch returns, each in its own goroutine, at
// most concurrency at once. fetch gets the number of free slots (at least
// one); when it returns fewer jobs, short is called (nil: fetch again at
// once) and may wait for more to arrive, returning false to stop. A failing
// fetch is logged as what and retried after 100 ms, doubling up to maxDelay.
// Loop returns when ctx ends or short says stop, once every handler has.
func Loop[T any](ctx context.Context, concurrency int, maxDelay time.Duration, log *slog.Logger, what string,
	fetch func(n int) ([]T, error), handle func(T), short func() bool) {
	slots := make(chan struct{}, max(concurrency, 1))
	var workers sync.WaitGroup
	defer workers.Wait()
	var errDelay time.Duration
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	fill:
		for n < cap(slots) {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break fill
			}
		}
		jobs, err := fetch(n)
		for range n - len(jobs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			errDelay = min(max(2*errDelay, 100*time.Millisecond), maxDelay)
			log.Error(what, "err", err, "retry_in", errDelay)
			if !Sleep(ctx, errDelay) {
				return
			}
			continue
		}
		errDelay = 0
		for _, j := range jobs {
			workers.Go(func() {
				defer func() { <-slots }()
				handle(j)
			})
		}
		if len(jobs) < n && short != nil && !short() {
			return
		}
	}
}

// Sleep waits d, or less if ctx ends first; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
