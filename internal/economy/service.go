package economy

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// Ledger kinds.
const (
	KindOpen        = "open"
	KindDaily       = "daily"
	KindTransferOut = "transfer_out"
	KindTransferIn  = "transfer_in"
	KindGrant       = "grant"
	KindDeduct      = "deduct"
	KindSquadSwitch = "squad_switch"
)

// Account is a member's bytes in one guild.
type Account struct {
	GuildID        int64     `json:"guild_id,string"`
	UserID         int64     `json:"user_id,string"`
	Balance        int64     `json:"balance"`
	TotalReceived  int64     `json:"total_received"`
	TotalSent      int64     `json:"total_sent"`
	Streak         int       `json:"streak"`
	LastDaily      Day       `json:"last_daily,omitempty"`
	LastTransferAt time.Time `json:"last_transfer_at,omitzero"`
	CreatedAt      time.Time `json:"created_at"`
}

func accountOf(a sqldb.Account) Account {
	return Account{
		GuildID: a.GuildID, UserID: a.UserID, Balance: a.Balance, TotalReceived: a.TotalReceived,
		TotalSent: a.TotalSent, Streak: int(a.Streak), LastDaily: Day(a.LastDaily.String),
		LastTransferAt: a.LastTransferAt.Time, CreatedAt: a.CreatedAt,
	}
}

// Options configures a Service; zero values take the defaults.
type Options struct {
	Now       func() time.Time // the clock; default time.Now
	Logger    *slog.Logger
	ConfigTTL time.Duration // upper bound on a stale cached config; default 30s
	// AccountTTL bounds how long another process's write can go unseen by
	// Balance should its notification be lost (accountcache.go); default 2s,
	// negative turns the account cache off.
	AccountTTL time.Duration
	// AccountCacheSize caps the cached accounts; default 100,000.
	AccountCacheSize int
}

// Service runs the economy's operations as transactions on the store.
type Service struct {
	db        *store.DB
	bus       bus.Bus
	now       func() time.Time
	log       *slog.Logger
	configs   *configCache
	batcher   *dailyBatcher // daily claims on PostgreSQL (dailybatch.go)
	accounts  *accountCache
	refreshes refreshQueue // the account cache's refreshes ahead of expiry (refresh.go)
}

// NewService returns a Service; call Start to receive config invalidations.
func NewService(db *store.DB, b bus.Bus, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ConfigTTL <= 0 {
		o.ConfigTTL = 30 * time.Second
	}
	if o.AccountTTL == 0 {
		o.AccountTTL = 2 * time.Second
	}
	if o.AccountCacheSize <= 0 {
		o.AccountCacheSize = 100_000
	}
	now := o.Now
	return &Service{
		accounts: newAccountCache(o.AccountTTL, o.AccountCacheSize),
		db:       db, bus: b, log: o.Logger,
		now:     func() time.Time { return now().UTC() },
		configs: &configCache{entries: map[int64]cachedConfig{}, ttl: o.ConfigTTL},
		batcher: newDailyBatcher(),
	}
}

// Start subscribes to configuration and account changes made by other
// processes and announces this process's account writes to them.
func (s *Service) Start(ctx context.Context) error {
	if err := s.listenConfigChanges(ctx); err != nil {
		return err
	}
	return s.accounts.run(ctx, s.bus, s.log)
}

// Now is the service's clock, for adapters that show times relative to it.
func (s *Service) Now() time.Time { return s.now() }

// Balance returns a member's account; a member without one is a NoAccountError.
// Reads come from the account cache (accountcache.go) when fresh there.
func (s *Service) Balance(ctx context.Context, guild, user int64) (Account, error) {
	k := acctKey{guild, user}
	now := s.accounts.now()
	cached, gen, ok, refresh := s.accounts.get(k, now)
	if ok {
		if err := ctx.Err(); err != nil {
			return Account{}, err
		}
		if refresh != nil {
			s.refreshAccount(k, refresh)
		}
		return cached, nil
	}
	acc, err := s.readAccount(ctx, k)
	if err != nil {
		return Account{}, err
	}
	s.accounts.put(k, acc, now, gen)
	return acc, nil
}

