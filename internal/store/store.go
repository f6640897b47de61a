// Package store opens the database (PostgreSQL or embedded SQLite), applies the
// embedded migrations and runs transactions. Queries live in sqldb, generated
// by sqlc from queries/*.sql; the same generated code runs on both engines.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/smarterdev/smarterdev/internal/store/sqldb"
	"github.com/smarterdev/smarterdev/internal/telemetry"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the database engine.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Options tunes Open; zero values take the defaults.
type Options struct {
	MaxConns int // PostgreSQL pool size; default 16
	// Uninstrumented leaves queries untimed and untraced (no query metrics,
	// no spans): only for measuring what that instrumentation costs
	// (tools/benchapi -instr both).
	Uninstrumented bool
}

// DB is an open database. SQLite gets one writer connection (writes are
// serialised by SQLite anyway; one connection means no SQLITE_BUSY between our
// own goroutines) and a pool of read-only connections that run beside it in
// WAL mode. On PostgreSQL both are the same pool.
type DB struct {
	Dialect Dialect
	write   *sql.DB
	read    *sql.DB
	path    string // SQLite file, for backups and messages
	unlock  func() // SQLite: releases the shared in-use lock (inuse.go)
	readQ   atomic.Pointer[sqldb.Queries]
	// SQLite only: prepared statements for the read pool (stmtcache.go).
	readStmts *stmtCache
	// uninstrumented: Options.Uninstrumented.
	uninstrumented bool
}

// StatementCacheCapacity is how many prepared statements each PostgreSQL
// connection keeps unless the URL sets statement_cache_capacity: about
// twice the statements the product prepares (about 115; TestStatementsFitTheCache).
// pgx's default, 512, and its describe cache, unused in the default
// cache_statement mode, cost each connection about 45 KB more of live heap,
// which every garbage collection marks again; on the API server's core that
// marking is a stall in front of the requests (docs/PERFORMANCE.md, sixteenth
// pass).
const StatementCacheCapacity = 256

// postgresURL sets what the URL leaves to pgx: sessions in UTC (per-day
// aggregates take dates from timestamps) and the statement caches' sizes.
// Parameters the operator set are kept.
func postgresURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL // pgx reports it
	}
	q := u.Query()
	if q.Get("timezone") == "" {
		q.Set("timezone", "UTC")
	}
	if !q.Has("statement_cache_capacity") {
		q.Set("statement_cache_capacity", strconv.Itoa(StatementCacheCapacity))
	}
	if !q.Has("description_cache_capacity") {
		if mode := q.Get("default_query_exec_mode"); mode == "" || mode == "cache_statement" {
			q.Set("description_cache_capacity", "0")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Open connects to rawURL: "postgres://..." / "postgresql://..." or
// "sqlite:PATH" (the folder is created).
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		pool, err := sql.Open("pgx", postgresURL(rawURL))
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		pool.SetMaxOpenConns(opts.MaxConns)
		pool.SetMaxIdleConns(opts.MaxConns)
		pool.SetConnMaxIdleTime(5 * time.Minute)
		db := &DB{Dialect: Postgres, write: pool, read: pool, uninstrumented: opts.Uninstrumented}
		if err := db.Ping(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("connect to postgres: %w", err)
		}
		return db, nil
	case strings.HasPrefix(rawURL, "sqlite:"):
		path := SQLitePath(rawURL)
		if path == "" {
			return nil, errors.New("sqlite URL has no path")
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
		// Held while the database is open: restore waits for no one and
		// refuses while any process has the file (inuse.go).
		unlock, err := lockInUse(path)
		if err != nil {
			return nil, err
		}
		// synchronous(full): a commit that was acknowledged survives power loss.
		// The pragmas run in this order on every new connection: busy_timeout
		// first, so that switching to WAL waits for another process's lock.
		base := "file:" + (&url.URL{Path: path}).EscapedPath() +
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)&_pragma=foreign_keys(1)&_pragma=synchronous(full)"
		write, err := sql.Open("sqlite", base+"&_txlock=immediate")
		if err != nil {
			unlock()
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		write.SetMaxOpenConns(1)
		write.SetMaxIdleConns(1)
		write.SetConnMaxLifetime(0)
		write.SetConnMaxIdleTime(0)
		// The writer creates the file and switches it to WAL before readers open it.
		if err := pingWhileBusy(ctx, write.PingContext); err != nil {
			write.Close()
			unlock()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		read, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
		if err != nil {
			write.Close()
			unlock()
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		read.SetMaxOpenConns(4)
		read.SetMaxIdleConns(4)
		db := &DB{Dialect: SQLite, write: write, read: read, path: path, readStmts: newStmtCache(read), unlock: unlock, uninstrumented: opts.Uninstrumented}
		if err := pingWhileBusy(ctx, db.Ping); err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		return db, nil
	default:
		return nil, errors.New(`unsupported database URL: want "sqlite:PATH" or "postgres://..."`)
	}
}

// pingWhileBusy pings until the connection opens or busyWait has passed.
// A connection's first statements (its pragmas, the switch to WAL) can get
// SQLITE_BUSY without SQLite's busy handler being asked, while another
// process opens or migrates the same new file
// (TestMigrateIsIdempotentAndConcurrent saw it in about one run in 30).
func pingWhileBusy(ctx context.Context, ping func(context.Context) error) error {
	deadline := time.Now().Add(busyWait)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := ping(ctx)
		if err == nil || !retryable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// busyWait is how long an open waits for a busy database, as busy_timeout.
const busyWait = 10 * time.Second

// SQLitePath returns the file path of a "sqlite:" URL.
func SQLitePath(rawURL string) string {
	p := strings.TrimPrefix(rawURL, "sqlite:")
	p = strings.TrimPrefix(p, "//")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

// Path is the SQLite file, or "" on PostgreSQL.
func (db *DB) Path() string { return db.path }

// Ping checks that both pools answer.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return err
	}
	if db.read != db.write {
		return db.read.PingContext(ctx)
	}
	return nil
}

// Close closes the pools.
func (db *DB) Close() error {
	if db.readStmts != nil {
		db.readStmts.close()
	}
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	if db.unlock != nil {
		db.unlock()
		db.unlock = nil
	}
	return err
}

// Stats returns the pool statistics of the writer pool, for metrics.
func (db *DB) Stats() sql.DBStats { return db.write.Stats() }

// PoolStats returns the statistics of every pool by name: "primary" on
// PostgreSQL, "write" and "read" on SQLite.
func (db *DB) PoolStats() map[string]sql.DBStats {
	if db.read == db.write {
		return map[string]sql.DBStats{"primary": db.write.Stats()}
	}
	return map[string]sql.DBStats{"write": db.write.Stats(), "read": db.read.Stats()}
}

// Q returns queries for reads outside a transaction (timed and traced, see
// instrument.go; the value is shared, Queries holds no state).
func (db *DB) Q() *sqldb.Queries {
	if q := db.readQ.Load(); q != nil {
		return q
	}
	q := sqldb.New(db.reader())
	db.readQ.Store(q)
	return q
}

// reader runs reads outside a transaction: the read pool, through its
// statement cache on SQLite, timed and traced.
func (db *DB) reader() sqldb.DBTX {
	var x sqldb.DBTX = db.read
	if db.readStmts != nil {
		x = prepared{cache: db.readStmts}
	}
	return db.instrument(x)
}

// SQL exposes the writer pool to tests and tools that need raw SQL.
func (db *DB) SQL() *sql.DB { return db.write }

// Tx is one transaction: generated queries plus the outbox.
type Tx struct {
	*sqldb.Queries
	tx  *sql.Tx
	now time.Time
	db  *DB
}

// Now is the wall-clock time the transaction began, in UTC.
func (t *Tx) Now() time.Time { return t.now }

// SQL exposes the raw transaction for dialect-specific statements.
func (t *Tx) SQL() *sql.Tx { return t.tx }

// Enqueue writes a job to the outbox in this transaction: it is published to
// the bus only if the transaction commits, and is never lost once it has.
// The trace context of ctx is added to headers (unless they carry a
// traceparent already), so the job's consumer span joins the caller's trace.
func (t *Tx) Enqueue(ctx context.Context, queue string, payload any, headers map[string]string) error {
	headers = telemetry.Inject(ctx, headers)
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode outbox payload: %w", err)
	}
	if headers == nil {
		headers = map[string]string{}
	}
	hdr, err := json.Marshal(headers)
	if err != nil {
		return fmt.Errorf("encode outbox headers: %w", err)
	}
	return t.InsertOutbox(ctx, sqldb.InsertOutboxParams{Queue: queue, Payload: string(body), Headers: string(hdr), CreatedAt: t.now})
}

// maxTxAttempts bounds retries of transactions that lost a race the database
// detected (serialisation failure, deadlock, busy): they changed nothing.
const maxTxAttempts = 8

// Tx runs fn in a transaction and commits when it returns nil. A transaction
// aborted by a deadlock or serialisation failure is retried from the start,
// so fn must not have effects outside the transaction.
func (db *DB) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		err = db.tx(ctx, fn)
		if err == nil || !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * time.Millisecond):
		}
	}
	return err
}

