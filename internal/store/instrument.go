package store

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
	"github.com/smarterdev/smarterdev/internal/telemetry"
)

const tracerName = "github.com/smarterdev/smarterdev/internal/store"

var tracer = telemetry.NewTracer(tracerName)

// spanStarts are the start options of each query's span (kind, engine,
// operation), made once per engine and query name.
type spanStarts struct {
	system string
	mu     sync.RWMutex
	m      map[string][]trace.SpanStartOption
}

var (
	sqliteSpans   = &spanStarts{system: "sqlite", m: map[string][]trace.SpanStartOption{}}
	postgresSpans = &spanStarts{system: "postgresql", m: map[string][]trace.SpanStartOption{}}
)

func (s *spanStarts) of(name string) []trace.SpanStartOption {
	s.mu.RLock()
	o, ok := s.m[name]
	s.mu.RUnlock()
	if ok {
		return o
	}
	o = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", s.system), attribute.String("db.operation.name", name))}
	s.mu.Lock()
	if len(s.m) < 10_000 { // names come from the code; bound the map all the same
		s.m[name] = o
	}
	s.mu.Unlock()
	return o
}

// instrumented is the sqldb.DBTX every generated query runs through: it
// times each query under its sqlc name and, inside a traced operation, adds
// a client span for it. Queries outside a trace (the relay's polling) get no
// span, so an idle process exports nothing.
type instrumented struct {
	db    sqldb.DBTX
	spans *spanStarts
}

func (db *DB) instrument(x sqldb.DBTX) sqldb.DBTX {
	if db.uninstrumented {
		return x
	}
	spans := postgresSpans
	if db.Dialect == SQLite {
		spans = sqliteSpans
	}
	return instrumented{db: x, spans: spans}
}

func (i instrumented) start(ctx context.Context, query string) (context.Context, *metrics.QueryMetrics, trace.Span, time.Time) {
	q := metrics.Query(metrics.QueryName(query))
	var span trace.Span
	// A span only under a sampled one: an unsampled request costs its server
	// span alone (a child would not be recorded anyway).
	if trace.SpanContextFromContext(ctx).IsSampled() {
		ctx, span = tracer.Get().Start(ctx, q.Name, i.spans.of(q.Name)...)
	}
	return ctx, q, span, time.Now()
}

func finish(q *metrics.QueryMetrics, span trace.Span, start time.Time, err error) {
	q.Observe(time.Since(start), err)
	if span != nil {
		if err != nil && err != sql.ErrNoRows {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

func (i instrumented) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, q, span, start := i.start(ctx, query)
	res, err := i.db.ExecContext(ctx, query, args...)
	finish(q, span, start, err)
	return res, err
}

func (i instrumented) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return i.db.PrepareContext(ctx, query)
}

// QueryContext times the query until its first rows are ready; reading them
// is the caller's time.
func (i instrumented) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, q, span, start := i.start(ctx, query)
	rows, err := i.db.QueryContext(ctx, query, args...)
	finish(q, span, start, err)
	return rows, err
}

func (i instrumented) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx, q, span, start := i.start(ctx, query)
	row := i.db.QueryRowContext(ctx, query, args...)
	finish(q, span, start, row.Err())
	return row
}