// readAccount is Balance's database read: the API's hottest, only the
// columns an Account has, by primary key.
func (s *Service) readAccount(ctx context.Context, k acctKey) (Account, error) {
	a, err := s.db.Q().GetBalance(s.db.PointRead(ctx), sqldb.GetBalanceParams{GuildID: k.guild, UserID: k.user})
	if store.IsNoRows(err) {
		return Account{}, &NoAccountError{GuildID: k.guild, UserID: k.user}
	}
	if err != nil {
		return Account{}, fmt.Errorf("read account: %w", err)
	}
	return balanceAccount(k, store.BalanceRow{GetBalanceRow: a}), nil
}

// EnsureAccount opens the member's account on first appearance (a message or a
// command) and reports whether it was opened now.
func (s *Service) EnsureAccount(ctx context.Context, guild int64, m Member) (Account, bool, error) {
	if m.ID <= 0 {
		return Account{}, false, apperr.InvalidField("user_id", "must be a Discord user id")
	}
	cfg, err := s.Config(ctx, guild)
	if err != nil {
		return Account{}, false, err
	}
	var acc sqldb.Account
	var opened bool
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		acc, opened, err = s.OpenTx(ctx, tx, cfg, guild, m)
		return err
	})
	return accountOf(acc), opened, err
}

// OpenTx opens an account inside tx unless it exists, and returns it.
func (s *Service) OpenTx(ctx context.Context, tx *store.Tx, cfg Config, guild int64, m Member) (sqldb.Account, bool, error) {
	now := s.now()
	a, err := tx.OpenAccount(ctx, sqldb.OpenAccountParams{GuildID: guild, UserID: m.ID, Balance: cfg.StartingBalance, Now: now})
	if store.IsNoRows(err) {
		a, err = tx.GetAccount(ctx, sqldb.GetAccountParams{GuildID: guild, UserID: m.ID})
		if err != nil {
			return sqldb.Account{}, false, fmt.Errorf("read account: %w", err)
		}
		return a, false, nil
	}
	if err != nil {
		return sqldb.Account{}, false, fmt.Errorf("open account: %w", err)
	}
	if _, err := tx.InsertLedger(ctx, sqldb.InsertLedgerParams{
		GuildID: guild, UserID: m.ID, Kind: KindOpen, Delta: cfg.StartingBalance, BalanceAfter: a.Balance,
		UserName: m.Name, CreatedAt: now,
	}); err != nil {
		return sqldb.Account{}, false, fmt.Errorf("write ledger: %w", err)
	}
	return a, true, nil
}

// DailyResult is a paid daily reward.
type DailyResult struct {
	Daily
	Account Account `json:"account"`
	Tier    string  `json:"tier,omitempty"` // the streak tier's name, if any
}

// ClaimDaily pays today's reward once per member, guild and UTC day; every
// further claim that day, from any process, gets an AlreadyClaimedError.
func (s *Service) ClaimDaily(ctx context.Context, guild int64, m Member) (DailyResult, error) {
	res, err := s.claimDaily(ctx, guild, m)
	if wrote(err) {
		s.accounts.changed(guild, m.ID)
	}
	return res, err
}

