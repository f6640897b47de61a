package economy

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/smarterdev/smarterdev/internal/store"
)

// refreshQueue gathers the cached accounts due for a refresh ahead of their
// expiry, so that one statement per guild reads a batch of them
// (store.GetBalances). A thousand hot balances on a 2 s TTL are then a few
// round trips a second instead of a thousand point reads, each waking a
// database process on the cores the server needs.
type refreshQueue struct {
	mu      sync.Mutex
	pending []refreshItem
	// draining is set while a goroutine drains pending; it exits when it
	// finds pending empty, so an idle service holds no goroutine.
	draining bool
}

type refreshItem struct {
	k acctKey
	e *cachedAccount
}

const (
	// refreshPendingMax bounds the queue: with the database slow or down,
	// a refresh that finds it full is skipped and left for a later read.
	refreshPendingMax = 8192
	// refreshGather is how long the first refresh due waits for others to
	// join its batch: short beside the half TTL an entry has left.
	refreshGather = 20 * time.Millisecond
)

// refreshAccount queues e, the cached entry of k, for a background refresh.
func (s *Service) refreshAccount(k acctKey, e *cachedAccount) {
	q := &s.refreshes
	q.mu.Lock()
	if len(q.pending) >= refreshPendingMax {
		q.mu.Unlock()
		e.refreshing.Store(false)
		return
	}
	q.pending = append(q.pending, refreshItem{k, e})
	start := !q.draining
	q.draining = true
	q.mu.Unlock()
	if start {
		go s.drainRefreshes()
	}
}

func (s *Service) drainRefreshes() {
	gather := min(refreshGather, s.accounts.ttl/8)
	for {
		time.Sleep(gather)
		q := &s.refreshes
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		if len(batch) == 0 {
			q.draining = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		s.refreshBatch(batch)
	}
}

// refreshBatch reads the accounts of batch again, a guild and up to
// store.BalancesBatch members per statement, and caches what it read unless
// a write came between (generations taken just before each statement, as a
// read that misses does). An entry left uncached is left for a later read
// to refresh; a failed statement is not reported: once the entries expire,
// the reads go to the database and report.
func (s *Service) refreshBatch(batch []refreshItem) {
	slices.SortFunc(batch, func(a, b refreshItem) int {
		return cmp.Or(cmp.Compare(a.k.guild, b.k.guild), cmp.Compare(a.k.user, b.k.user))
	})
	users := make([]int64, 0, store.BalancesBatch)
	gens := make([]uint64, 0, store.BalancesBatch)
	for len(batch) > 0 {
		n := 1
		for n < len(batch) && n < store.BalancesBatch && batch[n].k.guild == batch[0].k.guild {
			n++
		}
		chunk := batch[:n]
		batch = batch[n:]
		users, gens = users[:0], gens[:0]
		for _, it := range chunk {
			users = append(users, it.k.user)
			gens = append(gens, s.accounts.generation(it.k))
		}
		fetched := s.accounts.now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rows, err := s.db.GetBalances(ctx, chunk[0].k.guild, users)
		cancel()
		if err != nil {
			for _, it := range chunk {
				it.e.refreshing.Store(false)
			}
			continue
		}
		slices.SortFunc(rows, func(a, b store.BalanceRow) int { return cmp.Compare(a.UserID, b.UserID) })
		for i, it := range chunk {
			j, found := slices.BinarySearchFunc(rows, it.k.user, func(r store.BalanceRow, u int64) int { return cmp.Compare(r.UserID, u) })
			if !found { // gone since it was cached: the next read asks the database
				s.accounts.drop(it.k)
				continue
			}
			if !s.accounts.put(it.k, balanceAccount(it.k, rows[j]), fetched, gens[i]) {
				it.e.refreshing.Store(false)
			}
		}
	}
}

func balanceAccount(k acctKey, r store.BalanceRow) Account {
	return Account{
		GuildID: k.guild, UserID: k.user, Balance: r.Balance, TotalReceived: r.TotalReceived,
		TotalSent: r.TotalSent, Streak: int(r.Streak), LastDaily: Day(r.LastDaily.String),
		LastTransferAt: r.LastTransferAt.Time, CreatedAt: r.CreatedAt,
	}
}
