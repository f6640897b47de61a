package backup_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/backup"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// requirePGTools skips a PostgreSQL backup test when pg_dump is missing,
// unless SMARTERDEV_REQUIRE_SERVICES=1 (CI installs it with PostgreSQL).
func requirePGTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			if storetest.RequireServices() {
				t.Fatalf("%s is not on PATH (Debian package postgresql-client)", tool)
			}
			t.Skipf("%s is not on PATH", tool)
		}
	}
}

// openURL opens and migrates a fresh database of engine, returning its URL too.
func openURL(t *testing.T, engine store.Dialect) (*store.DB, string) {
	t.Helper()
	u := storetest.URL(t, engine)
	db := open(t, u)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, u
}

func open(t *testing.T, u string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), u, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec1(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.SQL().ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func requests(t *testing.T, db *store.DB, day string) int64 {
	t.Helper()
	var n int64
	if err := db.SQL().QueryRowContext(context.Background(), "SELECT requests FROM slo_daily WHERE day = $1", day).Scan(&n); err != nil {
		t.Fatalf("read %s: %v", day, err)
	}
	return n
}

func count(t *testing.T, db *store.DB) int64 {
	t.Helper()
	var n int64
	if err := db.SQL().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM slo_daily").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBackupModifyRestore: a backup holds the data as it was; after changes,
// restoring it brings that data back, on every engine. The backup is
// recorded, verified by its checksum, and written under its final name only
// once complete (no partial files remain).
func TestBackupModifyRestore(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			if engine == store.Postgres {
				requirePGTools(t)
			}
			ctx := context.Background()
			db, u := openURL(t, engine)
			exec1(t, db, "INSERT INTO slo_daily (day, requests, errors) VALUES ('2026-11-01', 100, 1), ('2026-11-02', 200, 2)")

			dir := filepath.Join(t.TempDir(), "backups")
			start := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
			clock := start
			res, err := backup.Run(ctx, db, u, backup.Options{Dir: dir, Now: func() time.Time { c := clock; clock = clock.Add(1500 * time.Millisecond); return c }})
			if err != nil {
				t.Fatalf("backup: %v", err)
			}
			ext := map[store.Dialect]string{store.SQLite: ".db", store.Postgres: ".dump"}[engine]
			if want := filepath.Join(dir, "smarterdev-20261122T120000Z"+ext); res.Path != want {
				t.Fatalf("path %s, want %s", res.Path, want)
			}
			if res.SizeBytes <= 0 || len(res.SHA256) != 64 || res.Duration() != 1500*time.Millisecond || res.SchemaVersion < 7 {
				t.Fatalf("result %+v", res)
			}
			if sum, err := backup.VerifyChecksum(res.Path); err != nil || sum != res.SHA256 {
				t.Fatalf("checksum: %s %v", sum, err)
			}
			if st, err := os.Stat(res.Path); err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("backup file mode: %v %v, want 0600", st.Mode(), err)
			}
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if len(names) != 2 || strings.Contains(strings.Join(names, " "), "partial") {
				t.Fatalf("backup folder holds %v, want the file and its checksum", names)
			}
			st, err := backup.ReadState(ctx, db.Q())
			if err != nil {
				t.Fatal(err)
			}
			if st.LastSuccess == nil || st.Succeeded != 1 || st.Failed != 0 || st.LastSuccess.Path != res.Path ||
				st.LastSuccess.Sha256 != res.SHA256 || st.LastSuccess.SizeBytes != res.SizeBytes ||
				!st.LastSuccess.FinishedAt.Equal(start.Add(1500*time.Millisecond)) || st.Last.ID != st.LastSuccess.ID {
				t.Fatalf("state %+v", st)
			}

			// A second backup in the same second gets its own name.
			clock = start
			res2, err := backup.Run(ctx, db, u, backup.Options{Dir: dir, Now: func() time.Time { return clock }})
			if err != nil || res2.Path != filepath.Join(dir, "smarterdev-20261122T120000Z-2"+ext) {
				t.Fatalf("second backup: %s %v", res2.Path, err)
			}

			// Modify: change, add and delete rows.
			exec1(t, db, "UPDATE slo_daily SET requests = 999 WHERE day = '2026-11-01'")
			exec1(t, db, "DELETE FROM slo_daily WHERE day = '2026-11-02'")
			exec1(t, db, "INSERT INTO slo_daily (day, requests, errors) VALUES ('2026-11-03', 300, 3)")

			if engine == store.SQLite {
				// Refused while a process has the database open.
				_, err := backup.Restore(ctx, u, res.Path, backup.RestoreOptions{})
				var inUse *backup.InUseError
				if !errors.As(err, &inUse) {
					t.Fatalf("restore with the database open: %v", err)
				}
				db.Close()
			}
			rr, err := backup.Restore(ctx, u, res.Path, backup.RestoreOptions{})
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			if rr.SHA256 != res.SHA256 {
				t.Fatalf("restored sha %s, want %s", rr.SHA256, res.SHA256)
			}
			db = open(t, u)
			if n := requests(t, db, "2026-11-01"); n != 100 {
				t.Errorf("restored 2026-11-01 requests = %d, want 100", n)
			}
			if n := requests(t, db, "2026-11-02"); n != 200 {
				t.Errorf("restored 2026-11-02 requests = %d, want 200", n)
			}
			if n := count(t, db); n != 2 {
				t.Errorf("restored %d rows, want 2", n)
			}
			st, err = backup.ReadState(ctx, db.Q())
			if err != nil || st.Succeeded != 0 {
				t.Errorf("backup history after restore: %+v %v (as of the backup: none yet)", st, err)
			}
			if engine == store.SQLite {
				path := store.SQLitePath(u)
				if rr.Previous != path+".before-restore" {
					t.Fatalf("previous kept as %q", rr.Previous)
				}
				if _, err := os.Stat(path + ".restore-partial"); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a partial restore file remains: %v", err)
				}
				// The replaced database, with the changes, is complete on its own.
				prev := open(t, "sqlite:"+rr.Previous)
				if n := requests(t, prev, "2026-11-01"); n != 999 {
					t.Errorf(".before-restore 2026-11-01 requests = %d, want 999", n)
				}
				if n := count(t, prev); n != 2 {
					t.Errorf(".before-restore has %d rows, want 2", n)
				}
				prev.Close()
				// Undo: restore the replaced database (it has no checksum file).
				db.Close()
				undo := filepath.Join(t.TempDir(), "undo.db")
				b, err := os.ReadFile(rr.Previous)
				if err != nil {
					t.Fatal(err)
				}
				_ = os.WriteFile(undo, b, 0o600)
				if _, err := backup.Restore(ctx, u, undo, backup.RestoreOptions{SkipChecksum: true}); err != nil {
					t.Fatalf("undo: %v", err)
				}
				db = open(t, u)
				if n := requests(t, db, "2026-11-01"); n != 999 {
					t.Errorf("after undo 2026-11-01 requests = %d, want 999", n)
				}
			}
		})
	}
}

