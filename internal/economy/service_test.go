package economy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

var (
	alice = member(1, "alice")
	bob   = member(2, "bob")
	carol = member(3, "carol")
)

func mustEnsure(t *testing.T, s *economy.Service, m economy.Member) economy.Account {
	t.Helper()
	a, _, err := s.EnsureAccount(context.Background(), guild, m)
	if err != nil {
		t.Fatalf("EnsureAccount(%d): %v", m.ID, err)
	}
	return a
}

func mustBalance(t *testing.T, s *economy.Service, user int64) economy.Account {
	t.Helper()
	a, err := s.Balance(context.Background(), guild, user)
	if err != nil {
		t.Fatalf("Balance(%d): %v", user, err)
	}
	return a
}

func mustUpdate(t *testing.T, s *economy.Service, edit func(c *economy.Config)) economy.Config {
	t.Helper()
	c := economy.DefaultConfig()
	edit(&c)
	saved, err := s.UpdateConfig(context.Background(), guild, 99, c)
	if err != nil {
		t.Fatalf("UpdateConfig: %v", err)
	}
	return saved
}

func TestReadingWithoutAccountOpensNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		_, err := s.Balance(ctx, guild, 42)
		var na *economy.NoAccountError
		if !errors.As(err, &na) || na.UserID != 42 || na.GuildID != guild {
			t.Fatalf("Balance without account = %v, want NoAccountError for user 42", err)
		}
		if !apperr.Is(err, apperr.NotFound) {
			t.Errorf("code %q, want not_found", apperr.CodeOf(err))
		}
		if _, err := s.DueRoles(ctx, guild, 42); !errors.As(err, &na) {
			t.Errorf("DueRoles without account = %v, want NoAccountError", err)
		}
		lb, err := s.Heap(ctx, guild, 10, 42)
		if err != nil || len(lb.Top) != 0 || lb.Caller != nil {
			t.Errorf("Heap = %+v, %v; want empty, no caller", lb, err)
		}
		if l, err := s.Ledger(ctx, guild, 42, economy.Page{}); err != nil || len(l) != 0 {
			t.Errorf("Ledger = %v, %v; want empty", l, err)
		}
		if n := countRows(t, db, "accounts"); n != 0 {
			t.Errorf("reads opened %d accounts", n)
		}
		if n := countRows(t, db, "ledger"); n != 0 {
			t.Errorf("reads wrote %d ledger rows", n)
		}
	})
}

func TestEnsureAccountOpensOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clk := newService(t, db)
		a, opened, err := s.EnsureAccount(ctx, guild, alice)
		if err != nil || !opened {
			t.Fatalf("first EnsureAccount = %+v, %v, %v; want opened", a, opened, err)
		}
		if a.Balance != 100 || a.UserID != alice.ID || a.GuildID != guild || a.Streak != 0 || a.LastDaily != "" {
			t.Errorf("new account = %+v; want balance 100, no streak", a)
		}
		if !a.CreatedAt.Equal(t0) {
			t.Errorf("created_at %v, want the service clock %v", a.CreatedAt, t0)
		}
		clk.Advance(time.Hour)
		a2, opened, err := s.EnsureAccount(ctx, guild, alice)
		if err != nil || opened || a2.Balance != 100 || !a2.CreatedAt.Equal(t0) {
			t.Errorf("second EnsureAccount = %+v, %v, %v; want the existing account, not opened", a2, opened, err)
		}
		if n := countLedger(t, db, alice.ID, economy.KindOpen); n != 1 {
			t.Errorf("%d open ledger rows, want 1", n)
		}
		l, err := s.Ledger(ctx, guild, alice.ID, economy.Page{})
		if err != nil || len(l) != 1 || l[0].Kind != economy.KindOpen || l[0].Delta != 100 || l[0].BalanceAfter != 100 || l[0].UserName != "alice" {
			t.Errorf("ledger = %+v, %v; want one open row of 100 named alice", l, err)
		}
		// Another guild is another account.
		if _, opened, err := s.EnsureAccount(ctx, guild+1, alice); err != nil || !opened {
			t.Errorf("EnsureAccount in another guild: opened %v, %v", opened, err)
		}
		if _, _, err := s.EnsureAccount(ctx, guild, economy.Member{ID: 0}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("EnsureAccount(id 0) = %v, want invalid", err)
		}
		// A configured starting balance applies to new accounts only.
		mustUpdate(t, s, func(c *economy.Config) { c.StartingBalance = 250 })
		if b := mustEnsure(t, s, bob); b.Balance != 250 {
			t.Errorf("bob opened with %d, want the configured 250", b.Balance)
		}
		if a := mustBalance(t, s, alice.ID); a.Balance != 100 {
			t.Errorf("alice's balance changed to %d by a config change", a.Balance)
		}
		checkLedgerConsistent(t, db)
	})
}

