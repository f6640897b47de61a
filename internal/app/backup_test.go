package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/alerting"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

func openStore(t *testing.T, env map[string]string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), env[config.EnvDatabaseURL], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func sloRequests(t *testing.T, env map[string]string) int64 {
	t.Helper()
	db := openStore(t, env)
	defer db.Close()
	var n int64
	if err := db.SQL().QueryRow("SELECT requests FROM slo_daily WHERE day = '2026-11-01'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func setSLORequests(t *testing.T, env map[string]string, n int64) {
	t.Helper()
	db := openStore(t, env)
	defer db.Close()
	if _, err := db.SQL().Exec("INSERT INTO slo_daily (day, requests, errors) VALUES ('2026-11-01', $1, 0) ON CONFLICT (day) DO UPDATE SET requests = excluded.requests", n); err != nil {
		t.Fatal(err)
	}
}

var backupLine = regexp.MustCompile(`(?m)^backup:\s+(\S+)$`)

// TestBackupRestoreCommands drives "smarterdev backup" and "smarterdev
// restore" on every engine: backup, modify, restore, and the data is back.
// On SQLite, restore is refused while a server has the database open.
func TestBackupRestoreCommands(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(string(engine), func(t *testing.T) {
			env := sqliteEnv(t)
			if engine == store.Postgres {
				for _, tool := range []string{"pg_dump", "pg_restore"} {
					if _, err := exec.LookPath(tool); err != nil {
						if storetest.RequireServices() {
							t.Fatalf("%s is not on PATH (Debian package postgresql-client)", tool)
						}
						t.Skipf("%s is not on PATH", tool)
					}
				}
				env[config.EnvDatabaseURL] = storetest.URL(t, store.Postgres)
				if code, out, errOut := run(t, env, "migrate", "up"); code != 0 {
					t.Fatalf("migrate: %d %s %s", code, out, errOut)
				}
			} else if code, _, errOut := run(t, env, "migrate", "up"); code != 0 {
				t.Fatalf("migrate: %d %s", code, errOut)
			}
			setSLORequests(t, env, 100)

			dir := filepath.Join(t.TempDir(), "backups")
			code, out, errOut := run(t, env, "backup", "--out", dir)
			if code != 0 {
				t.Fatalf("backup: %d %s %s", code, out, errOut)
			}
			m := backupLine.FindStringSubmatch(out)
			if m == nil || !strings.Contains(out, "size:") || !strings.Contains(out, "duration:") || !strings.Contains(out, "sha256:") {
				t.Fatalf("backup output: %s", out)
			}
			file := m[1]
			if filepath.Dir(file) != dir || !regexp.MustCompile(`^smarterdev-\d{8}T\d{6}Z\.(db|dump)$`).MatchString(filepath.Base(file)) {
				t.Fatalf("backup file %s", file)
			}
			if _, err := os.Stat(file + ".sha256"); err != nil {
				t.Fatal(err)
			}

			setSLORequests(t, env, 999)

			// Usage errors: exit 2, one line naming the fix.
			if code, _, errOut := run(t, env, "restore", file); code != ExitUsage || !strings.Contains(errOut, "run again with --yes to confirm") {
				t.Fatalf("restore without --yes: %d %s", code, errOut)
			}
			if code, _, errOut := run(t, env, "restore", filepath.Join(dir, "nope.db"), "--yes"); code != ExitUsage || !strings.Contains(errOut, "is not a backup file") {
				t.Fatalf("restore of a missing file: %d %s", code, errOut)
			}
			if code, _, errOut := run(t, env, "restore"); code != ExitUsage {
				t.Fatalf("restore without a file: %d %s", code, errOut)
			}
			if sloRequests(t, env) != 999 {
				t.Fatal("a refused restore changed the database")
			}

			if engine == store.SQLite {
				srv := start(t, env, "serve")
				code, _, errOut := run(t, env, "restore", file, "--yes")
				if code != ExitFailure || !strings.Contains(errOut, "is in use by a running smarterdev process") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
					t.Fatalf("restore under a running server: %d %s", code, errOut)
				}
				if c := srv.stop(t); c != 0 {
					t.Fatalf("server exit %d", c)
				}
			}
			code, out, errOut = run(t, env, "restore", file, "--yes")
			if code != 0 {
				t.Fatalf("restore: %d %s %s", code, out, errOut)
			}
			if !strings.Contains(out, "restored "+file) || !strings.Contains(out, "schema at version") {
				t.Fatalf("restore output: %s", out)
			}
			if engine == store.SQLite && !strings.Contains(out, ".before-restore") {
				t.Fatalf("restore output does not say where the old database is: %s", out)
			}
			if n := sloRequests(t, env); n != 100 {
				t.Fatalf("after restore requests = %d, want 100", n)
			}
		})
	}
}