// A failed backup is recorded with its error and leaves no file behind.
func TestBackupFailureRecorded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		notDir := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		res, err := backup.Run(ctx, db, "", backup.Options{Dir: notDir})
		if err == nil {
			t.Fatalf("backup into a file: %+v", res)
		}
		st, rerr := backup.ReadState(ctx, db.Q())
		if rerr != nil {
			t.Fatal(rerr)
		}
		if st.LastSuccess != nil || st.Failed != 1 || !st.LastFailed() || st.Last.Error == "" || st.Last.SizeBytes != 0 {
			t.Fatalf("state after a failure: %+v", st.Last)
		}
	})
}

// Without pg_dump on PATH the error names the tool and how to install it,
// and the failure is recorded.
func TestBackupPostgresToolMissing(t *testing.T) {
	db, u := openURL(t, store.Postgres)
	t.Setenv("PATH", t.TempDir())
	dir := filepath.Join(t.TempDir(), "b")
	_, err := backup.Run(context.Background(), db, u, backup.Options{Dir: dir})
	var missing *backup.ToolMissingError
	if !errors.As(err, &missing) || missing.Tool != "pg_dump" || !strings.Contains(err.Error(), "pg_dump is not on PATH: install") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left behind: %v", entries)
	}
	st, _ := backup.ReadState(context.Background(), db.Q())
	if !st.LastFailed() || !strings.Contains(st.Last.Error, "pg_dump") {
		t.Fatalf("not recorded: %+v", st.Last)
	}
}