func TestClaimDailyOncePerDay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clk := newService(t, db)
		// The claim opens the account of a first-time member.
		r, err := s.ClaimDaily(ctx, guild, alice)
		if err != nil {
			t.Fatalf("ClaimDaily: %v", err)
		}
		if r.Amount != 10 || r.Streak != 1 || r.Multiplier != 1 || r.Day != "2024-05-10" || r.Account.Balance != 110 || r.Tier != "" {
			t.Errorf("first claim = %+v; want 10 bytes, streak 1, balance 110", r)
		}
		clk.Advance(6*time.Hour + 30*time.Minute) // 18:30
		_, err = s.ClaimDaily(ctx, guild, alice)
		var ac *economy.AlreadyClaimedError
		if !errors.As(err, &ac) {
			t.Fatalf("second claim = %v, want AlreadyClaimedError", err)
		}
		if want := time.Date(2024, 5, 11, 0, 0, 0, 0, time.UTC); !ac.NextAt.Equal(want) || ac.Remaining != 5*time.Hour+30*time.Minute {
			t.Errorf("NextAt %v Remaining %v; want %v and 5h30m", ac.NextAt, ac.Remaining, want)
		}
		a := mustBalance(t, s, alice.ID)
		if a.Balance != 110 || a.Streak != 1 || a.LastDaily != "2024-05-10" {
			t.Errorf("after refused claim: %+v; want balance 110, streak 1, last 2024-05-10", a)
		}
		if n := countLedger(t, db, alice.ID, economy.KindDaily); n != 1 {
			t.Errorf("%d daily rows, want 1", n)
		}
		if _, err := s.ClaimDaily(ctx, guild, economy.Member{ID: 7, Bot: true}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("bot claim = %v, want invalid", err)
		}
		checkLedgerConsistent(t, db)
	})
}

func TestClaimDailyStreak(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clk := newService(t, db)
		day1 := time.Date(2024, 2, 25, 23, 59, 0, 0, time.UTC) // crosses Feb 29 and March 1
		want := int64(100)
		for i := range 8 {
			// Alternate late and early claims: what counts is the UTC day.
			if i%2 == 0 {
				clk.Set(day1.AddDate(0, 0, i))
			} else {
				clk.Set(day1.AddDate(0, 0, i).Add(-23*time.Hour - 58*time.Minute))
			}
			r, err := s.ClaimDaily(ctx, guild, alice)
			if err != nil {
				t.Fatalf("day %d: %v", i+1, err)
			}
			wantMult := int64(1)
			if i+1 >= 8 {
				wantMult = 2
			}
			want += 10 * wantMult
			if r.Streak != i+1 || r.Multiplier != wantMult || r.Amount != 10*wantMult || r.Account.Balance != want {
				t.Errorf("day %d: %+v; want streak %d x%d balance %d", i+1, r.Daily, i+1, wantMult, want)
			}
			if i+1 == 8 && r.Tier != "CHAR" {
				t.Errorf("day 8 tier %q, want CHAR", r.Tier)
			}
		}
		// Skip a day: the streak resets.
		clk.Set(day1.AddDate(0, 0, 9))
		r, err := s.ClaimDaily(ctx, guild, alice)
		if err != nil {
			t.Fatal(err)
		}
		if r.Streak != 1 || r.Amount != 10 || r.Account.Balance != want+10 {
			t.Errorf("after a missed day: %+v; want streak 1, 10 bytes", r.Daily)
		}
		if a := mustBalance(t, s, alice.ID); a.Streak != 1 || a.LastDaily != economy.DayOf(day1.AddDate(0, 0, 9)) {
			t.Errorf("account %+v; want streak 1", a)
		}
		if n := countLedger(t, db, alice.ID, economy.KindDaily); n != 9 {
			t.Errorf("%d daily rows, want 9", n)
		}
		checkLedgerConsistent(t, db)
	})
}

func TestClaimDailyCustomTable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clk := newService(t, db)
		if _, err := s.ClaimDaily(ctx, guild, bob); err != nil { // caches the default config
			t.Fatal(err)
		}
		mustUpdate(t, s, func(c *economy.Config) {
			c.DailyAmount = 7
			c.StreakTiers = []economy.StreakTier{{Days: 3, Multiplier: 10, Name: "THREE"}, {Days: 2, Multiplier: 5, Name: "TWO"}}
		})
		amounts := []int64{7, 35, 70, 70}
		for i, want := range amounts {
			r, err := s.ClaimDaily(ctx, guild, alice)
			if err != nil {
				t.Fatalf("day %d: %v", i+1, err)
			}
			if r.Amount != want {
				t.Errorf("day %d paid %d, want %d (%+v)", i+1, r.Amount, want, r.Daily)
			}
			clk.Advance(24 * time.Hour)
		}
	})
}

