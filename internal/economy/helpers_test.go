package economy_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// clock is a controllable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

const guild = int64(1000)

var t0 = time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC)

func newBus(t *testing.T) *bus.Memory {
	t.Helper()
	b := bus.NewMemory()
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// newService returns an economy service on db with a fake clock and its own memory bus.
func newService(t *testing.T, db *store.DB) (*economy.Service, *clock) {
	t.Helper()
	clk := newClock(t0)
	return economy.NewService(db, newBus(t), economy.Options{Now: clk.Now}), clk
}

func member(id int64, name string) economy.Member { return economy.Member{ID: id, Name: name} }

// roleJobs returns the pending outbox rows of the roles queue, decoded.
func roleJobs(t *testing.T, db *store.DB) []jobs.RoleChange {
	t.Helper()
	rows, err := db.Q().PendingOutbox(context.Background(), 10000)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	var out []jobs.RoleChange
	for _, r := range rows {
		if r.Queue != jobs.QueueRoles {
			t.Errorf("outbox row %d on queue %q, want %q", r.ID, r.Queue, jobs.QueueRoles)
			continue
		}
		var rc jobs.RoleChange
		if err := json.Unmarshal([]byte(r.Payload), &rc); err != nil {
			t.Fatalf("decode outbox payload %q: %v", r.Payload, err)
		}
		out = append(out, rc)
	}
	return out
}

// countLedger counts ledger rows of a member by kind.
func countLedger(t *testing.T, db *store.DB, user int64, kind string) int {
	t.Helper()
	var n int
	q := "SELECT COUNT(*) FROM ledger WHERE guild_id = $1 AND user_id = $2 AND kind = $3"
	if db.Dialect == store.SQLite {
		q = "SELECT COUNT(*) FROM ledger WHERE guild_id = ?1 AND user_id = ?2 AND kind = ?3"
	}
	if err := db.SQL().QueryRowContext(context.Background(), q, guild, user, kind).Scan(&n); err != nil {
		t.Fatalf("count ledger: %v", err)
	}
	return n
}

// countRows counts all rows of a table.
func countRows(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// checkLedgerConsistent verifies every account's balance equals the sum of its ledger.
func checkLedgerConsistent(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	sums, err := db.Q().LedgerSums(ctx, guild)
	if err != nil {
		t.Fatalf("ledger sums: %v", err)
	}
	lb, err := db.Q().Leaderboard(ctx, leaderboardAll())
	if err != nil {
		t.Fatalf("accounts: %v", err)
	}
	bal := map[int64]int64{}
	for _, a := range lb {
		bal[a.UserID] = a.Balance
	}
	if len(sums) != len(bal) {
		t.Errorf("%d accounts but %d members in the ledger", len(bal), len(sums))
	}
	for _, s := range sums {
		if bal[s.UserID] != s.Total {
			t.Errorf("user %d: balance %d, ledger sums to %d", s.UserID, bal[s.UserID], s.Total)
		}
	}
}

func leaderboardAll() sqldb.LeaderboardParams {
	return sqldb.LeaderboardParams{GuildID: guild, Lim: 100000}
}