func (s *Service) claimDaily(ctx context.Context, guild int64, m Member) (DailyResult, error) {
	if m.ID <= 0 {
		return DailyResult{}, apperr.InvalidField("user_id", "must be a Discord user id")
	}
	if m.Bot {
		return DailyResult{}, apperr.InvalidField("user_id", "bots do not earn bytes")
	}
	cfg, err := s.Config(ctx, guild)
	if err != nil {
		return DailyResult{}, err
	}
	if res, ok, err := s.claimDailyOneStatement(ctx, cfg, guild, m); ok {
		metrics.DailyRewarded(res.Amount, err)
		return res, err
	}
	var res DailyResult
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		acc, _, err := s.OpenTx(ctx, tx, cfg, guild, m)
		if err != nil {
			return err
		}
		now := s.now()
		// A lost race re-reads the row: the winner's claim makes the next
		// NextDaily refuse, anything else retries with fresh values.
		for range 5 {
			d, err := NextDaily(cfg, Day(acc.LastDaily.String), int(acc.Streak), now)
			if err != nil {
				return err
			}
			updated, err := tx.ClaimDaily(ctx, sqldb.ClaimDailyParams{
				Amount: d.Amount, Streak: int32(d.Streak), Day: sql.NullString{String: string(d.Day), Valid: true},
				Now: now, GuildID: guild, UserID: m.ID, PrevDay: sql.NullString{String: acc.LastDaily.String, Valid: true},
			})
			if store.IsNoRows(err) {
				if acc, err = tx.GetAccount(ctx, sqldb.GetAccountParams{GuildID: guild, UserID: m.ID}); err != nil {
					return fmt.Errorf("read account: %w", err)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("claim daily: %w", err)
			}
			if _, err := tx.InsertLedger(ctx, sqldb.InsertLedgerParams{
				GuildID: guild, UserID: m.ID, Kind: KindDaily, Delta: d.Amount, BalanceAfter: updated.Balance,
				UserName: m.Name, Day: sql.NullString{String: string(d.Day), Valid: true}, CreatedAt: now,
			}); err != nil {
				if store.IsUniqueViolation(err) {
					next := NextDayStart(now)
					return &AlreadyClaimedError{NextAt: next, Remaining: next.Sub(now)}
				}
				return fmt.Errorf("write ledger: %w", err)
			}
			res = DailyResult{Daily: d, Account: accountOf(updated)}
			if t, ok := cfg.Tier(d.Streak); ok {
				res.Tier = t.Name
			}
			return nil
		}
		return apperr.New(apperr.Unavailable, "the daily claim kept colliding with other writes; try again")
	})
	metrics.DailyRewarded(res.Amount, err)
	return res, err
}

// claimDailyOneStatement is ClaimDaily as one statement where the engine
// allows it (PostgreSQL), batched with concurrent claims (dailybatch.go):
// the rules of NextDaily, evaluated by the database on the row it locks. ok
// is false on other engines.
func (s *Service) claimDailyOneStatement(ctx context.Context, cfg Config, guild int64, m Member) (DailyResult, bool, error) {
	if s.db.Dialect != store.Postgres {
		return DailyResult{}, false, nil
	}
	now := s.now()
	got, cfg, paid, err := s.claimBatched(ctx, cfg, guild, m)
	if err != nil {
		return DailyResult{}, true, err
	}
	if !paid {
		next := NextDayStart(now)
		return DailyResult{}, true, &AlreadyClaimedError{NextAt: next, Remaining: next.Sub(now)}
	}
	streak := int(got.Account.Streak)
	res := DailyResult{
		Daily:   Daily{Day: Day(got.Account.LastDaily.String), Streak: streak, Multiplier: got.Multiplier, Amount: cfg.DailyAmount * got.Multiplier},
		Account: accountOf(got.Account),
	}
	if t, ok := cfg.Tier(streak); ok {
		res.Tier = t.Name
	}
	return res, true, nil
}

// TransferRequest is a transfer as a member asks for it.
type TransferRequest struct {
	Giver    Member
	Receiver Member
	Amount   int64
	Reason   string
}

// TransferResult is a committed transfer.
type TransferResult struct {
	ID       int64   `json:"id"` // the ledger id of the giver's side
	Giver    Account `json:"giver"`
	Receiver Account `json:"receiver"`
	Amount   int64   `json:"amount"`
	Reason   string  `json:"reason"`
	// RolesEarned are the role rewards the receiver reached with this
	// transfer; their grants are already queued.
	RolesEarned []RoleReward `json:"roles_earned"`
}

// Transfer moves bytes from giver to receiver atomically, opening either
// account on first appearance, and queues any role rewards the receiver earns.
func (s *Service) Transfer(ctx context.Context, guild int64, r TransferRequest) (TransferResult, error) {
	res, err := s.transfer(ctx, guild, r)
	if wrote(err) {
		s.accounts.changed(guild, r.Giver.ID, r.Receiver.ID)
	}
	return res, err
}