// A tier from the first day applies to the claim that opens the account
// (on PostgreSQL the opening and the claim are one statement).
func TestClaimDailyFirstDayTierOpensAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		mustUpdate(t, s, func(c *economy.Config) {
			c.StreakTiers = []economy.StreakTier{{Days: 1, Multiplier: 3, Name: "ONE"}}
		})
		r, err := s.ClaimDaily(ctx, guild, alice)
		if err != nil {
			t.Fatal(err)
		}
		if r.Amount != 30 || r.Multiplier != 3 || r.Tier != "ONE" || r.Streak != 1 || r.Account.Balance != 130 {
			t.Errorf("claim %+v balance %d; want 30 bytes x3 ONE, streak 1, balance 130", r.Daily, r.Account.Balance)
		}
		if n := countLedger(t, db, alice.ID, economy.KindOpen); n != 1 {
			t.Errorf("%d open rows, want 1", n)
		}
		if n := countLedger(t, db, alice.ID, economy.KindDaily); n != 1 {
			t.Errorf("%d daily rows, want 1", n)
		}
		checkLedgerConsistent(t, db)
	})
}

// Many members claiming at once (the midnight burst; batched into shared
// statements on PostgreSQL), half of them twice and through two services:
// each is paid once, with its own streak, and the ledger matches.
func TestClaimDailyBurstOfMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock(t0)
		svcs := []*economy.Service{
			economy.NewService(db, newBus(t), economy.Options{Now: clk.Now}),
			economy.NewService(db, newBus(t), economy.Options{Now: clk.Now}),
		}
		const n = 300
		// Members with an even id claimed yesterday: their streak goes on.
		clk.Set(t0.Add(-24 * time.Hour))
		for id := int64(2); id <= n; id += 2 {
			if _, err := svcs[0].ClaimDaily(ctx, guild, economy.Member{ID: id, Name: fmt.Sprint("m", id)}); err != nil {
				t.Fatal(err)
			}
		}
		clk.Set(t0)
		warmPool(t, db, 16)
		var paid, already atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n + n/2 {
			id := int64(1 + i%n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r, err := svcs[i%2].ClaimDaily(ctx, guild, economy.Member{ID: id, Name: fmt.Sprint("m", id)})
				var ac *economy.AlreadyClaimedError
				switch {
				case err == nil:
					paid.Add(1)
					if want := 1 + int(1-id%2); r.Streak != want || r.Account.UserID != id {
						t.Errorf("member %d: streak %d user %d, want streak %d", id, r.Streak, r.Account.UserID, want)
					}
				case errors.As(err, &ac):
					already.Add(1)
				default:
					t.Errorf("member %d: %v", id, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if paid.Load() != n || already.Load() != n/2 {
			t.Errorf("%d paid, %d already claimed; want %d and %d", paid.Load(), already.Load(), n, n/2)
		}
		var rows int
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM ledger WHERE kind = 'daily' AND day = '2024-05-10'").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != n {
			t.Errorf("%d daily rows today, want %d", rows, n)
		}
		checkLedgerConsistent(t, db)
	})
}

func TestClaimDailyConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, tc := range []struct {
			name string
			pre  bool // account exists before
			user economy.Member
		}{{"new member", false, alice}, {"existing member", true, bob}} {
			t.Run(tc.name, func(t *testing.T) {
				// Separate services: as if several bot processes saw the messages.
				clk := newClock(t0)
				svcs := make([]*economy.Service, 4)
				for i := range svcs {
					svcs[i] = economy.NewService(db, newBus(t), economy.Options{Now: clk.Now})
				}
				if tc.pre {
					mustEnsure(t, svcs[0], tc.user)
				}
				const n = 20
				warmPool(t, db, n)
				errs := make([]error, n)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, errs[i] = svcs[i%len(svcs)].ClaimDaily(ctx, guild, tc.user)
					}()
				}
				close(start)
				wg.Wait()
				ok, already := 0, 0
				for _, err := range errs {
					var ac *economy.AlreadyClaimedError
					switch {
					case err == nil:
						ok++
					case errors.As(err, &ac):
						already++
					default:
						t.Errorf("unexpected error: %v", err)
					}
				}
				if ok != 1 || already != n-1 {
					t.Errorf("%d successes and %d AlreadyClaimed, want 1 and %d", ok, already, n-1)
				}
				if c := countLedger(t, db, tc.user.ID, economy.KindDaily); c != 1 {
					t.Errorf("%d daily ledger rows, want 1", c)
				}
				if c := countLedger(t, db, tc.user.ID, economy.KindOpen); c != 1 {
					t.Errorf("%d open ledger rows, want 1", c)
				}
				if a := mustBalance(t, svcs[0], tc.user.ID); a.Balance != 110 || a.Streak != 1 {
					t.Errorf("account %+v, want balance 110 streak 1", a)
				}
			})
		}
		checkLedgerConsistent(t, db)
	})
}

