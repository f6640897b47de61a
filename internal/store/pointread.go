package store

import "context"

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
	return context.WithoutCancel(ctx)
}
