package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			url := storetest.URL(t, e)
			var wg sync.WaitGroup
			errs := make([]error, 3)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db, err := store.Open(ctx, url, store.Options{})
					if err != nil {
						errs[i] = err
						return
					}
					defer db.Close()
					_, errs[i] = db.Migrate(ctx)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("concurrent migrate: %v", err)
				}
			}
			db, err := store.Open(ctx, url, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			applied, err := db.Migrate(ctx)
			if err != nil || len(applied) != 0 {
				t.Fatalf("second migrate applied %v, err %v; want nothing", applied, err)
			}
			st, err := db.MigrationStatus(ctx)
			if err != nil || !st.UpToDate() || st.Current != st.Latest || st.Latest < 1 {
				t.Fatalf("status %+v, err %v", st, err)
			}
		})
	}
}

func TestStatusReportsPendingOnFreshDatabase(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, storetest.URL(t, e), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			st, err := db.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.UpToDate() || st.Current != 0 || len(st.Pending) == 0 {
				t.Fatalf("fresh database reported %+v", st)
			}
		})
	}
}

func TestLedgerIsAppendOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		err := db.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.InsertLedger(ctx, sqldb.InsertLedgerParams{GuildID: 1, UserID: 2, Kind: "open", Delta: 5, BalanceAfter: 5, CreatedAt: tx.Now()})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range []string{"UPDATE ledger SET delta = 6", "DELETE FROM ledger"} {
			_, err := db.SQL().ExecContext(ctx, stmt)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want append-only refusal", stmt, err)
			}
		}
	})
}

func TestTxRollsBackOnError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_ = db.Tx(ctx, func(tx *store.Tx) error {
			if _, err := tx.OpenAccount(ctx, sqldb.OpenAccountParams{GuildID: 1, UserID: 2, Balance: 100, Now: tx.Now()}); err != nil {
				t.Fatal(err)
			}
			return context.Canceled
		})
		_, err := db.Q().GetAccount(ctx, sqldb.GetAccountParams{GuildID: 1, UserID: 2})
		if !store.IsNoRows(err) {
			t.Fatalf("account survived a rolled-back transaction: err=%v", err)
		}
	})
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql://x", store.Options{})
	if err == nil || !strings.Contains(err.Error(), "sqlite:PATH") {
		t.Fatalf("err = %v", err)
	}
}

func TestPostgresSessionsRunInUTC(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		if e != store.Postgres {
			continue
		}
		db := storetest.Open(t, e)
		var tz string
		if err := db.SQL().QueryRowContext(context.Background(), "SHOW timezone").Scan(&tz); err != nil {
			t.Fatal(err)
		}
		if tz != "UTC" {
			t.Fatalf("session time zone %q, want UTC", tz)
		}
	}
}

// statementCaches reports the cache sizes of a connection of db.
func statementCaches(t *testing.T, db *store.DB) (statements, descriptions int, mode pgx.QueryExecMode) {
	t.Helper()
	conn, err := db.SQL().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		cfg := dc.(*stdlib.Conn).Conn().Config()
		statements, descriptions, mode = cfg.StatementCacheCapacity, cfg.DescriptionCacheCapacity, cfg.DefaultQueryExecMode
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return statements, descriptions, mode
}

func TestPostgresStatementCaches(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		if e != store.Postgres {
			continue
		}
		ctx := context.Background()
		base := storetest.URL(t, e)
		for _, c := range []struct {
			query        string
			stmts, descs int
			wantMode     pgx.QueryExecMode
		}{
			{"", store.StatementCacheCapacity, 0, pgx.QueryExecModeCacheStatement},
			// What the operator sets is kept.
			{"&statement_cache_capacity=40&description_cache_capacity=7", 40, 7, pgx.QueryExecModeCacheStatement},
			// The describe mode uses the describe cache: pgx's default size.
			{"&default_query_exec_mode=cache_describe", store.StatementCacheCapacity, 512, pgx.QueryExecModeCacheDescribe},
		} {
			db, err := store.Open(ctx, base+c.query, store.Options{})
			if err != nil {
				t.Fatalf("%q: %v", c.query, err)
			}
			stmts, descs, mode := statementCaches(t, db)
			db.Close()
			if stmts != c.stmts || descs != c.descs || mode != c.wantMode {
				t.Errorf("%q: statement cache %d, describe cache %d, mode %v; want %d, %d, %v", c.query, stmts, descs, mode, c.stmts, c.descs, c.wantMode)
			}
		}
	}
}

// TestStatementsFitTheCache keeps the default statement cache above what
// the product prepares: sqlc's queries plus a margin for the hand-written
// ones (balances' three IN sizes, the job bus, the outbox, backups'
// per-table dumps). A cache smaller than the working set would evict and
// prepare again on every other query.
func TestStatementsFitTheCache(t *testing.T) {
	files, err := filepath.Glob("sqldb/*.sql.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated queries found: %v", err)
	}
	queries := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		queries += strings.Count(string(b), "\nconst ")
	}
	const handWritten = 64
	if queries < 50 || queries+handWritten > store.StatementCacheCapacity {
		t.Fatalf("%d generated queries + %d hand-written exceed the statement cache (%d): raise store.StatementCacheCapacity",
			queries, handWritten, store.StatementCacheCapacity)
	}
}