func TestTransfer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clk := newService(t, db)
		mustEnsure(t, s, alice)
		mustEnsure(t, s, bob)
		res, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: alice, Receiver: bob, Amount: 30, Reason: "thanks for the help"})
		if err != nil {
			t.Fatalf("Transfer: %v", err)
		}
		if res.Amount != 30 || res.Giver.Balance != 70 || res.Receiver.Balance != 130 || res.ID == 0 || len(res.RolesEarned) != 0 {
			t.Errorf("result %+v", res)
		}
		a, b := mustBalance(t, s, alice.ID), mustBalance(t, s, bob.ID)
		if a.Balance != 70 || a.TotalSent != 30 || a.TotalReceived != 0 || !a.LastTransferAt.Equal(t0) {
			t.Errorf("giver %+v; want balance 70, sent 30, last transfer at %v", a, t0)
		}
		if b.Balance != 130 || b.TotalReceived != 30 || b.TotalSent != 0 {
			t.Errorf("receiver %+v; want balance 130, received 30", b)
		}

		// Reverse direction (the higher id gives), with names that changed since.
		clk.Advance(time.Minute)
		bob2 := member(bob.ID, "bobby")
		alice2 := member(alice.ID, "Alice W.")
		if _, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: bob2, Receiver: alice2, Amount: 5}); err != nil {
			t.Fatalf("reverse transfer: %v", err)
		}
		a, b = mustBalance(t, s, alice.ID), mustBalance(t, s, bob.ID)
		if a.Balance != 75 || a.TotalReceived != 5 || b.Balance != 125 || b.TotalSent != 5 {
			t.Errorf("after reverse: alice %+v bob %+v", a, b)
		}

		// Ledger rows carry both names as they were.
		la, err := s.Ledger(ctx, guild, alice.ID, economy.Page{})
		if err != nil || len(la) != 3 {
			t.Fatalf("alice's ledger = %+v, %v; want 3 rows", la, err)
		}
		in, out := la[0], la[1]
		if out.Kind != economy.KindTransferOut || out.Delta != -30 || out.BalanceAfter != 70 || out.UserName != "alice" ||
			out.CounterpartyID != bob.ID || out.CounterpartyName != "bob" || out.Reason != "thanks for the help" || out.ID != res.ID {
			t.Errorf("giver's row %+v", out)
		}
		if in.Kind != economy.KindTransferIn || in.Delta != 5 || in.BalanceAfter != 75 || in.UserName != "Alice W." ||
			in.CounterpartyID != bob.ID || in.CounterpartyName != "bobby" {
			t.Errorf("alice's transfer_in row %+v", in)
		}
		lb, err := s.Ledger(ctx, guild, bob.ID, economy.Page{})
		if err != nil || len(lb) != 3 {
			t.Fatalf("bob's ledger = %+v, %v", lb, err)
		}
		if r := lb[1]; r.Kind != economy.KindTransferIn || r.Delta != 30 || r.BalanceAfter != 130 || r.UserName != "bob" ||
			r.CounterpartyID != alice.ID || r.CounterpartyName != "alice" || r.Reason != "thanks for the help" {
			t.Errorf("receiver's row %+v", r)
		}

		// Transfers: guild-wide one row per transfer, per user their own side.
		all, err := s.Transfers(ctx, guild, 0, economy.Page{})
		if err != nil || len(all) != 2 || all[0].UserID != bob.ID || all[1].UserID != alice.ID ||
			all[0].Kind != economy.KindTransferOut || all[1].Kind != economy.KindTransferOut {
			t.Errorf("guild transfers = %+v, %v", all, err)
		}
		ofBob, err := s.Transfers(ctx, guild, bob.ID, economy.Page{})
		if err != nil || len(ofBob) != 2 || ofBob[0].Kind != economy.KindTransferOut || ofBob[1].Kind != economy.KindTransferIn || ofBob[1].Delta != 30 {
			t.Errorf("bob's transfers = %+v, %v", ofBob, err)
		}
		ofCarol, err := s.Transfers(ctx, guild, carol.ID, economy.Page{})
		if err != nil || len(ofCarol) != 0 {
			t.Errorf("carol's transfers = %+v, %v", ofCarol, err)
		}
		// Pagination.
		p1, err := s.Transfers(ctx, guild, 0, economy.Page{Limit: 1})
		if err != nil || len(p1) != 1 {
			t.Fatalf("page 1 = %+v, %v", p1, err)
		}
		p2, err := s.Transfers(ctx, guild, 0, economy.Page{Limit: 1, Before: p1[0].ID})
		if err != nil || len(p2) != 1 || p2[0].ID != res.ID {
			t.Errorf("page 2 = %+v, %v; want the first transfer", p2, err)
		}
		if _, err := s.Transfers(ctx, guild, 0, economy.Page{Limit: 101}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("limit 101 = %v, want invalid", err)
		}
		tot, err := s.Totals(ctx, guild)
		if err != nil || tot.Accounts != 2 || tot.Circulation != 200 {
			t.Errorf("Totals = %+v, %v; want 2 accounts, 200 bytes", tot, err)
		}
		checkLedgerConsistent(t, db)
	})
}

func TestTransferRefusedChangesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		mustEnsure(t, s, bob)
		ledgerBefore := countRows(t, db, "ledger")
		// bob (id 2) gives to alice (id 1, no account): the receiver side runs first.
		_, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: bob, Receiver: alice, Amount: 150})
		var inf *economy.InsufficientFundsError
		if !errors.As(err, &inf) || inf.Balance != 100 || inf.Needed != 150 {
			t.Fatalf("Transfer = %v, want InsufficientFundsError{100, 150}", err)
		}
		if !apperr.Is(err, apperr.Refused) {
			t.Errorf("code %q, want refused", apperr.CodeOf(err))
		}
		b := mustBalance(t, s, bob.ID)
		if b.Balance != 100 || b.TotalSent != 0 || !b.LastTransferAt.IsZero() {
			t.Errorf("giver changed: %+v", b)
		}
		if _, err := s.Balance(ctx, guild, alice.ID); err == nil {
			t.Error("a refused transfer opened the receiver's account")
		}
		// A new giver (carol, id 3) to an existing receiver (bob): the giver side runs first.
		_, err = s.Transfer(ctx, guild, economy.TransferRequest{Giver: carol, Receiver: bob, Amount: 101})
		if !errors.As(err, &inf) || inf.Balance != 100 || inf.Needed != 101 {
			t.Fatalf("Transfer = %v, want InsufficientFundsError{100, 101}", err)
		}
		if _, err := s.Balance(ctx, guild, carol.ID); err == nil {
			t.Error("a refused transfer opened the giver's account")
		}
		if b := mustBalance(t, s, bob.ID); b.Balance != 100 || b.TotalReceived != 0 {
			t.Errorf("receiver changed: %+v", b)
		}
		// Rule violations are refused before touching anything.
		for _, r := range []economy.TransferRequest{
			{Giver: bob, Receiver: bob, Amount: 1},
			{Giver: bob, Receiver: economy.Member{ID: 9, Bot: true}, Amount: 1},
			{Giver: bob, Receiver: alice, Amount: 0},
			{Giver: bob, Receiver: alice, Amount: 1001},
		} {
			if _, err := s.Transfer(ctx, guild, r); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("Transfer(%+v) = %v, want invalid", r, err)
			}
		}
		if n := countRows(t, db, "ledger"); n != ledgerBefore {
			t.Errorf("ledger grew from %d to %d rows on refused transfers", ledgerBefore, n)
		}
		if n := countRows(t, db, "accounts"); n != 1 {
			t.Errorf("%d accounts, want 1", n)
		}
	})
}

func TestTransferOpensReceiverAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		mustEnsure(t, s, bob)
		// To a lower id (receiver credited first) and to a higher id (giver debited first).
		for _, recv := range []economy.Member{alice, carol} {
			res, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: bob, Receiver: recv, Amount: 20})
			if err != nil {
				t.Fatalf("Transfer to %d: %v", recv.ID, err)
			}
			a := mustBalance(t, s, recv.ID)
			if a.Balance != 120 || a.TotalReceived != 20 || res.Receiver.Balance != 120 {
				t.Errorf("receiver %d: %+v; want starting 100 + 20", recv.ID, a)
			}
			if n := countLedger(t, db, recv.ID, economy.KindOpen); n != 1 {
				t.Errorf("receiver %d: %d open rows, want 1", recv.ID, n)
			}
		}
		// A first-time giver is opened too and can spend the starting balance.
		dave := member(4, "dave")
		if _, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: dave, Receiver: alice, Amount: 100}); err != nil {
			t.Fatalf("first-time giver: %v", err)
		}
		if d := mustBalance(t, s, dave.ID); d.Balance != 0 || d.TotalSent != 100 {
			t.Errorf("dave %+v; want 0 left, 100 sent", d)
		}
		checkLedgerConsistent(t, db)
	})
}

func TestTransferCooldown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, clk := newService(t, db)
		mustUpdate(t, s, func(c *economy.Config) { c.TransferCooldownHours = 1 })
		mustEnsure(t, s, alice)
		mustEnsure(t, s, bob)
		send := func(g, r economy.Member) error {
			_, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: g, Receiver: r, Amount: 10})
			return err
		}
		if err := send(alice, bob); err != nil {
			t.Fatal(err)
		}
		clk.Advance(20 * time.Minute)
		err := send(alice, bob)
		var cd *economy.CooldownError
		if !errors.As(err, &cd) || cd.Remaining != 40*time.Minute {
			t.Fatalf("second transfer = %v, want CooldownError with 40m left", err)
		}
		if !apperr.Is(err, apperr.Conflict) {
			t.Errorf("code %q, want conflict", apperr.CodeOf(err))
		}
		// The cooldown is the giver's: bob may send, alice may receive.
		if err := send(bob, alice); err != nil {
			t.Errorf("bob's transfer during alice's cooldown: %v", err)
		}
		clk.Advance(40*time.Minute - time.Second)
		if err := send(alice, bob); !errors.As(err, &cd) || cd.Remaining != time.Second {
			t.Errorf("one second early: %v, want CooldownError 1s", err)
		}
		clk.Advance(time.Second)
		if err := send(alice, bob); err != nil {
			t.Errorf("after the cooldown: %v", err)
		}
		a := mustBalance(t, s, alice.ID)
		if a.Balance != 90 || a.TotalSent != 20 || !a.LastTransferAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("alice %+v; want 90, sent 20, last transfer at %v", a, t0.Add(time.Hour))
		}
		checkLedgerConsistent(t, db)
	})
}