func (s *Service) transfer(ctx context.Context, guild int64, r TransferRequest) (TransferResult, error) {
	cfg, err := s.Config(ctx, guild)
	if err != nil {
		return TransferResult{}, err
	}
	if err := CheckTransfer(cfg, r.Giver, r.Receiver, r.Amount, r.Reason); err != nil {
		return TransferResult{}, err
	}
	var res TransferResult
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		now := s.now()
		giver, receiver, ledgerID, err := s.move(ctx, tx, cfg, guild, r, now)
		if err != nil {
			return err
		}
		if ledgerID == 0 {
			ids, err := tx.InsertTransferLedger(ctx, sqldb.InsertTransferLedgerParams{
				GuildID: guild, GiverID: r.Giver.ID, OutDelta: -r.Amount, GiverBalance: giver.Balance, GiverName: r.Giver.Name,
				ReceiverID: sql.NullInt64{Int64: r.Receiver.ID, Valid: true}, ReceiverName: r.Receiver.Name, Reason: r.Reason,
				CreatedAt: now, InDelta: r.Amount, ReceiverBalance: receiver.Balance,
			})
			if err != nil {
				return fmt.Errorf("write ledger: %w", err)
			}
			if len(ids) > 0 {
				ledgerID = ids[0]
			}
		}
		earned := RolesCrossed(cfg, receiver.TotalReceived-r.Amount, receiver.TotalReceived)
		for _, role := range earned {
			if err := tx.Enqueue(ctx, jobs.QueueRoles, jobs.RoleChange{
				GuildID: guild, UserID: r.Receiver.ID, RoleID: role.RoleID, Add: true,
				Reason: "bytes reward: received " + strconv.FormatInt(role.Threshold, 10) + " bytes",
			}, nil); err != nil {
				return err
			}
		}
		res = TransferResult{ID: ledgerID, Giver: accountOf(giver), Receiver: accountOf(receiver), Amount: r.Amount, Reason: r.Reason, RolesEarned: earned}
		if res.RolesEarned == nil {
			res.RolesEarned = []RoleReward{}
		}
		return nil
	})
	metrics.Transferred(r.Amount, err)
	return res, err
}

// move debits the giver and credits the receiver. The common case (both
// accounts exist, the guards pass) is one statement that on PostgreSQL also
// writes the ledger (ledgerID != 0); otherwise the slow path opens accounts
// and names the rule that refused, and the caller writes the ledger.
func (s *Service) move(ctx context.Context, tx *store.Tx, cfg Config, guild int64, r TransferRequest, now time.Time) (giver, receiver sqldb.Account, ledgerID int64, err error) {
	var gotGiver, gotReceiver bool
	mv, ok, err := tx.MoveAndRecord(ctx, guild, r.Giver.ID, r.Receiver.ID, r.Amount, r.Giver.Name, r.Receiver.Name, r.Reason,
		now, cooldownCutoff(cfg, now))
	if err != nil {
		return giver, receiver, 0, err
	}
	if ok {
		giver, gotGiver, receiver, gotReceiver, ledgerID = mv.Giver, mv.GotGiver, mv.Receiver, mv.GotRecv, mv.LedgerID
	} else {
		rows, err := tx.MoveBytes(ctx, sqldb.MoveBytesParams{
			GiverID: r.Giver.ID, ReceiverID: r.Receiver.ID, Amount: r.Amount, Now: now, GuildID: guild,
			CooldownCutoff: sql.NullTime{Time: cooldownCutoff(cfg, now), Valid: true},
		})
		if err != nil {
			return giver, receiver, 0, fmt.Errorf("move bytes: %w", err)
		}
		for _, a := range rows {
			if a.UserID == r.Giver.ID {
				giver, gotGiver = a, true
			} else {
				receiver, gotReceiver = a, true
			}
		}
	}
	if !gotGiver {
		// Any credit above is rolled back with the transaction if this refuses.
		if giver, err = s.debitGiver(ctx, tx, cfg, guild, r, now); err != nil {
			return giver, receiver, 0, err
		}
	}
	if !gotReceiver {
		if receiver, err = s.creditReceiver(ctx, tx, cfg, guild, r, now); err != nil {
			return giver, receiver, 0, err
		}
	}
	return giver, receiver, ledgerID, nil
}

