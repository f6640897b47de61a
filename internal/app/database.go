package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/smarterdev/smarterdev/internal/config"
	"github.com/smarterdev/smarterdev/internal/store"
)

func openDatabase(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL.Value(), store.Options{MaxConns: cfg.DatabaseMaxConns})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", config.RedactURL(cfg.DatabaseURL.Value()), err)
	}
	log.Info("database open", "engine", string(db.Dialect), "url", config.RedactURL(cfg.DatabaseURL.Value()))
	return db, nil
}

// SchemaError says the database is behind this binary and how to fix it.
type SchemaError struct{ Current, Latest int64 }

func (e *SchemaError) Error() string {
	return fmt.Sprintf(`database schema is at version %d, this binary needs %d: run "smarterdev migrate up" (or start with --migrate)`, e.Current, e.Latest)
}

// ensureSchema migrates an embedded SQLite database on every start (one
// machine, a file lock, nothing to coordinate), but on PostgreSQL only when
// asked: there a rollout migrates once, before new replicas start, and a
// replica that finds an old schema refuses rather than racing its siblings.
func (a *App) ensureSchema(ctx context.Context, migrate bool) error {
	if a.db.Dialect == store.SQLite || migrate {
		return migrateUp(ctx, a.db, a.log)
	}
	st, err := a.db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	if !st.UpToDate() {
		return &SchemaError{Current: st.Current, Latest: st.Latest}
	}
	return nil
}

func migrateUp(ctx context.Context, db *store.DB, log *slog.Logger) error {
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		log.Info("migrations applied", "versions", applied)
	}
	return nil
}

// checkMigrations is the readiness component: a replica whose schema was
// rolled back or never migrated must not take traffic.
func (a *App) checkMigrations(ctx context.Context) error {
	st, err := a.db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	if !st.UpToDate() {
		return fmt.Errorf("schema at version %d, binary needs %d", st.Current, st.Latest)
	}
	return nil
}