// After a backup, /metrics and /status.json report it.
func TestBackupMetricsAndStatus(t *testing.T) {
	env := sqliteEnv(t)
	srv := start(t, env, "serve")
	body := scrape(t, srv.addr)
	for _, want := range []string{"smarterdev_backup_last_success_timestamp_seconds 0\n", `smarterdev_backups_total{status="succeeded"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q before a backup", want)
		}
	}
	before := time.Now()
	if code, out, errOut := run(t, env, "backup", "--out", t.TempDir()); code != 0 {
		t.Fatalf("backup: %d %s %s", code, out, errOut)
	}
	body = scrape(t, srv.addr)
	m := regexp.MustCompile(`(?m)^smarterdev_backup_last_success_timestamp_seconds (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no backup gauge in %s", body)
	}
	ts, _ := strconv.ParseFloat(m[1], 64)
	if at := time.Unix(int64(ts), 0); at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Fatalf("last success %s, want about now", at)
	}
	if !strings.Contains(body, `smarterdev_backups_total{status="succeeded"} 1`) {
		t.Fatalf("backups_total not counted")
	}
	_, js := get(t, "http://"+srv.addr+"/status.json")
	var st struct {
		Backup struct {
			LastSuccessAt *time.Time `json:"last_success_at"`
			SizeBytes     int64      `json:"size_bytes"`
			LastStatus    string     `json:"last_status"`
		}
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil || st.Backup.LastSuccessAt == nil || st.Backup.SizeBytes <= 0 || st.Backup.LastStatus != "succeeded" {
		t.Fatalf("status.json backup: %s", js)
	}
	if strings.Contains(js, ".db") {
		t.Fatalf("status.json shows a backup path: %s", js)
	}
}

// /status.json carries the built-in alerting's latest report: what fires,
// not what it says (summaries name API keys). serve runs the worker's
// alerting, which publishes a report at its first evaluation.
func TestStatusAlerts(t *testing.T) {
	env := sqliteEnv(t)
	if code, _, errOut := run(t, env, "migrate", "up"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	// A key ending in two days: APIKeyExpiring fires at the first evaluation.
	if code, _, errOut := run(t, env, "apikey", "create", "--name", "deploy-bot", "--scope", "read", "--expires-in", "2d"); code != 0 {
		t.Fatalf("apikey create: %s", errOut)
	}
	srv := start(t, env, "serve")
	type report struct {
		Alerts *struct {
			Reported    bool
			EvaluatedAt *time.Time `json:"evaluated_at"`
			Stale       bool
			Firing      []struct{ Name, Severity string }
		}
		Errors map[string]string
	}
	var st report
	var js string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, js = get(t, "http://"+srv.addr+"/status.json")
		st = report{}
		if json.Unmarshal([]byte(js), &st) == nil && st.Alerts != nil && st.Alerts.Reported {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reported evaluation in /status.json: %s", js)
		}
	}
	if st.Alerts.EvaluatedAt == nil || time.Since(*st.Alerts.EvaluatedAt) > time.Minute || st.Alerts.Stale || len(st.Errors) != 0 {
		t.Fatalf("status.json alerts: %s", js)
	}
	// The key's alert fires, named without the key; nothing else does on a
	// new database (BackupTooOld waits for it to be older than its maximum age).
	if len(st.Alerts.Firing) != 1 || st.Alerts.Firing[0].Name != "APIKeyExpiring" || st.Alerts.Firing[0].Severity != "warning" {
		t.Fatalf("firing: %s", js)
	}
	if strings.Contains(js, "deploy-bot") {
		t.Fatalf("status.json says what the alert says: %s", js)
	}
}

// A failing PostgreSQL backup names the missing tool, exits 1 and is
// recorded for the status page and the alerts.
func TestBackupCommandWithoutPgDump(t *testing.T) {
	env := sqliteEnv(t)
	env[config.EnvDatabaseURL] = storetest.URL(t, store.Postgres)
	if code, _, errOut := run(t, env, "migrate", "up"); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	t.Setenv("PATH", t.TempDir())
	code, _, errOut := run(t, env, "backup", "--out", t.TempDir())
	if code != ExitFailure || !strings.Contains(errOut, "smarterdev: backup failed: pg_dump is not on PATH: install") {
		t.Fatalf("backup without pg_dump: %d %s", code, errOut)
	}
}

// TestBackupTooOldCondition: the built-in alert stays quiet on a new
// database and after a recent backup, fires when the last success is older
// than the maximum age or none ever succeeded on an old database, and names
// the last failure.
func TestBackupTooOldCondition(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		clock := now
		check := backupTooOldCheck(db, 26*time.Hour, func() time.Time { return clock })
		expect := func(want string) {
			t.Helper()
			got, err := check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want == "" && got != "" || !strings.Contains(got, want) {
				t.Fatalf("at +%s: %q, want %q", clock.Sub(now), got, want)
			}
		}
		insert := func(status, errMsg string, finished time.Time) {
			t.Helper()
			if err := db.Tx(ctx, func(tx *store.Tx) error {
				_, err := tx.InsertBackup(ctx, sqldb.InsertBackupParams{StartedAt: finished.Add(-time.Second), FinishedAt: finished,
					Path: "/b/x.db", SizeBytes: 10, Status: status, Error: errMsg})
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		expect("") // a database created just now
		clock = now.Add(27 * time.Hour)
		expect("no backup has ever succeeded, and the database was created 27h")
		insert("succeeded", "", clock.Add(-time.Hour))
		expect("")
		clock = clock.Add(26 * time.Hour)
		expect("the last successful backup finished 27h ago")
		insert("failed", "pg_dump failed: connection refused", clock.Add(-time.Minute))
		expect("failed: pg_dump failed: connection refused")
	})
}

// The condition is wired only with a maximum age, and goes out to the
// receivers with its runbook link like the others.
func TestBackupTooOldAlert(t *testing.T) {
	a := &App{db: storetest.Open(t, store.SQLite)}
	if len(a.backupTooOldCondition()) != 0 {
		t.Fatal("condition wired with SMARTERDEV_BACKUP_MAX_AGE=0")
	}
	a.cfg.BackupMaxAge = time.Hour
	conds := a.backupTooOldCondition()
	if len(conds) != 1 || conds[0].Name != "BackupTooOld" || !alerting.Known(conds[0].Name) || conds[0].Runbook != "docs/runbook.md#backup-too-old" {
		t.Fatalf("conditions %+v", conds)
	}
	runbook, err := os.ReadFile("../../docs/runbook.md")
	if err != nil || !strings.Contains(string(runbook), "\n## Backup too old\n") {
		t.Fatalf("runbook section missing: %v", err)
	}
	var mu sync.Mutex
	var got []string
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer slack.Close()
	clock := time.Now().Add(2 * time.Hour) // the database is two hours old, never backed up
	conds[0].Check = backupTooOldCheck(a.db, time.Hour, func() time.Time { return clock })
	al := alerting.New(conds, []alerting.Receiver{alerting.Slack{URL: slack.URL}}, alerting.Options{Now: func() time.Time { return clock }})
	al.Evaluate(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.Contains(got[0], "BackupTooOld") || !strings.Contains(got[0], "no backup has ever succeeded") ||
		!strings.Contains(got[0], "backup-too-old") {
		t.Fatalf("notifications %v", got)
	}
}
