package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
	"github.com/smarterdev/smarterdev/internal/web"
)

// The status page shows the last backup: when, how old, how big and whether
// the latest run worked; "no backup yet" with the command otherwise. Paths
// and error messages are for operators only.
func TestStatusPageBackup(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	maxAge := func(d *web.Deps) { d.BackupMaxAge = 26 * time.Hour }
	r := newRig(t, db, rigOpts{status: maxAge})
	admin := r.signIn(r.demo.AdminID) // manages the demo guild, not an operator

	res := admin.get("/status")
	if res.StatusCode != 200 || !strings.Contains(res.body, `id="no-backup"`) || !strings.Contains(res.body, "smarterdev backup --out") {
		t.Fatalf("before any backup: %d\n%s", res.StatusCode, res.body)
	}

	ctx := context.Background()
	insert := func(p sqldb.InsertBackupParams) {
		t.Helper()
		if err := db.Tx(ctx, func(tx *store.Tx) error { _, err := tx.InsertBackup(ctx, p); return err }); err != nil {
			t.Fatal(err)
		}
	}
	done := time.Now().UTC().Add(-3 * time.Hour)
	insert(sqldb.InsertBackupParams{StartedAt: done.Add(-time.Second), FinishedAt: done, Path: "/srv/backups/smarterdev-x.db",
		SizeBytes: 3 << 20, Sha256: strings.Repeat("ab", 32), Status: "succeeded"})
	res = admin.get("/status")
	for _, want := range []string{`id="last-backup"`, done.Format("2006-01-02 15:04 UTC"), `id="backup-age">3h<`, "3.0 MiB", "succeeded", `<span class="pill st-up">ok</span>`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("after a backup, the page lacks %q", want)
		}
	}
	if strings.Contains(res.body, "/srv/backups") || strings.Contains(res.body, "no-backup") {
		t.Errorf("a guild manager sees the backup path, or no backup")
	}

	insert(sqldb.InsertBackupParams{StartedAt: time.Now().UTC(), FinishedAt: time.Now().UTC(), Path: "/srv/backups/smarterdev-y.db",
		Status: "failed", Error: "copy the database: disk full"})
	res = admin.get("/status")
	if !strings.Contains(res.body, `id="backup-failed"`) || !strings.Contains(res.body, "last attempt failed") || strings.Contains(res.body, "disk full") {
		t.Errorf("after a failure, for a guild manager:\n%s", res.body)
	}

	// An operator sees the path, the checksum and the error.
	op := newRig(t, db, rigOpts{operators: []int64{int64(r.demo.AdminID)}, status: maxAge})
	res = op.signIn(op.demo.AdminID).get("/status")
	for _, want := range []string{"/srv/backups/smarterdev-x.db", strings.Repeat("ab", 32), "abababababab…", "disk full"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("an operator does not see %q", want)
		}
	}
	if t.Failed() {
		t.Log(res.body)
	}
}

// Older than SMARTERDEV_BACKUP_MAX_AGE: the page says overdue.
func TestStatusPageBackupOverdue(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	r := newRig(t, db, rigOpts{status: func(d *web.Deps) { d.BackupMaxAge = 26 * time.Hour }})
	done := time.Now().UTC().Add(-30 * time.Hour)
	if err := db.Tx(context.Background(), func(tx *store.Tx) error {
		_, err := tx.InsertBackup(context.Background(), sqldb.InsertBackupParams{StartedAt: done, FinishedAt: done, Path: "/b.db", SizeBytes: 10, Status: "succeeded"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	res := r.signIn(r.demo.AdminID).get("/status")
	if !strings.Contains(res.body, `<span class="pill st-down">overdue</span>`) || !strings.Contains(res.body, "Older than 26h (SMARTERDEV_BACKUP_MAX_AGE)") || !strings.Contains(res.body, "10 B") {
		t.Fatalf("overdue backup:\n%s", res.body)
	}
}
