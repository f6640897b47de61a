package store

import (
	"context"
	"time"
)

// PointRead returns the context to run a read that an index answers at once
// (one row by its key) with. On SQLite it is ctx without its cancellation:
// watching a cancellable context costs two goroutines per query (one in
// database/sql, one in the driver to interrupt SQLite), which under load cost
// more than the read itself, and such a read cannot run long enough to be
// worth interrupting (it waits on no writer in WAL mode; busy_timeout bounds
// the rare wait). A context that is already done is returned as it is, so
// the read still fails at once. On PostgreSQL ctx is kept: its reads cross
// the network, where cancellation is what bounds a stuck connection.
func (db *DB) PointRead(ctx context.Context) context.Context {
	if db.Dialect != SQLite || ctx.Done() == nil || ctx.Err() != nil {
		return ctx
	}
	return &noCancel{parent: ctx}
}

// noCancel is context.WithoutCancel(parent) minus an allocation on every
// Value: the standard one passes itself by value to the lookup, boxing it
// each time, and a query looks values up several times (its span, the
// driver). Unlike it, context.Cause reports the parent's cause; nothing on
// a point read asks.
type noCancel struct{ parent context.Context }

func (*noCancel) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*noCancel) Done() <-chan struct{}       { return nil }
func (*noCancel) Err() error                  { return nil }
func (c *noCancel) Value(key any) any         { return c.parent.Value(key) }