func TestTransferRoleRewards(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		mustUpdate(t, s, func(c *economy.Config) {
			c.RoleRewards = []economy.RoleReward{{RoleID: 555, Threshold: 50}, {RoleID: 777, Threshold: 1000}}
		})
		mustEnsure(t, s, alice)
		send := func(amount int64) economy.TransferResult {
			t.Helper()
			res, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: alice, Receiver: bob, Amount: amount})
			if err != nil {
				t.Fatalf("Transfer(%d): %v", amount, err)
			}
			return res
		}
		if res := send(30); len(res.RolesEarned) != 0 {
			t.Errorf("30 received earned %+v", res.RolesEarned)
		}
		if j := roleJobs(t, db); len(j) != 0 {
			t.Fatalf("outbox after 30 bytes: %+v, want nothing", j)
		}
		if due, err := s.DueRoles(ctx, guild, bob.ID); err != nil || len(due) != 0 {
			t.Errorf("DueRoles at 30 = %+v, %v", due, err)
		}
		res := send(20)
		if len(res.RolesEarned) != 1 || res.RolesEarned[0].RoleID != 555 {
			t.Errorf("RolesEarned = %+v, want role 555", res.RolesEarned)
		}
		j := roleJobs(t, db)
		if len(j) != 1 {
			t.Fatalf("outbox = %+v, want one role grant", j)
		}
		if j[0].GuildID != guild || j[0].UserID != bob.ID || j[0].RoleID != 555 || !j[0].Add {
			t.Errorf("role job %+v, want add role 555 to bob in guild %d", j[0], guild)
		}
		send(10)
		if j := roleJobs(t, db); len(j) != 1 {
			t.Errorf("a later transfer queued the role again: %+v", j)
		}
		due, err := s.DueRoles(ctx, guild, bob.ID)
		if err != nil || len(due) != 1 || due[0].RoleID != 555 {
			t.Errorf("DueRoles = %+v, %v; want role 555", due, err)
		}
		if due, err := s.DueRoles(ctx, guild, alice.ID); err != nil || len(due) != 0 {
			t.Errorf("giver's DueRoles = %+v, %v; want none", due, err)
		}
	})
}

func TestAdjust(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		const admin = int64(900)
		a, err := s.Adjust(ctx, guild, bob, admin, 50, "event prize")
		if err != nil || a.Balance != 150 {
			t.Fatalf("grant = %+v, %v; want balance 150 (account opened with 100)", a, err)
		}
		a, err = s.Adjust(ctx, guild, bob, admin, -30, "spam penalty")
		if err != nil || a.Balance != 120 {
			t.Fatalf("deduct = %+v, %v; want 120", a, err)
		}
		l, err := s.Ledger(ctx, guild, bob.ID, economy.Page{})
		if err != nil || len(l) != 3 {
			t.Fatalf("ledger %+v, %v", l, err)
		}
		if l[0].Kind != economy.KindDeduct || l[0].Delta != -30 || l[0].BalanceAfter != 120 || l[0].Reason != "spam penalty" || l[0].ActorID != admin {
			t.Errorf("deduct row %+v", l[0])
		}
		if l[1].Kind != economy.KindGrant || l[1].Delta != 50 || l[1].BalanceAfter != 150 || l[1].Reason != "event prize" || l[1].ActorID != admin {
			t.Errorf("grant row %+v", l[1])
		}
		_, err = s.Adjust(ctx, guild, bob, admin, -121, "too much")
		var inf *economy.InsufficientFundsError
		if !errors.As(err, &inf) || inf.Balance != 120 || inf.Needed != 121 {
			t.Errorf("deduct below zero = %v, want InsufficientFundsError{120, 121}", err)
		}
		if _, err := s.Adjust(ctx, guild, bob, admin, 10, ""); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("empty reason = %v, want invalid", err)
		}
		if _, err := s.Adjust(ctx, guild, bob, admin, 0, "nothing"); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("zero delta = %v, want invalid", err)
		}
		if b := mustBalance(t, s, bob.ID); b.Balance != 120 {
			t.Errorf("refused adjustments changed the balance to %d", b.Balance)
		}
		entries, err := audit.List(ctx, db, guild, 0, 100, audit.Filter{})
		if err != nil || len(entries) != 2 {
			t.Fatalf("audit = %+v, %v; want 2 entries", entries, err)
		}
		e := entries[0]
		if e.Action != "bytes.deduct" || e.ActorID != admin || e.Target != "user:2" || e.Reason != "spam penalty" {
			t.Errorf("audit entry %+v", e)
		}
		var before, after map[string]int64
		if json.Unmarshal(e.Before, &before) != nil || json.Unmarshal(e.After, &after) != nil ||
			before["balance"] != 150 || after["balance"] != 120 {
			t.Errorf("audit before %s after %s; want balance 150 → 120", e.Before, e.After)
		}
		if entries[1].Action != "bytes.grant" || entries[1].Reason != "event prize" {
			t.Errorf("audit entry %+v", entries[1])
		}
		checkLedgerConsistent(t, db)
	})
}

