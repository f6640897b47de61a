package economy_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// runConcurrently starts n calls of fn at once and returns their errors.
func runConcurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func TestConcurrentTransfersNeverOverdraw(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		mustEnsure(t, s, alice)
		for id := int64(2); id <= 21; id++ {
			mustEnsure(t, s, member(id, ""))
		}
		// 20 transfers of 10 from a balance of 100: exactly 10 fit.
		warmPool(t, db, 20)
		errs := runConcurrently(20, func(i int) error {
			_, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: alice, Receiver: member(int64(i+2), ""), Amount: 10})
			return err
		})
		ok := 0
		for _, err := range errs {
			var inf *economy.InsufficientFundsError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &inf):
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 10 {
			t.Errorf("%d transfers succeeded, want 10", ok)
		}
		if a := mustBalance(t, s, alice.ID); a.Balance != 0 || a.TotalSent != 100 {
			t.Errorf("giver %+v; want 0 left, 100 sent", a)
		}
		tot, err := s.Totals(ctx, guild)
		if err != nil || tot.Circulation != 21*100 {
			t.Errorf("circulation %+v, %v; want %d (bytes are conserved)", tot, err, 21*100)
		}
		checkLedgerConsistent(t, db)
	})
}

func TestConcurrentCrossingTransfers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		mustEnsure(t, s, alice)
		mustEnsure(t, s, bob)
		// alice→bob and bob→alice at once must not deadlock or lose bytes.
		warmPool(t, db, 20)
		errs := runConcurrently(20, func(i int) error {
			g, r := alice, bob
			if i%2 == 1 {
				g, r = bob, alice
			}
			_, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: g, Receiver: r, Amount: 1})
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Errorf("crossing transfer: %v", err)
			}
		}
		a, b := mustBalance(t, s, alice.ID), mustBalance(t, s, bob.ID)
		if a.Balance != 100 || b.Balance != 100 || a.TotalSent != 10 || b.TotalReceived != 10 {
			t.Errorf("alice %+v bob %+v; want 100 each, 10 sent/received", a, b)
		}
		checkLedgerConsistent(t, db)
	})
}

func TestConcurrentTransfersRespectCooldown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		mustUpdate(t, s, func(c *economy.Config) { c.TransferCooldownHours = 1 })
		mustEnsure(t, s, alice)
		warmPool(t, db, 20)
		errs := runConcurrently(10, func(i int) error {
			_, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: alice, Receiver: member(int64(i+2), ""), Amount: 1})
			return err
		})
		ok := 0
		for _, err := range errs {
			var cd *economy.CooldownError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &cd):
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d transfers passed the cooldown at once, want 1", ok)
		}
		if a := mustBalance(t, s, alice.ID); a.Balance != 99 {
			t.Errorf("giver balance %d, want 99", a.Balance)
		}
	})
}

// A member's first transfers (their account does not exist yet) may arrive at
// once, e.g. two /bytes send from two shards; both fit in the starting
// balance, so both must succeed.
func TestConcurrentFirstTransfersOfNewGiver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		// Each to another existing member, so that nothing else serialises them.
		for i := range 10 {
			mustEnsure(t, s, member(int64(60+i), ""))
		}
		dave := member(50, "dave")
		warmPool(t, db, 20)
		errs := runConcurrently(10, func(i int) error {
			_, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: dave, Receiver: member(int64(60+i), ""), Amount: 10})
			return err
		})
		failed := 0
		for _, err := range errs {
			if err != nil {
				failed++
				t.Errorf("first transfers of a new giver: %v", err)
			}
		}
		if d := mustBalance(t, s, dave.ID); d.Balance != int64(failed)*10 {
			t.Errorf("dave's balance %d with %d failures", d.Balance, failed)
		}
		if n := countLedger(t, db, dave.ID, economy.KindOpen); n != 1 {
			t.Errorf("%d open rows, want 1", n)
		}
		checkLedgerConsistent(t, db)
	})
}

// warmPool opens n connections of the writer pool at once, so concurrent
// transactions in a test really overlap instead of queueing behind dials.
func warmPool(t *testing.T, db *store.DB, n int) {
	t.Helper()
	if db.Dialect != store.Postgres {
		return
	}
	ctx := context.Background()
	var txs []*sql.Tx
	for range n {
		tx, err := db.SQL().BeginTx(ctx, nil)
		if err != nil {
			t.Fatalf("warm pool: %v", err)
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		_ = tx.Rollback()
	}
}
