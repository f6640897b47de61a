package economy_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus/redisbus/redistest"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// dbBalance reads the account straight from the database, past any cache.
func dbBalance(t *testing.T, db *store.DB, g, user int64) int64 {
	t.Helper()
	a, err := db.Q().GetAccount(context.Background(), sqldb.GetAccountParams{GuildID: g, UserID: user})
	if err != nil {
		t.Fatalf("read account %d: %v", user, err)
	}
	return a.Balance
}

// Every write of the service is visible to the next Balance in the same
// process, though the cache would keep a read for an hour.
func TestBalanceReadsYourWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock(t0)
		s := economy.NewService(db, newBus(t), economy.Options{Now: clk.Now, AccountTTL: time.Hour})
		mustEnsure(t, s, alice)
		mustEnsure(t, s, bob)
		check := func(step string) {
			t.Helper()
			for _, m := range []economy.Member{alice, bob} {
				if got, want := mustBalance(t, s, m.ID).Balance, dbBalance(t, db, guild, m.ID); got != want {
					t.Errorf("after %s: Balance(%s) = %d, the database has %d", step, m.Name, got, want)
				}
			}
		}
		check("opening")
		if _, err := s.ClaimDaily(ctx, guild, alice); err != nil {
			t.Fatal(err)
		}
		check("a daily claim")
		if _, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: alice, Receiver: bob, Amount: 7}); err != nil {
			t.Fatal(err)
		}
		check("a transfer")
		if _, err := s.Adjust(ctx, guild, bob, 99, 50, "prize"); err != nil {
			t.Fatal(err)
		}
		check("a grant")
		if _, err := s.Adjust(ctx, guild, alice, 99, -3, "fine"); err != nil {
			t.Fatal(err)
		}
		check("a deduction")
		if _, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: alice, Receiver: bob, Amount: 1_000_000}); err == nil {
			t.Fatal("a transfer above the balance was accepted")
		}
		check("a refused transfer")
		if bal := mustBalance(t, s, bob.ID).Balance; bal != 100+7+50 {
			t.Errorf("bob has %d, want 157", bal)
		}
	})
}

// A service standing for another process, sharing the bus, drops its cached
// balance when the writer announces the write; one that hears nothing (its
// own bus) serves the cached balance until the TTL, then the new one.
func TestBalanceCacheAcrossProcesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		shared := newBus(t)
		writer := economy.NewService(db, shared, economy.Options{AccountTTL: time.Hour})
		reader := economy.NewService(db, shared, economy.Options{AccountTTL: time.Hour})
		const ttl = 300 * time.Millisecond
		deaf := economy.NewService(db, newBus(t), economy.Options{AccountTTL: ttl})
		for _, s := range []*economy.Service{writer, reader, deaf} {
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
		mustEnsure(t, writer, alice)
		mustEnsure(t, writer, bob)
		cachedAt := time.Now()
		for _, s := range []*economy.Service{reader, deaf} {
			if a := mustBalance(t, s, alice.ID); a.Balance != 100 {
				t.Fatalf("initial balance %d", a.Balance)
			}
		}
		if _, err := writer.Transfer(ctx, guild, economy.TransferRequest{Giver: alice, Receiver: bob, Amount: 40}); err != nil {
			t.Fatal(err)
		}
		if got := mustBalance(t, deaf, alice.ID).Balance; time.Since(cachedAt) < ttl && got != 100 {
			t.Errorf("a process that heard nothing read %d within the TTL; the cache is not being exercised", got)
		}
		waitBalance(t, reader, alice.ID, 60, time.Second, "the process sharing the bus")
		waitBalance(t, deaf, alice.ID, 60, ttl+time.Second, "the process past its TTL")
	})
}

func waitBalance(t *testing.T, s *economy.Service, user, want int64, within time.Duration, who string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := mustBalance(t, s, user).Balance
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still reads %d after %v; want %d", who, got, within, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBalanceCacheAcrossProcessesOverRedis: the same over Redis, each
// "process" with its own client and bus, the cache TTL an hour.
func TestBalanceCacheAcrossProcessesOverRedis(t *testing.T) {
	opt := redistest.Options(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		prefix := redistest.Prefix(t, redistest.Client(t), "acctcache")
		o := economy.Options{AccountTTL: time.Hour}
		writer, reader := redisProcess(t, ctx, db, opt, prefix, o), redisProcess(t, ctx, db, opt, prefix, o)
		mustEnsure(t, writer, alice)
		mustEnsure(t, writer, bob)
		if a := mustBalance(t, reader, bob.ID); a.Balance != 100 {
			t.Fatalf("initial balance %d", a.Balance)
		}
		if _, err := writer.ClaimDaily(ctx, guild, bob); err != nil {
			t.Fatal(err)
		}
		waitBalance(t, reader, bob.ID, 110, time.Second, "the other process")
	})
}

// Reads racing with writes never leave a stale balance behind: once the
// writes stop, every cached balance is the database's, though the TTL is an
// hour (a read that raced with a write is not cached).
func TestBalanceCacheUnderConcurrentWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := economy.NewService(db, newBus(t), economy.Options{AccountTTL: time.Hour})
		members := []economy.Member{alice, bob, carol}
		for _, m := range members {
			mustEnsure(t, s, m)
		}
		stop := make(chan struct{})
		var readers sync.WaitGroup
		for range 4 {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := s.Balance(ctx, guild, members[i%3].ID); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		var writers sync.WaitGroup
		for w := range 3 {
			writers.Add(1)
			go func() {
				defer writers.Done()
				for i := range 40 {
					m := members[(w+i)%3]
					if _, err := s.Adjust(ctx, guild, m, 99, int64(1+i%5), "race"); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		writers.Wait()
		close(stop)
		readers.Wait()
		for _, m := range members {
			if got, want := mustBalance(t, s, m.ID).Balance, dbBalance(t, db, guild, m.ID); got != want {
				t.Errorf("%s: cached %d, database %d", m.Name, got, want)
			}
		}
	})
}