func TestHeap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		// Users 1..15; balance 100 + 10*(id%5); equal balances ordered by user id.
		want := map[int64]int64{}
		for id := int64(1); id <= 15; id++ {
			mustEnsure(t, s, member(id, ""))
			if d := 10 * (id % 5); d > 0 {
				if _, err := s.Adjust(ctx, guild, member(id, ""), 1, d, "setup"); err != nil {
					t.Fatal(err)
				}
			}
			want[id] = 100 + 10*(id%5)
		}
		order := []int64{4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11, 5, 10, 15}
		lb, err := s.Heap(ctx, guild, 0, 0)
		if err != nil || len(lb.Top) != economy.DefaultTopN || lb.Caller != nil {
			t.Fatalf("Heap(0) = %+v, %v; want the default 10 rows and no caller", lb, err)
		}
		for i, st := range lb.Top {
			if st.UserID != order[i] || st.Rank != int64(i+1) || st.Balance != want[st.UserID] {
				t.Errorf("row %d = %+v, want user %d rank %d balance %d", i, st, order[i], i+1, want[order[i]])
			}
		}
		lb, err = s.Heap(ctx, guild, 3, 10)
		if err != nil || len(lb.Top) != 3 {
			t.Fatalf("Heap(3) = %+v, %v", lb, err)
		}
		if lb.Caller == nil || lb.Caller.UserID != 10 || lb.Caller.Rank != 14 || lb.Caller.Balance != 100 {
			t.Errorf("caller outside the top = %+v, want user 10 rank 14 balance 100", lb.Caller)
		}
		lb, err = s.Heap(ctx, guild, 5, 3)
		if err != nil || lb.Caller == nil || lb.Caller.Rank != 4 || lb.Caller.UserID != 3 {
			t.Errorf("caller inside the top = %+v, %v; want rank 4", lb.Caller, err)
		}
		lb, err = s.Heap(ctx, guild, 100, 999)
		if err != nil || len(lb.Top) != 15 || lb.Caller != nil {
			t.Errorf("Heap(100, caller without account) = %d rows, caller %+v, %v", len(lb.Top), lb.Caller, err)
		}
		if _, err := s.Heap(ctx, guild, 101, 0); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Heap(101) = %v, want invalid", err)
		}
		if lb, err := s.Heap(ctx, guild+1, 10, 0); err != nil || len(lb.Top) != 0 {
			t.Errorf("other guild = %+v, %v; want empty", lb, err)
		}
	})
}

func TestUpdateConfig(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		bad := economy.DefaultConfig()
		bad.StreakTiers = append(bad.StreakTiers, economy.StreakTier{Days: 8, Multiplier: 3})
		if _, err := s.UpdateConfig(ctx, guild, 99, bad); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("invalid config = %v, want invalid", err)
		}
		if n := countRows(t, db, "guild_configs"); n != 0 {
			t.Errorf("an invalid config saved %d rows", n)
		}
		if n := countRows(t, db, "audit_log"); n != 0 {
			t.Errorf("an invalid config was audited")
		}
		c, err := s.Config(ctx, guild)
		if err != nil || c.Version != 0 || c.StartingBalance != 100 {
			t.Errorf("config after refused update = %+v, %v; want the defaults", c, err)
		}

		saved := mustUpdate(t, s, func(c *economy.Config) {
			c.StartingBalance = 250
			c.StreakTiers = []economy.StreakTier{{Days: 5, Multiplier: 3, Name: "FIVE"}, {Days: 2, Multiplier: 2, Name: "TWO"}}
			c.RoleRewards = []economy.RoleReward{{RoleID: 8, Threshold: 80}, {RoleID: 7, Threshold: 10}}
			c.SquadMinBalance = 20
		})
		if saved.Version != 1 || saved.StreakTiers[0].Days != 2 || saved.RoleRewards[0].RoleID != 7 {
			t.Errorf("saved = %+v; want version 1, sorted tiers and rewards", saved)
		}
		c, err = s.Config(ctx, guild)
		if err != nil || c.StartingBalance != 250 || c.SquadMinBalance != 20 || len(c.StreakTiers) != 2 || c.StreakTiers[1].Name != "FIVE" ||
			len(c.RoleRewards) != 2 || c.RoleRewards[1] != (economy.RoleReward{RoleID: 8, Threshold: 80}) || c.Version != 1 {
			t.Errorf("Config = %+v, %v", c, err)
		}
		// A fresh service (no cache) reads the same from the database.
		fresh := economy.NewService(db, newBus(t), economy.Options{})
		if c2, err := fresh.Config(ctx, guild); err != nil || c2.StartingBalance != 250 || len(c2.RoleRewards) != 2 || c2.StreakTiers[0].Name != "TWO" {
			t.Errorf("fresh Config = %+v, %v", c2, err)
		}
		// Returned configs are copies: editing one does not touch the cache.
		c.StreakTiers[0].Multiplier = 999
		c.RoleRewards[0].Threshold = 1
		if c3, _ := s.Config(ctx, guild); c3.StreakTiers[0].Multiplier != 2 || c3.RoleRewards[0].Threshold != 10 {
			t.Errorf("the cached config was modified through a returned copy: %+v", c3)
		}

		saved2 := mustUpdate(t, s, func(c *economy.Config) { c.StartingBalance = 300 })
		if saved2.Version != 2 {
			t.Errorf("second save version %d, want 2", saved2.Version)
		}
		if c, _ := s.Config(ctx, guild); len(c.RoleRewards) != 0 || c.StartingBalance != 300 {
			t.Errorf("after replacing the config: %+v; want no role rewards", c)
		}

		// The same settings again, in another order: nothing to write, no
		// new version, nothing to audit.
		same, err := s.Config(ctx, guild)
		if err != nil {
			t.Fatal(err)
		}
		slices.Reverse(same.StreakTiers)
		same.StreakTiers[0].Name = " " + same.StreakTiers[0].Name + " "
		if again, err := s.UpdateConfig(ctx, guild, 99, same); err != nil || again.Version != 2 || again.StartingBalance != 300 {
			t.Errorf("unchanged save = %+v, %v; want version 2 as it was", again, err)
		}

		entries, err := audit.List(ctx, db, guild, 0, 10, audit.Filter{})
		if err != nil || len(entries) != 2 {
			t.Fatalf("audit = %+v, %v; want 2 entries", entries, err)
		}
		first := entries[1]
		if first.Action != "bytes.config.update" || first.ActorID != 99 {
			t.Errorf("audit entry %+v", first)
		}
		var before, after economy.Config
		if err := json.Unmarshal(first.Before, &before); err != nil {
			t.Fatalf("audit before %s: %v", first.Before, err)
		}
		if err := json.Unmarshal(first.After, &after); err != nil {
			t.Fatalf("audit after %s: %v", first.After, err)
		}
		if before.StartingBalance != 100 || after.StartingBalance != 250 || after.Version != 1 || len(after.RoleRewards) != 2 {
			t.Errorf("audit before %s after %s", first.Before, first.After)
		}
		var before2 economy.Config
		if err := json.Unmarshal(entries[0].Before, &before2); err != nil || before2.StartingBalance != 250 || len(before2.RoleRewards) != 2 {
			t.Errorf("second audit before %s", entries[0].Before)
		}
	})
}

