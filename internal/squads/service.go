package squads

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/cases"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/metrics"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// Service runs squad operations as transactions; the bytes side (accounts,
// costs, the ledger) goes through the economy service in the same transaction.
type Service struct {
	db   *store.DB
	econ *economy.Service
}

// NewService returns a squads Service.
func NewService(db *store.DB, econ *economy.Service) *Service {
	return &Service{db: db, econ: econ}
}

func squadOf(r sqldb.Squad) Squad {
	return Squad{
		ID: r.ID, GuildID: r.GuildID, Name: r.Name, Description: r.Description, RoleID: r.RoleID,
		SwitchCost: r.SwitchCost, MaxMembers: int(r.MaxMembers.Int32), Active: r.Active, Members: int(r.MemberCount),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func maxMembers(n int) sql.NullInt32 {
	return sql.NullInt32{Int32: int32(n), Valid: n > 0}
}

// nameKey folds case the same way on every engine (SQLite's lower() only
// knows ASCII), so "Équipe" and "équipe" are one name everywhere.
func nameKey(name string) string { return cases.Fold().String(name) }

// conflictOf turns unique-index violations into a message naming the field.
func conflictOf(err error, spec Spec) error {
	if !store.IsUniqueViolation(err) {
		return err
	}
	if strings.Contains(err.Error(), "role") {
		return &apperr.Error{C: apperr.Conflict, Field: "role_id",
			Message: fmt.Sprintf("role_id: role %d already belongs to another squad; each squad needs its own role", spec.RoleID)}
	}
	return &apperr.Error{C: apperr.Conflict, Field: "name",
		Message: fmt.Sprintf("name: another squad is already called %q (names are unique per guild, ignoring case)", spec.Name)}
}

// Create adds a squad.
func (s *Service) Create(ctx context.Context, guild, actor int64, spec Spec) (Squad, error) {
	if err := spec.Validate(); err != nil {
		return Squad{}, err
	}
	var out Squad
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		now := s.econ.Now()
		r, err := tx.CreateSquad(ctx, sqldb.CreateSquadParams{
			GuildID: guild, Name: spec.Name, NameKey: nameKey(spec.Name), Description: spec.Description, RoleID: spec.RoleID,
			SwitchCost: spec.SwitchCost, MaxMembers: maxMembers(spec.MaxMembers), Active: spec.Active, Now: now,
		})
		if err != nil {
			return conflictOf(err, spec)
		}
		out = squadOf(r)
		return audit.Record(ctx, tx, audit.Entry{GuildID: guild, ActorID: actor, Action: "squads.create",
			Target: "squad:" + strconv.FormatInt(r.ID, 10), At: now}, nil, out)
	})
	return out, err
}

// Get returns one squad of the guild.
func (s *Service) Get(ctx context.Context, guild, id int64) (Squad, error) {
	r, err := s.db.Q().GetSquad(ctx, sqldb.GetSquadParams{GuildID: guild, ID: id})
	if store.IsNoRows(err) {
		return Squad{}, &NotFoundError{ID: id}
	}
	if err != nil {
		return Squad{}, fmt.Errorf("read squad: %w", err)
	}
	return squadOf(r), nil
}

// List returns the guild's squads by name.
func (s *Service) List(ctx context.Context, guild int64) ([]Squad, error) {
	rows, err := s.db.Q().ListSquads(ctx, guild)
	if err != nil {
		return nil, fmt.Errorf("list squads: %w", err)
	}
	out := make([]Squad, 0, len(rows))
	for _, r := range rows {
		out = append(out, squadOf(r))
	}
	return out, nil
}