// Restore checks the file before touching the database: a damaged file,
// one without its checksum, or one that is not a database is refused and
// the database stays as it was.
func TestRestoreRefusesBadFiles(t *testing.T) {
	ctx := context.Background()
	db, u := openURL(t, store.SQLite)
	exec1(t, db, "INSERT INTO slo_daily (day, requests, errors) VALUES ('2026-11-01', 100, 1)")
	res, err := backup.Run(ctx, db, u, backup.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, db, "UPDATE slo_daily SET requests = 5")
	db.Close()

	// Damaged: one byte changed.
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	b, _ := os.ReadFile(res.Path)
	b[len(b)/2] ^= 0xff
	_ = os.WriteFile(damaged, b, 0o600)
	sum, _ := os.ReadFile(res.Path + ".sha256")
	_ = os.WriteFile(damaged+".sha256", sum, 0o600)
	var ce *backup.ChecksumError
	if _, err := backup.Restore(ctx, u, damaged, backup.RestoreOptions{}); !errors.As(err, &ce) {
		t.Fatalf("damaged file: %v", err)
	}
	// No checksum beside it.
	bare := filepath.Join(t.TempDir(), "bare.db")
	b, _ = os.ReadFile(res.Path)
	_ = os.WriteFile(bare, b, 0o600)
	if _, err := backup.Restore(ctx, u, bare, backup.RestoreOptions{}); !errors.Is(err, backup.ErrNoChecksum) {
		t.Fatalf("no checksum: %v", err)
	}
	// Not a database, checksum skipped: the integrity check refuses it.
	junk := filepath.Join(t.TempDir(), "junk.db")
	_ = os.WriteFile(junk, []byte(strings.Repeat("not a database ", 400)), 0o600)
	if _, err := backup.Restore(ctx, u, junk, backup.RestoreOptions{SkipChecksum: true}); err == nil || !strings.Contains(err.Error(), "failed its check") {
		t.Fatalf("junk: %v", err)
	}
	path := store.SQLitePath(u)
	for _, leftover := range []string{path + ".before-restore", path + ".restore-partial"} {
		if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after refused restores", leftover)
		}
	}
	db = open(t, u)
	if n := requests(t, db, "2026-11-01"); n != 5 {
		t.Fatalf("database changed by a refused restore: %d", n)
	}
	db.Close()
	// The real backup without its checksum, when told to: fine.
	if _, err := backup.Restore(ctx, u, bare, backup.RestoreOptions{SkipChecksum: true}); err != nil {
		t.Fatal(err)
	}
	db = open(t, u)
	if n := requests(t, db, "2026-11-01"); n != 100 {
		t.Fatalf("restored %d", n)
	}
}

// A running server holds the in-use lock; restore waits for no one.
func TestStoreOpenRefusedDuringRestore(t *testing.T) {
	u := storetest.URL(t, store.SQLite)
	path := store.SQLitePath(u)
	_ = os.MkdirAll(filepath.Dir(path), 0o750)
	unlock, err := store.LockExclusive(path)
	if err != nil {
		t.Fatal(err)
	}
	if db, err := store.Open(context.Background(), u, store.Options{}); err == nil || !strings.Contains(err.Error(), "is being restored") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("open during a restore: %v", err)
	}
	unlock()
	db := open(t, u)
	if _, err := store.LockExclusive(path); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("exclusive lock while open: %v", err)
	}
	db.Close()
	unlock, err = store.LockExclusive(path)
	if err != nil {
		t.Fatalf("exclusive lock after close: %v", err)
	}
	unlock()
}

func TestTooOld(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	created := now.Add(-100 * time.Hour)
	ok := &backup.Record{ID: 1, Status: backup.StatusSucceeded, FinishedAt: now.Add(-27 * time.Hour)}
	failed := &backup.Record{ID: 2, Status: backup.StatusFailed, FinishedAt: now.Add(-time.Hour), Error: "disk full"}
	for _, tt := range []struct {
		name    string
		s       backup.State
		created time.Time
		want    string // substring; "" means quiet
	}{
		{"fresh database, no backup", backup.State{}, now.Add(-time.Hour), ""},
		{"old database, no backup", backup.State{}, created, "no backup has ever succeeded, and the database was created 100h ago"},
		{"old database, only failures", backup.State{Last: failed, Failed: 1}, created, "the last attempt, 2026-11-22T11:00:00Z, failed: disk full"},
		{"recent backup", backup.State{LastSuccess: &backup.Record{Status: backup.StatusSucceeded, FinishedAt: now.Add(-25 * time.Hour)}}, created, ""},
		{"old backup", backup.State{LastSuccess: ok, Last: ok}, created, "the last successful backup finished 27h ago (2026-11-21T09:00:00Z), more than 26h ago"},
		{"old backup, then a failure", backup.State{LastSuccess: ok, Last: failed}, created, "failed: disk full"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := backup.TooOld(tt.s, tt.created, now, 26*time.Hour)
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Fatalf("TooOld = %q, want %q", got, tt.want)
			}
			if got != "" && !strings.HasSuffix(got, `run "smarterdev backup"`) {
				t.Fatalf("no remedy in %q", got)
			}
		})
	}
}

// The database's creation time comes from the migration history, on every engine.
func TestDatabaseCreated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		at, err := backup.DatabaseCreated(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(at); d < -time.Minute || d > 5*time.Minute {
			t.Fatalf("created at %s, %s ago", at, d)
		}
	})
}