func cooldownCutoff(cfg Config, now time.Time) time.Time {
	if cfg.TransferCooldownHours > 0 {
		return now.Add(-time.Duration(cfg.TransferCooldownHours) * time.Hour)
	}
	return now.Add(100 * 365 * 24 * time.Hour) // no cooldown: any past transfer qualifies
}

func (s *Service) debitGiver(ctx context.Context, tx *store.Tx, cfg Config, guild int64, r TransferRequest, now time.Time) (sqldb.Account, error) {
	p := sqldb.DebitForTransferParams{
		Amount: r.Amount, Now: sql.NullTime{Time: now, Valid: true}, GuildID: guild, UserID: r.Giver.ID,
		CooldownCutoff: sql.NullTime{Time: cooldownCutoff(cfg, now), Valid: true},
	}
	a, err := tx.DebitForTransfer(ctx, p)
	if err == nil {
		return a, nil
	}
	if !store.IsNoRows(err) {
		return sqldb.Account{}, fmt.Errorf("debit: %w", err)
	}
	// The guard refused: say which rule, opening the account if this is the
	// giver's first appearance (then funds may suffice).
	cur, _, err := s.OpenTx(ctx, tx, cfg, guild, r.Giver)
	if err != nil {
		return sqldb.Account{}, err
	}
	// Retry even when another transaction opened the account meanwhile: the
	// first attempt may have found no row at all.
	if a, err = tx.DebitForTransfer(ctx, p); err == nil {
		return a, nil
	} else if !store.IsNoRows(err) {
		return sqldb.Account{}, fmt.Errorf("debit: %w", err)
	}
	if cur, err = tx.GetAccount(ctx, sqldb.GetAccountParams{GuildID: guild, UserID: r.Giver.ID}); err != nil {
		return sqldb.Account{}, fmt.Errorf("read account: %w", err)
	}
	if cur.Balance < r.Amount {
		return sqldb.Account{}, &InsufficientFundsError{Balance: cur.Balance, Needed: r.Amount}
	}
	if left := CooldownLeft(cfg, cur.LastTransferAt.Time, now); left > 0 {
		return sqldb.Account{}, &CooldownError{Remaining: left}
	}
	return sqldb.Account{}, apperr.New(apperr.Conflict, "the transfer could not be applied; try again")
}

func (s *Service) creditReceiver(ctx context.Context, tx *store.Tx, cfg Config, guild int64, r TransferRequest, now time.Time) (sqldb.Account, error) {
	p := sqldb.CreditParams{Amount: r.Amount, Received: r.Amount, Now: now, GuildID: guild, UserID: r.Receiver.ID}
	a, err := tx.Credit(ctx, p)
	if store.IsNoRows(err) {
		if _, _, err = s.OpenTx(ctx, tx, cfg, guild, r.Receiver); err != nil {
			return sqldb.Account{}, err
		}
		a, err = tx.Credit(ctx, p)
	}
	if err != nil {
		return sqldb.Account{}, fmt.Errorf("credit: %w", err)
	}
	return a, nil
}

// Adjust is an admin's grant (delta > 0) or deduction (delta < 0) with a
// reason, recorded in the ledger and the audit log. A deduction never takes a
// balance below zero.
func (s *Service) Adjust(ctx context.Context, guild int64, target Member, actor int64, delta int64, reason string) (Account, error) {
	acc, err := s.adjust(ctx, guild, target, actor, delta, reason)
	if wrote(err) {
		s.accounts.changed(guild, target.ID)
	}
	return acc, err
}