// Update replaces a squad's settings. Lowering max_members below the current
// count keeps the members but admits nobody until it drops below.
func (s *Service) Update(ctx context.Context, guild, actor, id int64, spec Spec) (Squad, error) {
	if err := spec.Validate(); err != nil {
		return Squad{}, err
	}
	var out Squad
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		now := s.econ.Now()
		before, err := tx.GetSquad(ctx, sqldb.GetSquadParams{GuildID: guild, ID: id})
		if store.IsNoRows(err) {
			return &NotFoundError{ID: id}
		}
		if err != nil {
			return err
		}
		r, err := tx.UpdateSquad(ctx, sqldb.UpdateSquadParams{
			GuildID: guild, ID: id, Name: spec.Name, NameKey: nameKey(spec.Name), Description: spec.Description, RoleID: spec.RoleID,
			SwitchCost: spec.SwitchCost, MaxMembers: maxMembers(spec.MaxMembers), Active: spec.Active, Now: now,
		})
		if err != nil {
			return conflictOf(err, spec)
		}
		out = squadOf(r)
		if before.RoleID != r.RoleID {
			// Members move to the new role.
			if err := s.forEachMember(ctx, tx, id, func(user int64) error {
				if err := enqueueRole(ctx, tx, guild, user, before.RoleID, false, "squad role changed"); err != nil {
					return err
				}
				return enqueueRole(ctx, tx, guild, user, r.RoleID, true, "squad role changed")
			}); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Entry{GuildID: guild, ActorID: actor, Action: "squads.update",
			Target: "squad:" + strconv.FormatInt(id, 10), At: now}, squadOf(before), out)
	})
	return out, err
}

// Delete removes a squad; its members lose the squad role.
func (s *Service) Delete(ctx context.Context, guild, actor, id int64) error {
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		before, err := tx.GetSquad(ctx, sqldb.GetSquadParams{GuildID: guild, ID: id})
		if store.IsNoRows(err) {
			return &NotFoundError{ID: id}
		}
		if err != nil {
			return err
		}
		if err := s.forEachMember(ctx, tx, id, func(user int64) error {
			return enqueueRole(ctx, tx, guild, user, before.RoleID, false, "squad deleted")
		}); err != nil {
			return err
		}
		if _, err := tx.DeleteSquad(ctx, sqldb.DeleteSquadParams{GuildID: guild, ID: id}); err != nil {
			return fmt.Errorf("delete squad: %w", err)
		}
		return audit.Record(ctx, tx, audit.Entry{GuildID: guild, ActorID: actor, Action: "squads.delete",
			Target: "squad:" + strconv.FormatInt(id, 10), At: s.econ.Now()}, squadOf(before), nil)
	})
}

func (s *Service) forEachMember(ctx context.Context, tx *store.Tx, squad int64, fn func(user int64) error) error {
	var after int64
	for {
		page, err := tx.ListSquadMembers(ctx, sqldb.ListSquadMembersParams{SquadID: squad, After: after, Lim: 500})
		if err != nil {
			return fmt.Errorf("list members: %w", err)
		}
		for _, m := range page {
			if err := fn(m.UserID); err != nil {
				return err
			}
			after = m.UserID
		}
		if len(page) < 500 {
			return nil
		}
	}
}

func enqueueRole(ctx context.Context, tx *store.Tx, guild, user, role int64, add bool, reason string) error {
	return tx.Enqueue(ctx, jobs.QueueRoles, jobs.RoleChange{GuildID: guild, UserID: user, RoleID: role, Add: add, Reason: reason}, nil)
}

// Membership is a member's current squad.
type Membership struct {
	Squad    Squad     `json:"squad"`
	UserID   int64     `json:"user_id,string"`
	JoinedAt time.Time `json:"joined_at"`
}

// JoinResult says what a join did.
type JoinResult struct {
	Squad   Squad           `json:"squad"`
	From    *Squad          `json:"from,omitempty"` // the squad left, when switching
	Cost    int64           `json:"cost"`
	Account economy.Account `json:"account"`
}

// Quote tells a member what joining target would cost now, without changing
// anything: the confirmation a member sees before committing.
func (s *Service) Quote(ctx context.Context, guild int64, m economy.Member, target int64) (JoinResult, error) {
	sq, err := s.Get(ctx, guild, target)
	if err != nil {
		return JoinResult{}, err
	}
	res := JoinResult{Squad: sq}
	cur, err := s.Of(ctx, guild, m.ID)
	if err == nil {
		if cur.Squad.ID == sq.ID {
			return JoinResult{}, &AlreadyMemberError{Squad: sq.Name}
		}
		res.From = &cur.Squad
		res.Cost = Cost(cur.Squad.ID, sq)
	} else if !apperr.Is(err, apperr.NotFound) {
		return JoinResult{}, err
	}
	return res, nil
}

