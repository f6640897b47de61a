package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"

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