func (s *Service) adjust(ctx context.Context, guild int64, target Member, actor int64, delta int64, reason string) (Account, error) {
	if target.ID <= 0 {
		return Account{}, apperr.InvalidField("user_id", "must be a Discord user id")
	}
	if delta == 0 || delta > MaxAmount || delta < -MaxAmount {
		return Account{}, apperr.InvalidField("amount", "must be a non-zero number of bytes between -%d and %d", int64(MaxAmount), int64(MaxAmount))
	}
	if reason == "" {
		return Account{}, apperr.InvalidField("reason", "an adjustment needs a reason")
	}
	if err := CheckReason(reason); err != nil {
		return Account{}, err
	}
	cfg, err := s.Config(ctx, guild)
	if err != nil {
		return Account{}, err
	}
	var out sqldb.Account
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		now := s.now()
		before, _, err := s.OpenTx(ctx, tx, cfg, guild, target)
		if err != nil {
			return err
		}
		kind := KindGrant
		if delta > 0 {
			out, err = tx.Credit(ctx, sqldb.CreditParams{Amount: delta, Now: now, GuildID: guild, UserID: target.ID})
		} else {
			kind = KindDeduct
			out, err = tx.Debit(ctx, sqldb.DebitParams{Amount: -delta, Now: now, GuildID: guild, UserID: target.ID})
			if store.IsNoRows(err) {
				return &InsufficientFundsError{Balance: before.Balance, Needed: -delta}
			}
		}
		if err != nil {
			return fmt.Errorf("adjust balance: %w", err)
		}
		if _, err := tx.InsertLedger(ctx, sqldb.InsertLedgerParams{
			GuildID: guild, UserID: target.ID, Kind: kind, Delta: delta, BalanceAfter: out.Balance,
			UserName: target.Name, Reason: reason, ActorID: sql.NullInt64{Int64: actor, Valid: true}, CreatedAt: now,
		}); err != nil {
			return fmt.Errorf("write ledger: %w", err)
		}
		return audit.Record(ctx, tx, audit.Entry{
			GuildID: guild, ActorID: actor, Action: "bytes." + kind, Target: "user:" + strconv.FormatInt(target.ID, 10),
			Reason: reason, At: now,
		}, map[string]int64{"balance": before.Balance}, map[string]int64{"balance": out.Balance})
	})
	return accountOf(out), err
}

// Standing is one row of the leaderboard.
type Standing struct {
	Rank    int64 `json:"rank"`
	UserID  int64 `json:"user_id,string"`
	Balance int64 `json:"balance"`
}

// Leaderboard is the top of a guild by balance and, when asked, the caller's place.
type Leaderboard struct {
	Top    []Standing `json:"top"`
	Caller *Standing  `json:"caller,omitempty"` // nil when the caller has no account
}

// Heap returns the top n by balance (ties broken by user id, so the order is
// deterministic) and the caller's own rank when caller > 0.
func (s *Service) Heap(ctx context.Context, guild int64, n int, caller int64) (Leaderboard, error) {
	n, err := ClampTopN(n)
	if err != nil {
		return Leaderboard{}, err
	}
	q := s.db.Q()
	rows, err := q.Leaderboard(ctx, sqldb.LeaderboardParams{GuildID: guild, Lim: int32(n)})
	if err != nil {
		return Leaderboard{}, fmt.Errorf("leaderboard: %w", err)
	}
	lb := Leaderboard{Top: make([]Standing, 0, len(rows))}
	for i, r := range rows {
		lb.Top = append(lb.Top, Standing{Rank: int64(i + 1), UserID: r.UserID, Balance: r.Balance})
		if r.UserID == caller {
			lb.Caller = &lb.Top[i]
		}
	}
	if caller > 0 && lb.Caller == nil {
		a, err := q.GetAccount(ctx, sqldb.GetAccountParams{GuildID: guild, UserID: caller})
		if err != nil && !store.IsNoRows(err) {
			return Leaderboard{}, fmt.Errorf("read account: %w", err)
		}
		if err == nil {
			rank, err := q.Rank(ctx, sqldb.RankParams{GuildID: guild, Balance: a.Balance, UserID: caller})
			if err != nil {
				return Leaderboard{}, fmt.Errorf("rank: %w", err)
			}
			lb.Caller = &Standing{Rank: int64(rank), UserID: caller, Balance: a.Balance}
		}
	}
	return lb, nil
}

// Totals are a guild's economy at a glance.
type Totals struct {
	Accounts    int64 `json:"accounts"`
	Circulation int64 `json:"circulation"` // bytes held by all members
}