// Join puts the member into target, leaving their current squad and paying
// target's switch cost when they had one; debit, move and role changes commit
// together, and max_members holds however many join at once.
func (s *Service) Join(ctx context.Context, guild int64, m economy.Member, target int64) (JoinResult, error) {
	if m.ID <= 0 {
		return JoinResult{}, apperr.InvalidField("user_id", "must be a Discord user id")
	}
	if m.Bot {
		return JoinResult{}, apperr.InvalidField("user_id", "bots cannot join squads")
	}
	cfg, err := s.econ.Config(ctx, guild)
	if err != nil {
		return JoinResult{}, err
	}
	var res JoinResult
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		now := s.econ.Now()
		acc, _, err := s.econ.OpenTx(ctx, tx, cfg, guild, m)
		if err != nil {
			return err
		}
		tr, err := tx.GetSquad(ctx, sqldb.GetSquadParams{GuildID: guild, ID: target})
		if store.IsNoRows(err) {
			return &NotFoundError{ID: target}
		}
		if err != nil {
			return err
		}
		var current int64
		mem, err := tx.GetMembership(ctx, sqldb.GetMembershipParams{GuildID: guild, UserID: m.ID})
		if err == nil {
			current = mem.SquadID
		} else if !store.IsNoRows(err) {
			return err
		}
		tsq := squadOf(tr)
		if err := CheckJoin(current, tsq, cfg.SquadMinBalance, acc.Balance); err != nil {
			return err
		}
		cost := Cost(current, tsq)
		if cost > acc.Balance {
			return &economy.InsufficientFundsError{Balance: acc.Balance, Needed: cost}
		}
		// Squad rows are locked in id order so crossing switches cannot deadlock.
		leave := func() error {
			if current == 0 {
				return nil
			}
			// The membership row is the authority (another move of the same
			// member may have committed since we read it): delete it first.
			n, err := tx.DeleteMembership(ctx, sqldb.DeleteMembershipParams{GuildID: guild, UserID: m.ID, SquadID: current})
			if err != nil {
				return err
			}
			if n != 1 {
				return apperr.New(apperr.Conflict, "your squad changed while you were switching; try again")
			}
			return tx.RemoveSquadMember(ctx, sqldb.RemoveSquadMemberParams{GuildID: guild, ID: current})
		}
		enter := func() error {
			r, err := tx.AddSquadMember(ctx, sqldb.AddSquadMemberParams{GuildID: guild, ID: target})
			if store.IsNoRows(err) {
				fresh, err2 := tx.GetSquad(ctx, sqldb.GetSquadParams{GuildID: guild, ID: target})
				if err2 == nil && !fresh.Active {
					return apperr.New(apperr.Refused, "squad %q is not accepting members right now", fresh.Name)
				}
				return &FullError{Squad: tsq.Name, Max: tsq.MaxMembers}
			}
			if err != nil {
				return err
			}
			tsq = squadOf(r)
			return nil
		}
		first, second := enter, leave
		if current != 0 && current < target {
			first, second = leave, enter
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
		if err := tx.InsertMembership(ctx, sqldb.InsertMembershipParams{GuildID: guild, UserID: m.ID, SquadID: target, JoinedAt: now}); err != nil {
			if store.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "you joined a squad at the same moment from elsewhere; check /squads info")
			}
			return fmt.Errorf("join: %w", err)
		}
		if cost > 0 {
			a, err := tx.Debit(ctx, sqldb.DebitParams{Amount: cost, Now: now, GuildID: guild, UserID: m.ID})
			if store.IsNoRows(err) {
				return &economy.InsufficientFundsError{Balance: acc.Balance, Needed: cost}
			}
			if err != nil {
				return fmt.Errorf("pay switch cost: %w", err)
			}
			acc = a
			if _, err := tx.InsertLedger(ctx, sqldb.InsertLedgerParams{
				GuildID: guild, UserID: m.ID, Kind: economy.KindSquadSwitch, Delta: -cost, BalanceAfter: a.Balance,
				UserName: m.Name, Reason: "switched to squad " + tsq.Name, CreatedAt: now,
			}); err != nil {
				return fmt.Errorf("write ledger: %w", err)
			}
		}
		res = JoinResult{Squad: tsq, Cost: cost}
		if current != 0 {
			old, err := tx.GetSquad(ctx, sqldb.GetSquadParams{GuildID: guild, ID: current})
			if err != nil {
				return err
			}
			o := squadOf(old)
			res.From = &o
			if err := enqueueRole(ctx, tx, guild, m.ID, old.RoleID, false, "left squad "+old.Name); err != nil {
				return err
			}
		}
		if err := enqueueRole(ctx, tx, guild, m.ID, tsq.RoleID, true, "joined squad "+tsq.Name); err != nil {
			return err
		}
		return nil
	})
	// A switch that costs bytes writes the account: tell the balance cache
	// (also when the outcome is unknown) before reading it back.
	if res.Cost > 0 || apperr.OutcomeUnknown(err) {
		s.econ.AccountsChanged(guild, m.ID)
	}
	if err != nil {
		return JoinResult{}, err
	}
	metrics.SquadJoined(res.From != nil)
	res.Account, err = s.econ.Balance(ctx, guild, m.ID)
	return res, err
}