func TestConfigChangeReachesOtherServices(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		b := newBus(t)
		clk := newClock(t0)
		opts := economy.Options{Now: clk.Now, ConfigTTL: 30 * time.Second}
		s1 := economy.NewService(db, b, opts)
		s2 := economy.NewService(db, b, opts)
		s3 := economy.NewService(db, b, opts) // not started: relies on the TTL only
		for _, s := range []*economy.Service{s1, s2} {
			if err := s.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
		}
		for _, s := range []*economy.Service{s2, s3} {
			if c, err := s.Config(ctx, guild); err != nil || c.DailyAmount != 10 {
				t.Fatalf("initial Config = %+v, %v", c, err)
			}
		}
		if _, err := s1.UpdateConfig(ctx, guild, 99, func() economy.Config {
			c := economy.DefaultConfig()
			c.DailyAmount = 42
			return c
		}()); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Second)
		for {
			c, err := s2.Config(ctx, guild)
			if err != nil {
				t.Fatal(err)
			}
			if c.DailyAmount == 42 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the second service still sees daily_amount %d a second after the change", c.DailyAmount)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// The un-started service keeps its cached copy until the TTL ends.
		if c, _ := s3.Config(ctx, guild); c.DailyAmount != 10 {
			t.Errorf("un-started service saw %d before the TTL; the cache is not being exercised", c.DailyAmount)
		}
		clk.Advance(31 * time.Second)
		if c, _ := s3.Config(ctx, guild); c.DailyAmount != 42 {
			t.Errorf("after the TTL the un-started service sees %d, want 42", c.DailyAmount)
		}
		// And the new value is what a claim pays.
		if r, err := s2.ClaimDaily(ctx, guild, alice); err != nil || r.Amount != 42 {
			t.Errorf("claim through the second service = %+v, %v; want 42", r, err)
		}
	})
}

func TestOutboxPayloadShape(t *testing.T) {
	// The worker decodes ids as strings; check the raw JSON, not just a round trip.
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s, _ := newService(t, db)
		mustUpdate(t, s, func(c *economy.Config) {
			c.RoleRewards = []economy.RoleReward{{RoleID: 1234567890123456789, Threshold: 5}}
		})
		if _, err := s.Transfer(ctx, guild, economy.TransferRequest{Giver: alice, Receiver: bob, Amount: 5}); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Q().PendingOutbox(ctx, 10)
		if err != nil || len(rows) != 1 {
			t.Fatalf("outbox %+v, %v", rows, err)
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(rows[0].Payload), &raw); err != nil {
			t.Fatal(err)
		}
		if raw["role_id"] != "1234567890123456789" || raw["user_id"] != "2" || raw["add"] != true {
			t.Errorf("payload %s", rows[0].Payload)
		}
		if rows[0].Queue != jobs.QueueRoles {
			t.Errorf("queue %q", rows[0].Queue)
		}
	})
}
