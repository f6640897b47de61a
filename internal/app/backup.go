package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/smarterdev/smarterdev/internal/alerting"
	"github.com/smarterdev/smarterdev/internal/backup"
	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/store"
)

// backupCommand takes a verified backup and records it (internal/backup).
func backupCommand(e env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "backup [--out DIR]",
		Short: "Write a verified copy of the database to DIR and record it (SQLite: VACUUM INTO; PostgreSQL: pg_dump)",
		Long: "Write a verified copy of the database to DIR and record it in the backups table.\n\n" +
			"SQLite: a consistent online copy (VACUUM INTO), checked with PRAGMA integrity_check.\n" +
			"PostgreSQL: pg_dump --format=custom (pg_dump must be on PATH), checked with pg_restore --list.\n" +
			"The file appears under its final name only once complete, with FILE.sha256 beside it.\n" +
			"Safe while servers run. Restore with \"smarterdev restore FILE --yes\".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := e.setup()
			if err != nil {
				return err
			}
			if dir == "" {
				return usageError(errors.New(`--out is empty: want a folder, e.g. --out /var/backups/smarterdev (default ` + backup.DefaultDir + `)`))
			}
			ctx := cmd.Context()
			db, err := openDatabase(ctx, cfg, log)
			if err != nil {
				return failure(cfg, err)
			}
			defer db.Close()
			// As every command on SQLite: the schema is brought up to date, so
			// the run can be recorded. PostgreSQL is left as it is.
			if db.Dialect == store.SQLite {
				if err := migrateUp(ctx, db, log); err != nil {
					return failure(cfg, err)
				}
			}
			res, err := backup.Run(ctx, db, cfg.DatabaseURL.Value(), backup.Options{Dir: dir})
			var rec *backup.RecordError
			switch {
			case errors.As(err, &rec):
				printBackup(e, res)
				return failure(cfg, fmt.Errorf(`backup written to %s, but %v (an old schema? run "smarterdev migrate up")`, res.Path, rec))
			case err != nil:
				return failure(cfg, fmt.Errorf("backup failed: %w", err))
			}
			printBackup(e, res)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "out", backup.DefaultDir, "folder to write the backup to (created if missing)")
	return cmd
}

func printBackup(e env, res backup.Result) {
	fmt.Fprintf(e.stdout, "backup:   %s\nsize:     %s (%d bytes)\nduration: %s\nsha256:   %s (in %s.sha256)\nschema:   version %d\n",
		res.Path, humanBytes(res.SizeBytes), res.SizeBytes, res.Duration().Round(time.Millisecond), res.SHA256, res.Path, res.SchemaVersion)
}

// restoreCommand replaces the database with a backup.
func restoreCommand(e env) *cobra.Command {
	var yes, skipChecksum bool
	cmd := &cobra.Command{
		Use:   "restore FILE --yes",
		Short: "Replace the database with a backup written by \"smarterdev backup\"",
		Long: "Replace the database with a backup written by \"smarterdev backup\", after checking\n" +
			"its SHA-256 (FILE.sha256) and its contents.\n\n" +
			"SQLite: refused while any smarterdev process has the database open (stop them first);\n" +
			"the replaced database is kept as PATH.before-restore.\n" +
			"PostgreSQL: pg_restore --clean --if-exists in one transaction (pg_restore must be on\n" +
			"PATH); stop web, bot and worker first. Objects the backup does not have are left alone.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, log, err := e.setup()
			if err != nil {
				return err
			}
			file := args[0]
			where := config.RedactURL(cfg.DatabaseURL.Value())
			if st, err := os.Stat(file); err != nil || st.IsDir() {
				why := "is a directory"
				if err != nil {
					why = "does not exist or cannot be read"
				}
				return usageError(fmt.Errorf("%s is not a backup file (it %s): pass the path of a file written by \"smarterdev backup\"", file, why))
			}
			if !yes {
				return usageError(fmt.Errorf("restore replaces the database %s with %s: run again with --yes to confirm", where, file))
			}
			ctx := cmd.Context()
			res, err := backup.Restore(ctx, cfg.DatabaseURL.Value(), file, backup.RestoreOptions{SkipChecksum: skipChecksum})
			if errors.Is(err, backup.ErrNoChecksum) {
				return failure(cfg, fmt.Errorf("%s.sha256 is missing: restore checks the file against the checksum \"smarterdev backup\" writes beside it; put it back, or pass --skip-checksum to trust the file as it is", file))
			}
			if err != nil {
				return failure(cfg, fmt.Errorf("restore failed, the database was not changed: %w", err))
			}
			fmt.Fprintf(e.stdout, "restored %s (sha256 %s) into %s\n", file, res.SHA256, where)
			if res.Previous != "" {
				fmt.Fprintf(e.stdout, "the replaced database is kept as %s\n", res.Previous)
			}
			db, err := openDatabase(ctx, cfg, log)
			if err != nil {
				return failure(cfg, err)
			}
			defer db.Close()
			st, err := db.MigrationStatus(ctx)
			if err != nil {
				return failure(cfg, err)
			}
			fmt.Fprintf(e.stdout, "schema at version %d, this binary needs %d", st.Current, st.Latest)
			switch {
			case st.UpToDate():
				fmt.Fprintln(e.stdout)
			case db.Dialect == store.SQLite:
				fmt.Fprintln(e.stdout, ": the server migrates it when it starts")
			default:
				fmt.Fprintln(e.stdout, `: run "smarterdev migrate up" before starting the servers`)
			}
			fmt.Fprintln(e.stdout, `backup history is now as of that backup: take a new one with "smarterdev backup" once the servers run`)
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm that the database is to be replaced (required)")
	cmd.Flags().BoolVar(&skipChecksum, "skip-checksum", false, "restore a file that has no FILE.sha256 beside it (it is still checked)")
	return cmd
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// backupTooOldCondition is the worker's BackupTooOld alert: the last
// successful backup is older than SMARTERDEV_BACKUP_MAX_AGE, or none ever
// succeeded and the database is older than that. 0 turns it off.
func (a *App) backupTooOldCondition() []alerting.Condition {
	maxAge := a.cfg.BackupMaxAge
	if maxAge <= 0 {
		return nil
	}
	return []alerting.Condition{{Name: "BackupTooOld", Severity: "warning", Runbook: "docs/runbook.md#backup-too-old",
		Check: backupTooOldCheck(a.db, maxAge, time.Now)}}
}

func backupTooOldCheck(db *store.DB, maxAge time.Duration, now func() time.Time) alerting.Check {
	return func(ctx context.Context) (string, error) {
		st, err := backup.ReadState(ctx, db.Q())
		if err != nil {
			return "", err
		}
		var created time.Time
		if st.LastSuccess == nil {
			if created, err = backup.DatabaseCreated(ctx, db); err != nil {
				return "", err
			}
		}
		return backup.TooOld(st, created, now(), maxAge), nil
	}
}

// backupState reads the backups table for /metrics.
func (a *App) backupState(ctx context.Context) (lastSuccess time.Time, succeeded, failed int64, err error) {
	st, err := backup.ReadState(ctx, a.db.Q())
	if err != nil {
		return time.Time{}, 0, 0, err
	}
	if st.LastSuccess != nil {
		lastSuccess = st.LastSuccess.FinishedAt
	}
	return lastSuccess, st.Succeeded, st.Failed, nil
}
