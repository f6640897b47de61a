package squads_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// TestBankInvariants is the bank test: many goroutines doing random
// transfers, daily claims, admin adjustments and squad moves at once, on a
// clock that crosses many UTC days; afterwards every invariant of the economy
// must hold exactly.
func TestBankInvariants(t *testing.T) {
	if testing.Short() {
		t.Skip("bank test is long")
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const (
			guild      = int64(9001)
			members    = 24
			workers    = 8
			maxInSmall = 3
		)
		opsTotal := int64(10_000)
		if raceEnabled && db.Dialect == store.SQLite {
			opsTotal = 2_500
		}
		ctx := context.Background()
		b := bus.NewMemory()
		t.Cleanup(func() { b.Close() })

		// The clock moves one hour every 6 operations: about 69 UTC days at full length.
		var ops atomic.Int64
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		now := func() time.Time { return start.Add(time.Duration(ops.Load()/6) * time.Hour) }
		econ := economy.NewService(db, b, economy.Options{Now: now})
		sq := squads.NewService(db, econ)

		cfg := economy.DefaultConfig()
		cfg.StartingBalance = 100
		cfg.DailyAmount = 10
		cfg.MaxTransfer = 60
		if _, err := econ.UpdateConfig(ctx, guild, 1, cfg); err != nil {
			t.Fatal(err)
		}
		var squadIDs []int64
		for i, spec := range []squads.Spec{
			{Name: "Gophers", RoleID: 501, SwitchCost: 15, Active: true},
			{Name: "Rustaceans", RoleID: 502, SwitchCost: 40, Active: true},
			{Name: "Tiny", RoleID: 503, SwitchCost: 5, MaxMembers: maxInSmall, Active: true},
		} {
			s, err := sq.Create(ctx, guild, 1, spec)
			if err != nil {
				t.Fatalf("create squad %d: %v", i, err)
			}
			squadIDs = append(squadIDs, s.ID)
		}
		member := func(i int) economy.Member {
			return economy.Member{ID: int64(1000 + i), Name: "member" + string(rune('A'+i))}
		}

		var rewards, adjustments, squadCosts atomic.Int64
		var okOps, refusedOps atomic.Int64
		var unexpected sync.Map
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 42))
				for ops.Add(1) <= opsTotal {
					mi := rng.IntN(members)
					m := member(mi)
					var err error
					switch op := rng.IntN(100); {
					case op < 45:
						other := member((mi + 1 + rng.IntN(members-1)) % members) // never the giver
						_, err = econ.Transfer(ctx, guild, economy.TransferRequest{Giver: m, Receiver: other, Amount: 1 + rng.Int64N(60), Reason: "bank test"})
					case op < 65:
						var r economy.DailyResult
						if r, err = econ.ClaimDaily(ctx, guild, m); err == nil {
							rewards.Add(r.Amount)
						}
					case op < 75:
						delta := rng.Int64N(41) - 20
						if delta == 0 {
							delta = 1
						}
						if _, err = econ.Adjust(ctx, guild, m, 1, delta, "bank test adjustment"); err == nil {
							adjustments.Add(delta)
						}
					case op < 93:
						var r squads.JoinResult
						if r, err = sq.Join(ctx, guild, m, squadIDs[rng.IntN(len(squadIDs))]); err == nil {
							squadCosts.Add(r.Cost)
						}
					default:
						_, err = sq.Leave(ctx, guild, m)
					}
					if err == nil {
						okOps.Add(1)
						continue
					}
					refusedOps.Add(1)
					// Refusals by the rules are expected; anything else is a bug.
					switch apperr.CodeOf(err) {
					case apperr.Refused, apperr.Conflict:
					default:
						unexpected.Store(err.Error(), true)
					}
				}
			}()
		}
		wg.Wait()
		unexpected.Range(func(k, _ any) bool {
			t.Errorf("unexpected error: %v", k)
			return true
		})
		t.Logf("%d operations succeeded, %d refused by the rules; rewards %d, adjustments %d, squad costs %d, simulated days %d",
			okOps.Load(), refusedOps.Load(), rewards.Load(), adjustments.Load(), squadCosts.Load(), now().Sub(start)/(24*time.Hour))
		if okOps.Load()+refusedOps.Load() != opsTotal {
			t.Errorf("%d operations ran, want %d", okOps.Load()+refusedOps.Load(), opsTotal)
		}
		if okOps.Load() < opsTotal/3 {
			t.Errorf("only %d operations succeeded; the test exercised too little", okOps.Load())
		}

		raw := db.SQL()
		var accounts, total, negative int64
		if err := raw.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(balance),0), COALESCE(SUM(CASE WHEN balance < 0 THEN 1 ELSE 0 END),0) FROM accounts WHERE guild_id = $1`, guild).
			Scan(&accounts, &total, &negative); err != nil {
			t.Fatal(err)
		}
		want := accounts*cfg.StartingBalance + rewards.Load() + adjustments.Load() - squadCosts.Load()
		if total != want {
			t.Errorf("sum of balances = %d, want starting %d x %d + rewards %d + adjustments %d - squad costs %d = %d",
				total, accounts, cfg.StartingBalance, rewards.Load(), adjustments.Load(), squadCosts.Load(), want)
		}
		if negative != 0 {
			t.Errorf("%d negative balances", negative)
		}
		var mismatched int64
		if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts a
			WHERE a.guild_id = $1 AND a.balance <> (SELECT COALESCE(SUM(l.delta),0) FROM ledger l WHERE l.guild_id = a.guild_id AND l.user_id = a.user_id)`, guild).
			Scan(&mismatched); err != nil {
			t.Fatal(err)
		}
		if mismatched != 0 {
			t.Errorf("%d accounts whose balance differs from their ledger", mismatched)
		}
		var doubles int64
		if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT user_id, day FROM ledger
			WHERE guild_id = $1 AND kind = 'daily' GROUP BY user_id, day HAVING COUNT(*) > 1) d`, guild).Scan(&doubles); err != nil {
			t.Fatal(err)
		}
		if doubles != 0 {
			t.Errorf("%d member-days with two daily rewards", doubles)
		}
		var ledgerRewards int64
		if err := raw.QueryRowContext(ctx, `SELECT COALESCE(SUM(delta),0) FROM ledger WHERE guild_id = $1 AND kind = 'daily'`, guild).Scan(&ledgerRewards); err != nil {
			t.Fatal(err)
		}
		if ledgerRewards != rewards.Load() {
			t.Errorf("ledger holds %d bytes of daily rewards, callers were told %d", ledgerRewards, rewards.Load())
		}
		list, err := sq.List(ctx, guild)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			var n int
			if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM squad_members WHERE squad_id = $1`, s.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != s.Members {
				t.Errorf("squad %s: member_count %d but %d membership rows", s.Name, s.Members, n)
			}
			if s.MaxMembers > 0 && n > s.MaxMembers {
				t.Errorf("squad %s has %d members, max %d", s.Name, n, s.MaxMembers)
			}
		}
		var sent, received int64
		if err := raw.QueryRowContext(ctx, `SELECT COALESCE(SUM(total_sent),0), COALESCE(SUM(total_received),0) FROM accounts WHERE guild_id = $1`, guild).Scan(&sent, &received); err != nil {
			t.Fatal(err)
		}
		if sent != received {
			t.Errorf("total sent %d != total received %d", sent, received)
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			t.Fatal("context cancelled")
		}
	})
}
