// Package storetest gives tests a fresh, migrated database on every engine
// the environment offers: SQLite always, PostgreSQL when
// SMARTERDEV_TEST_DATABASE_URL is set. Each call gets its own SQLite file or
// PostgreSQL schema, removed when the test ends. With
// SMARTERDEV_REQUIRE_SERVICES=1 a missing PostgreSQL fails the test.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/store"
)

// RequireServices reports whether missing services must fail tests.
func RequireServices() bool { return os.Getenv("SMARTERDEV_REQUIRE_SERVICES") == "1" }

// Engines lists the engines to run a suite on.
func Engines(t testing.TB) []store.Dialect {
	engines := []store.Dialect{store.SQLite}
	if os.Getenv("SMARTERDEV_TEST_DATABASE_URL") != "" {
		engines = append(engines, store.Postgres)
	} else if RequireServices() {
		t.Fatal("SMARTERDEV_REQUIRE_SERVICES=1 but SMARTERDEV_TEST_DATABASE_URL is not set")
	} else {
		t.Log("PostgreSQL tests skipped: SMARTERDEV_TEST_DATABASE_URL is not set")
	}
	return engines
}

// Each runs fn as a subtest on every engine.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, e := range Engines(t) {
		t.Run(string(e), func(t *testing.T) { fn(t, Open(t, e)) })
	}
}

// URL returns a database URL for a fresh, empty database of the engine (not
// migrated), removed at the end of the test.
func URL(t testing.TB, engine store.Dialect) string {
	t.Helper()
	switch engine {
	case store.SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	case store.Postgres:
		base := os.Getenv("SMARTERDEV_TEST_DATABASE_URL")
		if base == "" {
			if RequireServices() {
				t.Fatal("SMARTERDEV_TEST_DATABASE_URL is not set")
			}
			t.Skip("SMARTERDEV_TEST_DATABASE_URL is not set")
		}
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := admin.PingContext(ctx); err != nil {
			admin.Close()
			if RequireServices() {
				t.Fatalf("postgres at SMARTERDEV_TEST_DATABASE_URL does not answer: %v", err)
			}
			t.Skipf("postgres does not answer: %v", err)
		}
		schema := "t_" + randomHex(8)
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			admin.Close()
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
			admin.Close()
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("parse SMARTERDEV_TEST_DATABASE_URL: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	t.Fatalf("unknown engine %q", engine)
	return ""
}

// Open returns a fresh, migrated database of the engine, closed at the end of the test.
func Open(t testing.TB, engine store.Dialect) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, URL(t, engine), store.Options{MaxConns: 32})
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	// Registered after URL's cleanup, so it runs first: close, then drop.
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	return db
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
