// Package backup takes, verifies, records and restores full copies of the
// database ("smarterdev backup", "smarterdev restore"; docs/runbook.md,
// "Backup too old").
//
// SQLite: VACUUM INTO on a connection of its own gives a consistent copy
// while servers keep writing; the copy is checked with PRAGMA
// integrity_check. PostgreSQL: pg_dump --format=custom, checked with
// pg_restore --list. Either way the file is written under a temporary name,
// synced, and renamed into place only once it is complete and verified, with
// its SHA-256 beside it (FILE.sha256, in sha256sum's format), so a crash never
// leaves a half backup that looks complete. Every run, successful or not, is
// a row of the backups table: the status page, /metrics and the BackupTooOld
// alerts read it.
package backup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, for the copy's own connections

	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// DefaultDir is where backups go when no directory is given.
const DefaultDir = "./data/backups"

// Statuses of a backups row.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Options tune Run.
type Options struct {
	Dir string           // default DefaultDir
	Now func() time.Time // default time.Now
}

// Result describes one backup run.
type Result struct {
	Path          string // the backup file (also when it failed: the name it would have had)
	SizeBytes     int64
	SHA256        string // hex
	SchemaVersion int64  // the schema version the backup holds
	StartedAt     time.Time
	FinishedAt    time.Time
}

// Duration is how long the run took.
func (r Result) Duration() time.Duration { return r.FinishedAt.Sub(r.StartedAt) }

// RecordError means the backup itself succeeded but could not be written to
// the backups table (an old schema, the database gone away meanwhile).
type RecordError struct{ Err error }

func (e *RecordError) Error() string {
	return fmt.Sprintf("the backup was not recorded in the database: %v", e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Run takes a backup of db (whose URL is dbURL: pg_dump needs it) into
// o.Dir and records it. A failed backup is recorded too, with its error, and
// returned as the error; a backup that worked but could not be recorded
// returns its Result and a *RecordError.
func Run(ctx context.Context, db *store.DB, dbURL string, o Options) (Result, error) {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	res, err := take(ctx, db, dbURL, o)
	res.FinishedAt = o.Now().UTC()
	row := sqldb.InsertBackupParams{StartedAt: res.StartedAt, FinishedAt: res.FinishedAt, Path: res.Path,
		SizeBytes: res.SizeBytes, Sha256: res.SHA256, Status: StatusSucceeded}
	if err != nil {
		row.Status, row.Error = StatusFailed, truncate(err.Error(), 2000)
		row.SizeBytes, row.Sha256 = 0, ""
	}
	// Recorded even when the caller gave up (Ctrl-C): the row says why.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rerr := db.Tx(rctx, func(tx *store.Tx) error {
		_, err := tx.InsertBackup(rctx, row)
		return err
	})
	if err != nil {
		return res, err
	}
	if rerr != nil {
		return res, &RecordError{Err: rerr}
	}
	return res, nil
}

// take writes and verifies the backup file.
func take(ctx context.Context, db *store.DB, dbURL string, o Options) (res Result, err error) {
	res.StartedAt = o.Now().UTC()
	ext := ".db"
	if db.Dialect == store.Postgres {
		ext = ".dump"
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return res, err
	}
	final, err := freeName(dir, "smarterdev-"+res.StartedAt.Format("20060102T150405Z"), ext)
	res.Path = final
	if err != nil {
		return res, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return res, fmt.Errorf("create the backup folder: %w", err)
	}
	// Hidden and suffixed: never mistaken for a finished backup.
	tmp := filepath.Join(dir, "."+filepath.Base(final)+".partial")
	sumTmp := tmp + ".sha256"
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
			_ = os.Remove(sumTmp)
		}
	}()
	_ = os.Remove(tmp) // a leftover of a crashed run with the same name

	switch db.Dialect {
	case store.SQLite:
		if err := dumpSQLite(ctx, db.Path(), tmp); err != nil {
			return res, err
		}
		if res.SchemaVersion, err = checkSQLite(ctx, tmp); err != nil {
			return res, fmt.Errorf("the copy failed its check: %w", err)
		}
	case store.Postgres:
		if err := dumpPostgres(ctx, dbURL, tmp); err != nil {
			return res, err
		}
		if err := checkDump(ctx, tmp); err != nil {
			return res, fmt.Errorf("the dump failed its check: %w", err)
		}
		if res.SchemaVersion, err = schemaVersion(ctx, db.SQL()); err != nil {
			return res, err
		}
	default:
		return res, fmt.Errorf("cannot back up a %s database", db.Dialect)
	}

	// A backup holds everything, key hashes and sessions included: owner only.
	if err := os.Chmod(tmp, 0o600); err != nil {
		return res, err
	}
	if err := syncFile(tmp); err != nil {
		return res, err
	}
	if res.SHA256, res.SizeBytes, err = hashFile(tmp); err != nil {
		return res, err
	}
	if err := writeFileSynced(sumTmp, []byte(res.SHA256+"  "+filepath.Base(final)+"\n")); err != nil {
		return res, err
	}
	if err := os.Rename(sumTmp, final+".sha256"); err != nil {
		return res, err
	}
	// The data file last: once it has its final name, everything is there.
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(final + ".sha256")
		return res, err
	}
	if err := syncDir(dir); err != nil {
		return res, err
	}
	return res, nil
}

// freeName returns dir/base+ext, or base-2+ext and so on when a backup of
// the same second exists.
func freeName(dir, base, ext string) (string, error) {
	for i := 1; i <= 100; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		p := filepath.Join(dir, name+ext)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p, nil
		}
	}
	return "", fmt.Errorf("too many backups named %s in %s", base+ext, dir)
}

// dumpSQLite copies the live database with VACUUM INTO, a consistent snapshot
// taken in one read transaction (writers go on meanwhile in WAL mode). It
// uses a connection of its own: the store's read pool is query_only, which
// VACUUM INTO refuses, and its single writer must not wait for a copy.
func dumpSQLite(ctx context.Context, dbPath, out string) error {
	conn, err := sql.Open("sqlite", sqliteDSN(dbPath, "rw")+"&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", out); err != nil {
		return fmt.Errorf("copy the database (VACUUM INTO): %w", err)
	}
	return nil
}

// checkSQLite opens a copy, runs PRAGMA integrity_check and reads its schema
// version: a file that is not a smarterdev database fails.
func checkSQLite(ctx context.Context, path string) (int64, error) {
	conn, err := sql.Open("sqlite", sqliteDSN(path, "ro"))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return 0, fmt.Errorf("not a readable SQLite database: %w", err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return 0, err
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) > 0 {
		if len(problems) > 3 {
			problems = append(problems[:3], fmt.Sprintf("and %d more", len(problems)-3))
		}
		return 0, fmt.Errorf("integrity check: %s", strings.Join(problems, "; "))
	}
	return schemaVersion(ctx, conn)
}

// schemaVersion is the newest migration applied (goose's table); a database
// without it is not a smarterdev database.
func schemaVersion(ctx context.Context, conn *sql.DB) (int64, error) {
	var v sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT MAX(version_id) FROM goose_db_version WHERE is_applied").Scan(&v); err != nil {
		return 0, fmt.Errorf("not a smarterdev database (no migration table): %w", err)
	}
	return v.Int64, nil
}

// sqliteDSN opens path in mode ro or rw (never creating it).
func sqliteDSN(path, mode string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=" + mode
}

func hashFile(path string) (sum string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	size, err = io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

func writeFileSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