func (db *DB) tx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	t := &Tx{Queries: sqldb.New(db.instrument(sqlTx)), tx: sqlTx, now: time.Now().UTC(), db: db}
	if err = fn(t); err != nil {
		return err
	}
	if err = sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Retryable reports whether err is a lost race the database detected
// (deadlock, serialisation failure, busy): the statement changed nothing.
func Retryable(err error) bool { return retryable(err) }

func retryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		c := lite.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		return lite.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || lite.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsNoRows reports whether err means a guarded statement matched nothing.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func (db *DB) provider() (*goose.Provider, error) {
	dir, dialect := "migrations/sqlite", goose.DialectSQLite3
	var opts []goose.ProviderOption
	if db.Dialect == Postgres {
		dir, dialect = "migrations/postgres", goose.DialectPostgres
		// An advisory lock makes concurrent "migrate up" safe.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, db.write, sub, opts...)
}

// Migrate applies every pending migration and returns the versions applied.
func (db *DB) Migrate(ctx context.Context) ([]int64, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	if db.Dialect == SQLite {
		unlock, err := lockFile(db.path + ".migrate-lock")
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var applied []int64
	for _, r := range res {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// MigrationState is where the schema stands.
type MigrationState struct {
	Current int64 // version applied in the database
	Latest  int64 // newest version embedded in this binary
	Pending []int64
}

// UpToDate reports whether no migration is pending.
func (s MigrationState) UpToDate() bool { return len(s.Pending) == 0 }

// MigrationStatus compares the database with the embedded migrations.
func (db *DB) MigrationStatus(ctx context.Context) (MigrationState, error) {
	p, err := db.provider()
	if err != nil {
		return MigrationState{}, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return MigrationState{}, fmt.Errorf("migration status: %w", err)
	}
	var s MigrationState
	for _, m := range st {
		s.Latest = max(s.Latest, m.Source.Version)
		if m.State == goose.StateApplied {
			s.Current = max(s.Current, m.Source.Version)
		} else {
			s.Pending = append(s.Pending, m.Source.Version)
		}
	}
	return s, nil
}
