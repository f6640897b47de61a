package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

type pointKey struct{}

// PointRead drops cancellation on SQLite only, keeps the context's values,
// and still fails a read whose context is already done.
func TestPointRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), pointKey{}, "v"))
		defer cancel()
		got := db.PointRead(ctx)
		if got.Value(pointKey{}) != "v" {
			t.Fatal("the context's values are lost")
		}
		if (got.Done() == nil) != (db.Dialect == store.SQLite) {
			t.Fatalf("%s: Done() = %v", db.Dialect, got.Done())
		}
		if _, err := db.Q().GetBalance(got, sqldb.GetBalanceParams{GuildID: 1, UserID: 1}); !store.IsNoRows(err) {
			t.Fatalf("read: %v", err)
		}
		cancel()
		done := db.PointRead(ctx)
		if done.Err() == nil {
			t.Fatal("a canceled context became live again")
		}
		if _, err := db.Q().GetBalance(done, sqldb.GetBalanceParams{GuildID: 1, UserID: 1}); !errors.Is(err, context.Canceled) {
			t.Fatalf("read with a canceled context: %v", err)
		}
		if db.PointRead(context.Background()) != context.Background() {
			t.Fatal("a context that cannot be canceled should be kept")
		}
	})
}