// Leave takes the member out of their squad, free of charge.
func (s *Service) Leave(ctx context.Context, guild int64, m economy.Member) (Squad, error) {
	if m.ID <= 0 {
		return Squad{}, apperr.InvalidField("user_id", "must be a Discord user id")
	}
	var left Squad
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		mem, err := tx.GetMembership(ctx, sqldb.GetMembershipParams{GuildID: guild, UserID: m.ID})
		if store.IsNoRows(err) {
			return &NotInSquadError{}
		}
		if err != nil {
			return err
		}
		if n, err := tx.DeleteMembership(ctx, sqldb.DeleteMembershipParams{GuildID: guild, UserID: m.ID, SquadID: mem.SquadID}); err != nil {
			return err
		} else if n != 1 {
			return apperr.New(apperr.Conflict, "your squad changed at the same moment; check /squads info")
		}
		if err := tx.RemoveSquadMember(ctx, sqldb.RemoveSquadMemberParams{GuildID: guild, ID: mem.SquadID}); err != nil {
			return err
		}
		sq, err := tx.GetSquad(ctx, sqldb.GetSquadParams{GuildID: guild, ID: mem.SquadID})
		if err != nil {
			return err
		}
		left = squadOf(sq)
		return enqueueRole(ctx, tx, guild, m.ID, sq.RoleID, false, "left squad "+sq.Name)
	})
	metrics.SquadLeft(err)
	return left, err
}

// Of returns the member's squad; NotFound when they are in none.
func (s *Service) Of(ctx context.Context, guild, user int64) (Membership, error) {
	q := s.db.Q()
	mem, err := q.GetMembership(ctx, sqldb.GetMembershipParams{GuildID: guild, UserID: user})
	if store.IsNoRows(err) {
		return Membership{}, apperr.New(apperr.NotFound, "member %d is not in a squad", user)
	}
	if err != nil {
		return Membership{}, fmt.Errorf("read membership: %w", err)
	}
	sq, err := s.Get(ctx, guild, mem.SquadID)
	if err != nil {
		return Membership{}, err
	}
	return Membership{Squad: sq, UserID: user, JoinedAt: mem.JoinedAt}, nil
}

// Members lists a squad's members by user id, after the cursor user id.
func (s *Service) Members(ctx context.Context, guild, squad, after int64, limit int) ([]Membership, error) {
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > 200 {
		return nil, apperr.InvalidField("limit", "must be between 1 and 200, got %d", limit)
	}
	sq, err := s.Get(ctx, guild, squad)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Q().ListSquadMembers(ctx, sqldb.ListSquadMembersParams{SquadID: squad, After: after, Lim: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	out := make([]Membership, 0, len(rows))
	for _, r := range rows {
		out = append(out, Membership{Squad: sq, UserID: r.UserID, JoinedAt: r.JoinedAt})
	}
	return out, nil
}
