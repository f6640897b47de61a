package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// Record is one row of the backups table.
type Record = sqldb.Backup

// State is what the status page, /metrics and the alerts need to know.
type State struct {
	LastSuccess *Record // nil: no backup has ever succeeded
	Last        *Record // the latest run, successful or not; nil: none ever
	Succeeded   int64
	Failed      int64
}

// LastFailed reports whether the latest run failed.
func (s State) LastFailed() bool { return s.Last != nil && s.Last.Status == StatusFailed }

// ReadState reads the backups table (three indexed queries).
func ReadState(ctx context.Context, q *sqldb.Queries) (State, error) {
	var s State
	counts, err := q.CountBackupsByStatus(ctx)
	if err != nil {
		return s, err
	}
	for _, c := range counts {
		switch c.Status {
		case StatusSucceeded:
			s.Succeeded = c.Backups
		case StatusFailed:
			s.Failed = c.Backups
		}
	}
	if s.Succeeded+s.Failed == 0 {
		return s, nil
	}
	last, err := q.LastBackup(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s, err
	}
	if err == nil {
		s.Last = &last
	}
	ok, err := q.LastSuccessfulBackup(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s, err
	}
	if err == nil {
		s.LastSuccess = &ok
	}
	return s, nil
}

// DatabaseCreated is when the database was first migrated (goose's first
// row): how long the product has been running, as far as backups go.
func DatabaseCreated(ctx context.Context, db *store.DB) (time.Time, error) {
	var v any
	if err := db.SQL().QueryRowContext(ctx, "SELECT MIN(tstamp) FROM goose_db_version").Scan(&v); err != nil {
		return time.Time{}, err
	}
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), nil
	case string:
		return parseStamp(t)
	case []byte:
		return parseStamp(string(t))
	case nil:
		return time.Time{}, errors.New("the database has no migration history")
	}
	return time.Time{}, fmt.Errorf("unexpected migration timestamp %T", v)
}

// parseStamp reads SQLite's datetime('now') text (UTC).
func parseStamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04:05.999999999", time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unexpected migration timestamp %q", s)
}

// TooOld says why backups are overdue at now, or "" when they are not: the
// last success is older than maxAge, or none ever succeeded although the
// database is older than maxAge. created is DatabaseCreated.
func TooOld(s State, created, now time.Time, maxAge time.Duration) string {
	var msg string
	switch {
	case s.LastSuccess != nil:
		age := now.Sub(s.LastSuccess.FinishedAt)
		if age <= maxAge {
			return ""
		}
		msg = fmt.Sprintf("the last successful backup finished %s ago (%s), more than %s ago", roundAge(age),
			s.LastSuccess.FinishedAt.UTC().Format(time.RFC3339), config.ShortDuration(maxAge))
	case now.Sub(created) > maxAge:
		msg = fmt.Sprintf("no backup has ever succeeded, and the database was created %s ago", roundAge(now.Sub(created)))
	default:
		return ""
	}
	if s.LastFailed() {
		msg += fmt.Sprintf("; the last attempt, %s, failed: %s", s.Last.FinishedAt.UTC().Format(time.RFC3339), truncate(s.Last.Error, 300))
	}
	return msg + `; run "smarterdev backup"`
}

func roundAge(d time.Duration) string {
	if d >= time.Hour {
		d = d.Round(time.Minute)
	} else {
		d = d.Round(time.Second)
	}
	return config.ShortDuration(d)
}
