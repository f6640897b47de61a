package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// GetBalances returns exactly the accounts asked for that exist, in the
// guild asked for, with their values, whatever size class the list falls in.
func TestGetBalances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Guild 1: users 1..200 with balance 1000+user; guild 2: the same ids, balance 7.
		if err := db.Tx(ctx, func(tx *store.Tx) error {
			for u := int64(1); u <= 200; u++ {
				if _, err := tx.OpenAccount(ctx, sqldb.OpenAccountParams{GuildID: 1, UserID: u, Balance: 1000 + u, Now: tx.Now()}); err != nil {
					return err
				}
				if _, err := tx.OpenAccount(ctx, sqldb.OpenAccountParams{GuildID: 2, UserID: u, Balance: 7, Now: tx.Now()}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 7, 8, 9, 32, 33, 100, store.BalancesBatch} {
			var users []int64
			for i := range n {
				users = append(users, int64(3*i+1)) // every third id: 1, 4, 7, ...; over 200 for large n
			}
			users = append(users[:len(users)-1], 5000) // and one without an account
			rows, err := db.GetBalances(ctx, 1, users)
			if err != nil {
				t.Fatalf("%d users: %v", n, err)
			}
			var got []int64
			for _, r := range rows {
				if r.Balance != 1000+r.UserID {
					t.Fatalf("%d users: user %d has balance %d, want %d (another guild's row?)", n, r.UserID, r.Balance, 1000+r.UserID)
				}
				got = append(got, r.UserID)
			}
			slices.Sort(got)
			var want []int64
			for _, u := range users {
				if u <= 200 {
					want = append(want, u)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%d users: read %v, want %v", n, got, want)
			}
		}
		if rows, err := db.GetBalances(ctx, 1, nil); err != nil || len(rows) != 0 {
			t.Fatalf("no users: %v, %v", rows, err)
		}
		if _, err := db.GetBalances(ctx, 1, make([]int64, store.BalancesBatch+1)); err == nil {
			t.Fatal("more users than a batch: no error")
		}
	})
}