// Totals sums a guild's balances.
func (s *Service) Totals(ctx context.Context, guild int64) (Totals, error) {
	t, err := s.db.Q().GuildTotals(ctx, guild)
	if err != nil {
		return Totals{}, fmt.Errorf("totals: %w", err)
	}
	return Totals{Accounts: t.Accounts, Circulation: t.Circulation}, nil
}

// Entry is one ledger row.
type Entry struct {
	ID               int64     `json:"id"`
	UserID           int64     `json:"user_id,string"`
	UserName         string    `json:"user_name,omitempty"`
	Kind             string    `json:"kind"`
	Delta            int64     `json:"delta"`
	BalanceAfter     int64     `json:"balance_after"`
	CounterpartyID   int64     `json:"counterparty_id,string,omitempty"`
	CounterpartyName string    `json:"counterparty_name,omitempty"`
	Reason           string    `json:"reason,omitempty"`
	Day              Day       `json:"day,omitempty"`
	ActorID          int64     `json:"actor_id,string,omitempty"`
	At               time.Time `json:"at"`
}

func entryOf(l sqldb.Ledger) Entry {
	return Entry{ID: l.ID, UserID: l.UserID, UserName: l.UserName, Kind: l.Kind, Delta: l.Delta, BalanceAfter: l.BalanceAfter,
		CounterpartyID: l.CounterpartyID.Int64, CounterpartyName: l.CounterpartyName, Reason: l.Reason,
		Day: Day(l.Day.String), ActorID: l.ActorID.Int64, At: l.CreatedAt}
}

// Page asks for at most Limit rows older than the cursor Before (0: newest).
type Page struct {
	Before int64
	Limit  int
}

func (p Page) norm() (before int64, limit int32, err error) {
	if p.Limit == 0 {
		p.Limit = 25
	}
	if p.Limit < 1 || p.Limit > 100 {
		return 0, 0, apperr.InvalidField("limit", "must be between 1 and 100, got %d", p.Limit)
	}
	if p.Before < 0 {
		return 0, 0, apperr.InvalidField("cursor", "is not a cursor this API returned")
	}
	if p.Before == 0 {
		p.Before = 1<<63 - 1
	}
	return p.Before, int32(p.Limit), nil
}

// Ledger returns a member's ledger, newest first.
func (s *Service) Ledger(ctx context.Context, guild, user int64, p Page) ([]Entry, error) {
	before, lim, err := p.norm()
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Q().ListLedger(ctx, sqldb.ListLedgerParams{GuildID: guild, UserID: user, Before: before, Lim: lim})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	return entriesOf(rows), nil
}

// Transfers lists a guild's transfers (the giver's side of each), or when
// user > 0 the transfers that user took part in (the user's side), newest first.
func (s *Service) Transfers(ctx context.Context, guild, user int64, p Page) ([]Entry, error) {
	before, lim, err := p.norm()
	if err != nil {
		return nil, err
	}
	var rows []sqldb.Ledger
	if user > 0 {
		rows, err = s.db.Q().ListTransfersOfUser(ctx, sqldb.ListTransfersOfUserParams{GuildID: guild, UserID: user, Before: before, Lim: lim})
	} else {
		rows, err = s.db.Q().ListTransfers(ctx, sqldb.ListTransfersParams{GuildID: guild, Before: before, Lim: lim})
	}
	if err != nil {
		return nil, fmt.Errorf("transfers: %w", err)
	}
	return entriesOf(rows), nil
}

func entriesOf(rows []sqldb.Ledger) []Entry {
	out := make([]Entry, 0, len(rows))
	for _, r := range rows {
		out = append(out, entryOf(r))
	}
	return out
}

// DueRoles lists the reward roles a member has earned, for reconciling what
// Discord shows (/bytes awards). Granting them is the bot's job.
func (s *Service) DueRoles(ctx context.Context, guild, user int64) ([]RoleReward, error) {
	acc, err := s.Balance(ctx, guild, user)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(ctx, guild)
	if err != nil {
		return nil, err
	}
	return RolesDue(cfg, acc.TotalReceived), nil
}
