package economy

import (
	"context"
	"sync"
	"time"

	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/store"
)

// Daily claims on PostgreSQL are group-committed: a claim that finds every
// batch slot busy joins the guild's pending batch, and the batch runs as one
// statement (store.DB.ClaimDaily) when a slot frees. An idle service runs
// each claim at once, alone; in the midnight burst, when every member's
// first message arrives within minutes, one round trip and one commit pay
// many members. Each member's outcome is decided by the database exactly as
// for a single claim.
const (
	dailyBatchSlots = 4    // batches in flight at once
	dailyBatchMax   = 1000 // members in one statement
	dailyBatchWait  = 30 * time.Second
)

type dailyBatcher struct {
	slots   chan struct{}
	mu      sync.Mutex
	pending map[int64]*dailyBatch // by guild: members waiting for a slot
}

type dailyBatch struct {
	guild   int64
	cfg     Config // the leader's: what the statement pays by
	members []Member
	seen    map[int64]bool // members already in the batch
	done    chan struct{}
	// Set before done is closed: the members paid, and the error of each
	// member the batch could not claim (all of them when err is set).
	paid map[int64]store.DailyClaimed
	errs map[int64]error
	err  error
	// Members whose payment a caller has taken: of two concurrent claims of
	// one member, the second is told it was already paid.
	takenMu sync.Mutex
	taken   map[int64]bool
}

func newDailyBatcher() *dailyBatcher {
	return &dailyBatcher{slots: make(chan struct{}, dailyBatchSlots), pending: map[int64]*dailyBatch{}}
}

// claimBatched pays m's daily reward in a batch; paid is false when m had it today.
// paidBy is the configuration the batch paid by (its leader's).
func (s *Service) claimBatched(ctx context.Context, cfg Config, guild int64, m Member) (_ store.DailyClaimed, paidBy Config, paid bool, err error) {
	d := s.batcher
	d.mu.Lock()
	b := d.pending[guild]
	leader := b == nil
	if leader {
		b = &dailyBatch{guild: guild, cfg: cfg, seen: map[int64]bool{}, done: make(chan struct{}), taken: map[int64]bool{}}
		d.pending[guild] = b
	}
	if !b.seen[m.ID] { // a concurrent claim of the same member shares the outcome: one wins
		b.seen[m.ID] = true
		b.members = append(b.members, m)
	}
	if len(b.members) >= dailyBatchMax && d.pending[guild] == b {
		delete(d.pending, guild) // sealed: the next claim starts a batch
	}
	d.mu.Unlock()

	if leader {
		s.runBatch(ctx, b)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return store.DailyClaimed{}, Config{}, false, ctx.Err()
	}
	if b.err != nil {
		return store.DailyClaimed{}, Config{}, false, b.err
	}
	if err := b.errs[m.ID]; err != nil {
		return store.DailyClaimed{}, Config{}, false, err
	}
	r, paid := b.paid[m.ID]
	b.takenMu.Lock()
	if b.taken[m.ID] {
		paid = false
	}
	b.taken[m.ID] = true
	b.takenMu.Unlock()
	return r, b.cfg, paid, nil
}

// runBatch waits for a slot (claims arriving meanwhile join b), seals b and
// runs it. The batch outlives a cancelled leader, whose followers wait on
// it; it is bounded by dailyBatchWait instead.
func (s *Service) runBatch(ctx context.Context, b *dailyBatch) {
	d, cfg := s.batcher, b.cfg
	defer close(b.done)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dailyBatchWait)
	defer cancel()
	seal := func() {
		d.mu.Lock()
		if d.pending[b.guild] == b {
			delete(d.pending, b.guild)
		}
		d.mu.Unlock()
	}
	select {
	case d.slots <- struct{}{}:
	case <-sctx.Done():
		seal()
		b.err = sctx.Err()
		return
	}
	defer func() { <-d.slots }()
	seal()
	b.paid = make(map[int64]store.DailyClaimed, len(b.members))
	metrics.DailyClaimBatch.Observe(float64(len(b.members)))
	b.errs = map[int64]error{}
	err := s.claimStatement(sctx, cfg, b.guild, b.members, b.paid)
	if err == nil {
		return
	}
	if len(b.members) == 1 {
		b.err = err
		return
	}
	// One member's failure must not fail the others: claim one by one.
	for _, m := range b.members {
		if e := s.claimStatement(sctx, cfg, b.guild, []Member{m}, b.paid); e != nil {
			s.log.WarnContext(sctx, "daily claim failed", "guild_id", b.guild, "user_id", m.ID, "err", e)
			b.errs[m.ID] = e
		}
	}
}

func (s *Service) claimStatement(ctx context.Context, cfg Config, guild int64, members []Member, into map[int64]store.DailyClaimed) error {
	now := s.now()
	today := DayOf(now)
	c := store.DailyBatch{
		Guild: guild, StartingBalance: cfg.StartingBalance, DailyAmount: cfg.DailyAmount,
		Today: string(today), Yesterday: string(today.Prev()), Now: now,
		Users: make([]int64, len(members)), Names: make([]string, len(members)),
	}
	for i, m := range members {
		c.Users[i], c.Names[i] = m.ID, m.Name
	}
	for _, t := range cfg.StreakTiers {
		c.TierDays = append(c.TierDays, t.Days)
		c.TierMultipliers = append(c.TierMultipliers, t.Multiplier)
	}
	var paid []store.DailyClaimed
	var err error
	for attempt := 1; ; attempt++ {
		paid, _, err = s.db.ClaimDaily(ctx, c)
		if err == nil || attempt == 3 || !store.Retryable(err) {
			break
		}
		time.Sleep(time.Duration(attempt*attempt) * time.Millisecond)
	}
	if err != nil && len(members) == 1 && store.IsUniqueViolation(err) {
		return nil // the ledger's backstop: paid already today
	}
	if err != nil {
		return err
	}
	for _, p := range paid {
		into[p.Account.UserID] = p
	}
	return nil
}
