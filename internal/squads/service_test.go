package squads_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/economy"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/squads"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/storetest"
)

// Identifiers here carry an "sqt" prefix: other test files of this package
// are written by other people.

const sqtGuild = int64(4242)

var sqtT0 = time.Date(2024, 7, 1, 9, 0, 0, 0, time.UTC)

type sqtEnv struct {
	db   *store.DB
	econ *economy.Service
	sq   *squads.Service
}

func sqtSetup(t *testing.T, db *store.DB) sqtEnv {
	t.Helper()
	b := bus.NewMemory()
	t.Cleanup(func() { _ = b.Close() })
	econ := economy.NewService(db, b, economy.Options{Now: func() time.Time { return sqtT0 }})
	return sqtEnv{db: db, econ: econ, sq: squads.NewService(db, econ)}
}

func sqtMember(id int64) economy.Member { return economy.Member{ID: id, Name: "member"} }

func (e sqtEnv) create(t *testing.T, name string, role int64, edit func(s *squads.Spec)) squads.Squad {
	t.Helper()
	spec := squads.NewSpec(name, role)
	if edit != nil {
		edit(&spec)
	}
	sq, err := e.sq.Create(context.Background(), sqtGuild, 1, spec)
	if err != nil {
		t.Fatalf("Create %q: %v", name, err)
	}
	return sq
}

func (e sqtEnv) join(t *testing.T, user, squad int64) squads.JoinResult {
	t.Helper()
	r, err := e.sq.Join(context.Background(), sqtGuild, sqtMember(user), squad)
	if err != nil {
		t.Fatalf("Join(user %d, squad %d): %v", user, squad, err)
	}
	return r
}

func (e sqtEnv) get(t *testing.T, id int64) squads.Squad {
	t.Helper()
	s, err := e.sq.Get(context.Background(), sqtGuild, id)
	if err != nil {
		t.Fatalf("Get(%d): %v", id, err)
	}
	return s
}

func (e sqtEnv) balance(t *testing.T, user int64) int64 {
	t.Helper()
	a, err := e.econ.Balance(context.Background(), sqtGuild, user)
	if err != nil {
		t.Fatalf("Balance(%d): %v", user, err)
	}
	return a.Balance
}

// roleJobs returns the pending role changes in the outbox, oldest first.
func (e sqtEnv) roleJobs(t *testing.T) []jobs.RoleChange {
	t.Helper()
	rows, err := e.db.Q().PendingOutbox(context.Background(), 10000)
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	out := []jobs.RoleChange{}
	for _, r := range rows {
		if r.Queue != jobs.QueueRoles {
			t.Errorf("outbox row on queue %q, want %q", r.Queue, jobs.QueueRoles)
			continue
		}
		var rc jobs.RoleChange
		if err := json.Unmarshal([]byte(r.Payload), &rc); err != nil {
			t.Fatalf("decode %q: %v", r.Payload, err)
		}
		out = append(out, rc)
	}
	return out
}

func (e sqtEnv) count(t *testing.T, query string) int {
	t.Helper()
	var n int
	if err := e.db.SQL().QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// consistent checks that member_count matches the memberships and that
// every balance equals its ledger.
func (e sqtEnv) consistent(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	list, err := e.sq.List(ctx, sqtGuild)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		members, err := e.sq.Members(ctx, sqtGuild, s.ID, 0, 200)
		if err != nil {
			t.Fatal(err)
		}
		if len(members) != s.Members {
			t.Errorf("squad %q: member_count %d but %d memberships", s.Name, s.Members, len(members))
		}
	}
	sums, err := e.db.Q().LedgerSums(ctx, sqtGuild)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sums {
		if b := e.balance(t, s.UserID); b != s.Total {
			t.Errorf("user %d: balance %d, ledger sums to %d", s.UserID, b, s.Total)
		}
	}
}

func sqtSameJob(got jobs.RoleChange, user, role int64, add bool) bool {
	return got.GuildID == sqtGuild && got.UserID == user && got.RoleID == role && got.Add == add
}

func TestCreateGetList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		s := e.create(t, "  Zebras ", 11, func(s *squads.Spec) { s.Description = "stripes" })
		if s.ID == 0 || s.GuildID != sqtGuild || s.Name != "Zebras" || s.Description != "stripes" || s.RoleID != 11 ||
			s.SwitchCost != 50 || s.MaxMembers != 0 || !s.Active || s.Members != 0 || !s.CreatedAt.Equal(sqtT0) {
			t.Errorf("created %+v; want the defaults", s)
		}
		if got := e.get(t, s.ID); got.Name != "Zebras" || got.SwitchCost != 50 || got.MaxMembers != 0 || !got.Active {
			t.Errorf("Get = %+v", got)
		}
		e.create(t, "alpacas", 12, func(s *squads.Spec) { s.MaxMembers = 3; s.SwitchCost = 0 })
		e.create(t, "Beavers", 13, nil)
		list, err := e.sq.List(ctx, sqtGuild)
		if err != nil || len(list) != 3 || list[0].Name != "alpacas" || list[1].Name != "Beavers" || list[2].Name != "Zebras" {
			t.Errorf("List = %+v, %v; want case-insensitive name order", list, err)
		}
		if list[0].MaxMembers != 3 || list[0].SwitchCost != 0 {
			t.Errorf("alpacas = %+v", list[0])
		}
		if other, err := e.sq.List(ctx, sqtGuild+1); err != nil || len(other) != 0 {
			t.Errorf("another guild lists %+v, %v", other, err)
		}
		var nf *squads.NotFoundError
		if _, err := e.sq.Get(ctx, sqtGuild, 9999); !errors.As(err, &nf) {
			t.Errorf("Get(unknown) = %v, want NotFoundError", err)
		}
		if _, err := e.sq.Get(ctx, sqtGuild+1, s.ID); !errors.As(err, &nf) {
			t.Errorf("Get from another guild = %v, want NotFoundError", err)
		}
		if _, err := e.sq.Create(ctx, sqtGuild, 1, squads.NewSpec("", 20)); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Create without a name = %v, want invalid", err)
		}
		entries, err := audit.List(ctx, db, sqtGuild, 0, 10, audit.Filter{})
		if err != nil || len(entries) != 3 || entries[2].Action != "squads.create" || entries[2].ActorID != 1 {
			t.Errorf("audit = %+v, %v", entries, err)
		}
	})
}

func TestCreateDuplicates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		e.create(t, "Gophers", 11, nil)
		for _, spec := range []squads.Spec{
			squads.NewSpec("Other", 11),   // same role
			squads.NewSpec("gophers", 12), // same name, other case
			squads.NewSpec("GOPHERS", 13),
		} {
			_, err := e.sq.Create(ctx, sqtGuild, 1, spec)
			if !apperr.Is(err, apperr.Conflict) {
				t.Errorf("Create(%q, role %d) = %v, want conflict", spec.Name, spec.RoleID, err)
			}
		}
		if n := e.count(t, "SELECT COUNT(*) FROM squads"); n != 1 {
			t.Errorf("%d squads, want 1", n)
		}
		// Names and roles are unique per guild only.
		if _, err := e.sq.Create(ctx, sqtGuild+1, 1, squads.NewSpec("Gophers", 11)); err != nil {
			t.Errorf("same squad in another guild: %v", err)
		}
	})
}

// Case-insensitive names must behave the same on both engines, also for
// names outside ASCII (SQLite's lower() folds ASCII only).
func TestCreateDuplicateNonASCIIName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := sqtSetup(t, db)
		e.create(t, "Équipe", 11, nil)
		_, err := e.sq.Create(context.Background(), sqtGuild, 1, squads.NewSpec("équipe", 12))
		if !apperr.Is(err, apperr.Conflict) {
			t.Errorf("Create(%q) next to %q = %v, want conflict", "équipe", "Équipe", err)
		}
	})
}

func TestUpdate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		a := e.create(t, "Alpha", 11, nil)
		b := e.create(t, "Beta", 12, nil)
		e.join(t, 101, a.ID)
		e.join(t, 102, a.ID)
		jobsBefore := len(e.roleJobs(t))

		spec := squads.Spec{Name: "Alpha Prime", Description: "new", RoleID: 11, SwitchCost: 75, MaxMembers: 10, Active: true}
		up, err := e.sq.Update(ctx, sqtGuild, 1, a.ID, spec)
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if up.Name != "Alpha Prime" || up.SwitchCost != 75 || up.MaxMembers != 10 || up.Members != 2 || up.ID != a.ID {
			t.Errorf("updated %+v", up)
		}
		if g := e.get(t, a.ID); g.Name != "Alpha Prime" || g.Description != "new" || g.SwitchCost != 75 {
			t.Errorf("Get after update = %+v", g)
		}
		if n := len(e.roleJobs(t)); n != jobsBefore {
			t.Errorf("an update that keeps the role queued %d role changes", n-jobsBefore)
		}
		// A new role moves the members: remove the old, add the new.
		spec.RoleID = 21
		if _, err := e.sq.Update(ctx, sqtGuild, 1, a.ID, spec); err != nil {
			t.Fatalf("Update role: %v", err)
		}
		js := e.roleJobs(t)[jobsBefore:]
		if len(js) != 4 {
			t.Fatalf("role change queued %+v, want 4 jobs", js)
		}
		for _, user := range []int64{101, 102} {
			var removed, added bool
			for _, j := range js {
				removed = removed || sqtSameJob(j, user, 11, false)
				added = added || sqtSameJob(j, user, 21, true)
			}
			if !removed || !added {
				t.Errorf("user %d: removed old role %v, added new role %v", user, removed, added)
			}
		}
		// Conflicts with another squad.
		if _, err := e.sq.Update(ctx, sqtGuild, 1, a.ID, squads.Spec{Name: "BETA", RoleID: 21, Active: true}); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("rename onto Beta = %v, want conflict", err)
		}
		if _, err := e.sq.Update(ctx, sqtGuild, 1, a.ID, squads.Spec{Name: "Alpha Prime", RoleID: b.RoleID, Active: true}); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("take Beta's role = %v, want conflict", err)
		}
		var nf *squads.NotFoundError
		if _, err := e.sq.Update(ctx, sqtGuild, 1, 9999, spec); !errors.As(err, &nf) {
			t.Errorf("Update(unknown) = %v, want NotFoundError", err)
		}
		if _, err := e.sq.Update(ctx, sqtGuild, 1, a.ID, squads.Spec{Name: "x", RoleID: 0}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Update with role 0 = %v, want invalid", err)
		}
		if g := e.get(t, a.ID); g.RoleID != 21 || g.Name != "Alpha Prime" {
			t.Errorf("refused updates changed the squad: %+v", g)
		}
		entries, err := audit.List(ctx, db, sqtGuild, 0, 1, audit.Filter{})
		if err != nil || len(entries) != 1 || entries[0].Action != "squads.update" {
			t.Errorf("audit = %+v, %v", entries, err)
		}
		e.consistent(t)
	})
}

func TestDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		a := e.create(t, "Alpha", 11, nil)
		b := e.create(t, "Beta", 12, nil)
		e.join(t, 101, a.ID)
		e.join(t, 102, a.ID)
		e.join(t, 103, b.ID)
		before := len(e.roleJobs(t))
		if err := e.sq.Delete(ctx, sqtGuild, 1, a.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		js := e.roleJobs(t)[before:]
		if len(js) != 2 || !sqtSameJob(js[0], 101, 11, false) || !sqtSameJob(js[1], 102, 11, false) {
			t.Errorf("delete queued %+v; want role 11 removed from 101 and 102", js)
		}
		var nf *squads.NotFoundError
		if _, err := e.sq.Get(ctx, sqtGuild, a.ID); !errors.As(err, &nf) {
			t.Errorf("Get after delete = %v", err)
		}
		if _, err := e.sq.Of(ctx, sqtGuild, 101); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Of(former member) = %v, want not found", err)
		}
		if m, err := e.sq.Of(ctx, sqtGuild, 103); err != nil || m.Squad.ID != b.ID {
			t.Errorf("Of(103) = %+v, %v; want Beta untouched", m, err)
		}
		// A former member joins again for free: they are in no squad.
		if r := e.join(t, 101, b.ID); r.Cost != 0 || r.From != nil {
			t.Errorf("join after delete = %+v; want free", r)
		}
		if err := e.sq.Delete(ctx, sqtGuild, 1, a.ID); !errors.As(err, &nf) {
			t.Errorf("second Delete = %v, want NotFoundError", err)
		}
		if err := e.sq.Delete(ctx, sqtGuild+1, 1, b.ID); !errors.As(err, &nf) {
			t.Errorf("Delete from another guild = %v, want NotFoundError", err)
		}
		entries, err := audit.List(ctx, db, sqtGuild, 0, 10, audit.Filter{})
		if err != nil || entries[0].Action != "squads.delete" {
			t.Errorf("audit = %+v, %v", entries, err)
		}
		e.consistent(t)
	})
}

func TestJoinSwitchLeave(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		a := e.create(t, "Alpha", 11, nil)
		b := e.create(t, "Beta", 12, func(s *squads.Spec) { s.SwitchCost = 30 })
		const u = int64(101)

		// First join: free, opens the account, queues the role.
		r := e.join(t, u, a.ID)
		if r.Cost != 0 || r.From != nil || r.Squad.ID != a.ID || r.Squad.Members != 1 || r.Account.Balance != 100 {
			t.Errorf("first join = %+v; want free, balance 100", r)
		}
		if js := e.roleJobs(t); len(js) != 1 || !sqtSameJob(js[0], u, 11, true) {
			t.Errorf("outbox = %+v; want add role 11", js)
		}
		m, err := e.sq.Of(ctx, sqtGuild, u)
		if err != nil || m.Squad.ID != a.ID || m.UserID != u || !m.JoinedAt.Equal(sqtT0) {
			t.Errorf("Of = %+v, %v", m, err)
		}

		// Same squad again.
		var am *squads.AlreadyMemberError
		if _, err := e.sq.Join(ctx, sqtGuild, sqtMember(u), a.ID); !errors.As(err, &am) {
			t.Errorf("join same squad = %v, want AlreadyMemberError", err)
		}

		// Switch: pays the target's cost, in the ledger, with both role changes.
		r = e.join(t, u, b.ID)
		if r.Cost != 30 || r.From == nil || r.From.ID != a.ID || r.Account.Balance != 70 || r.Squad.Members != 1 {
			t.Errorf("switch = %+v; want cost 30 from Alpha, balance 70", r)
		}
		if e.get(t, a.ID).Members != 0 || e.get(t, b.ID).Members != 1 {
			t.Errorf("member counts after switch: %d, %d", e.get(t, a.ID).Members, e.get(t, b.ID).Members)
		}
		js := e.roleJobs(t)
		if len(js) != 3 || !sqtSameJob(js[1], u, 11, false) || !sqtSameJob(js[2], u, 12, true) {
			t.Errorf("outbox = %+v; want remove 11 then add 12", js)
		}
		l, err := e.econ.Ledger(ctx, sqtGuild, u, economy.Page{})
		if err != nil || len(l) != 2 || l[0].Kind != economy.KindSquadSwitch || l[0].Delta != -30 || l[0].BalanceAfter != 70 {
			t.Errorf("ledger = %+v, %v; want a squad_switch row of -30", l, err)
		}

		// Switching back costs Alpha's 50.
		if r := e.join(t, u, a.ID); r.Cost != 50 || r.Account.Balance != 20 {
			t.Errorf("switch back = %+v; want cost 50, balance 20", r)
		}

		// Leave: free, queues the removal.
		left, err := e.sq.Leave(ctx, sqtGuild, sqtMember(u))
		if err != nil || left.ID != a.ID {
			t.Fatalf("Leave = %+v, %v", left, err)
		}
		js = e.roleJobs(t)
		if last := js[len(js)-1]; !sqtSameJob(last, u, 11, false) {
			t.Errorf("last job %+v; want remove role 11", last)
		}
		if e.balance(t, u) != 20 {
			t.Errorf("leaving cost bytes: balance %d", e.balance(t, u))
		}
		if _, err := e.sq.Of(ctx, sqtGuild, u); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Of after leave = %v, want not found", err)
		}
		if e.get(t, a.ID).Members != 0 {
			t.Errorf("member_count after leave = %d", e.get(t, a.ID).Members)
		}
		var nis *squads.NotInSquadError
		if _, err := e.sq.Leave(ctx, sqtGuild, sqtMember(u)); !errors.As(err, &nis) {
			t.Errorf("leave in none = %v, want NotInSquadError", err)
		}
		// After leaving, the next join is a first join again: free.
		if r := e.join(t, u, b.ID); r.Cost != 0 {
			t.Errorf("join after leave cost %d, want 0", r.Cost)
		}
		var nf *squads.NotFoundError
		if _, err := e.sq.Join(ctx, sqtGuild, sqtMember(u), 9999); !errors.As(err, &nf) {
			t.Errorf("join unknown squad = %v, want NotFoundError", err)
		}
		if _, err := e.sq.Join(ctx, sqtGuild, economy.Member{ID: 5, Bot: true}, a.ID); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("bot join = %v, want invalid", err)
		}
		e.consistent(t)
	})
}

func TestSwitchInsufficientFunds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		a := e.create(t, "Alpha", 11, nil)
		b := e.create(t, "Beta", 12, func(s *squads.Spec) { s.SwitchCost = 101 })
		const u = int64(101)
		e.join(t, u, a.ID)
		jobsBefore, ledgerBefore := len(e.roleJobs(t)), e.count(t, "SELECT COUNT(*) FROM ledger")
		_, err := e.sq.Join(ctx, sqtGuild, sqtMember(u), b.ID)
		var inf *economy.InsufficientFundsError
		if !errors.As(err, &inf) || inf.Balance != 100 || inf.Needed != 101 {
			t.Fatalf("switch = %v, want InsufficientFundsError{100, 101}", err)
		}
		if m, err := e.sq.Of(ctx, sqtGuild, u); err != nil || m.Squad.ID != a.ID {
			t.Errorf("membership changed: %+v, %v", m, err)
		}
		if e.get(t, a.ID).Members != 1 || e.get(t, b.ID).Members != 0 {
			t.Errorf("member counts changed")
		}
		if e.balance(t, u) != 100 {
			t.Errorf("balance changed to %d", e.balance(t, u))
		}
		if n := len(e.roleJobs(t)); n != jobsBefore {
			t.Errorf("a refused switch queued %d role changes", n-jobsBefore)
		}
		if n := e.count(t, "SELECT COUNT(*) FROM ledger"); n != ledgerBefore {
			t.Errorf("a refused switch wrote %d ledger rows", n-ledgerBefore)
		}
		// Exactly the balance is enough.
		if _, err := e.econ.Adjust(ctx, sqtGuild, sqtMember(u), 1, 1, "top up"); err != nil {
			t.Fatal(err)
		}
		if r := e.join(t, u, b.ID); r.Account.Balance != 0 {
			t.Errorf("switch with exactly the cost left %d", r.Account.Balance)
		}
		e.consistent(t)
	})
}

func TestJoinRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		a := e.create(t, "Alpha", 11, nil)
		closed := e.create(t, "Closed", 12, func(s *squads.Spec) { s.Active = false })
		tiny := e.create(t, "Tiny", 13, func(s *squads.Spec) { s.MaxMembers = 1 })

		if _, err := e.sq.Join(ctx, sqtGuild, sqtMember(101), closed.ID); !apperr.Is(err, apperr.Refused) {
			t.Errorf("join inactive = %v, want refused", err)
		}
		e.join(t, 101, tiny.ID)
		var full *squads.FullError
		if _, err := e.sq.Join(ctx, sqtGuild, sqtMember(102), tiny.ID); !errors.As(err, &full) || full.Max != 1 {
			t.Errorf("join full = %v, want FullError", err)
		}
		// Switching into a full squad is refused and keeps the member where they are.
		e.join(t, 102, a.ID)
		if _, err := e.sq.Join(ctx, sqtGuild, sqtMember(102), tiny.ID); !errors.As(err, &full) {
			t.Errorf("switch into full = %v, want FullError", err)
		}
		if m, err := e.sq.Of(ctx, sqtGuild, 102); err != nil || m.Squad.ID != a.ID || e.balance(t, 102) != 100 {
			t.Errorf("after refused switch: %+v, %v, balance %d", m, err, e.balance(t, 102))
		}

		// A minimum balance for squad commands.
		cfg := economy.DefaultConfig()
		cfg.SquadMinBalance = 150
		if _, err := e.econ.UpdateConfig(ctx, sqtGuild, 1, cfg); err != nil {
			t.Fatal(err)
		}
		var ne *squads.NotEligibleError
		if _, err := e.sq.Join(ctx, sqtGuild, sqtMember(103), a.ID); !errors.As(err, &ne) || ne.Balance != 100 || ne.Minimum != 150 {
			t.Errorf("join below the minimum = %v, want NotEligibleError{100, 150}", err)
		}
		if _, err := e.sq.Of(ctx, sqtGuild, 103); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("a refused join made a membership: %v", err)
		}
		if _, err := e.econ.Adjust(ctx, sqtGuild, sqtMember(103), 1, 50, "prize"); err != nil {
			t.Fatal(err)
		}
		if r := e.join(t, 103, a.ID); r.Cost != 0 || r.Account.Balance != 150 {
			t.Errorf("join at the minimum = %+v", r)
		}
		e.consistent(t)
	})
}

func TestConcurrentJoinsRespectMaxMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		s := e.create(t, "Five", 11, func(s *squads.Spec) { s.MaxMembers = 5 })
		other := e.create(t, "Other", 12, nil)
		// Half the candidates switch in from another squad, half join fresh.
		for u := int64(200); u < 220; u += 2 {
			e.join(t, u, other.ID)
		}
		sqtWarmPool(t, db, 20)
		errs := make([]error, 20)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = e.sq.Join(ctx, sqtGuild, sqtMember(int64(200+i)), s.ID)
			}()
		}
		close(start)
		wg.Wait()
		ok, full := 0, 0
		for _, err := range errs {
			var fe *squads.FullError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &fe):
				full++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 5 || full != 15 {
			t.Errorf("%d joined, %d FullError; want 5 and 15", ok, full)
		}
		if g := e.get(t, s.ID); g.Members != 5 {
			t.Errorf("member_count = %d, want 5", g.Members)
		}
		members, err := e.sq.Members(ctx, sqtGuild, s.ID, 0, 0)
		if err != nil || len(members) != 5 {
			t.Errorf("Members = %d, %v; want 5", len(members), err)
		}
		e.consistent(t)
	})
}

func TestConcurrentJoinsOfOneMember(t *testing.T) {
	// One member clicking several squads at once ends in exactly one squad,
	// with counts, balance and ledger agreeing.
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		var ids []int64
		for i, name := range []string{"A", "B", "C", "D"} {
			ids = append(ids, e.create(t, name, int64(11+i), func(s *squads.Spec) { s.SwitchCost = 10 }).ID)
		}
		const u = int64(300)
		sqtWarmPool(t, db, 12)
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.sq.Join(ctx, sqtGuild, sqtMember(u), ids[i%len(ids)])
				// Serialised joins are switches that may spend the whole
				// balance, so running out of funds is a valid outcome too.
				var am *squads.AlreadyMemberError
				var funds *economy.InsufficientFundsError
				if err != nil && !errors.As(err, &am) && !errors.As(err, &funds) && !apperr.Is(err, apperr.Conflict) {
					t.Errorf("unexpected error: %v", err)
				}
			}()
		}
		wg.Wait()
		total := 0
		for _, id := range ids {
			total += e.get(t, id).Members
		}
		if total != 1 {
			t.Errorf("member in %d squads by member_count, want 1", total)
		}
		if _, err := e.sq.Of(ctx, sqtGuild, u); err != nil {
			t.Errorf("Of = %v", err)
		}
		e.consistent(t)
	})
}

func TestMembersPagination(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		s := e.create(t, "Alpha", 11, nil)
		users := []int64{707, 101, 505, 303, 606, 202, 404}
		for _, u := range users {
			e.join(t, u, s.ID)
		}
		var got []int64
		var after int64
		for page := 0; ; page++ {
			ms, err := e.sq.Members(ctx, sqtGuild, s.ID, after, 3)
			if err != nil {
				t.Fatalf("Members: %v", err)
			}
			if len(ms) > 3 {
				t.Fatalf("page of %d, limit 3", len(ms))
			}
			for _, m := range ms {
				if m.Squad.ID != s.ID {
					t.Errorf("member %+v of another squad", m)
				}
				got = append(got, m.UserID)
			}
			if len(ms) < 3 {
				break
			}
			after = ms[len(ms)-1].UserID
			if page > 5 {
				t.Fatal("pagination does not end")
			}
		}
		want := []int64{101, 202, 303, 404, 505, 606, 707}
		if len(got) != len(want) {
			t.Fatalf("paged members %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("paged members %v, want %v", got, want)
			}
		}
		if ms, err := e.sq.Members(ctx, sqtGuild, s.ID, 0, 0); err != nil || len(ms) != 7 {
			t.Errorf("default limit: %d, %v", len(ms), err)
		}
		if _, err := e.sq.Members(ctx, sqtGuild, s.ID, 0, 201); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("limit 201 = %v, want invalid", err)
		}
		var nf *squads.NotFoundError
		if _, err := e.sq.Members(ctx, sqtGuild, 9999, 0, 10); !errors.As(err, &nf) {
			t.Errorf("Members(unknown) = %v, want NotFoundError", err)
		}
		if _, err := e.sq.Members(ctx, sqtGuild+1, s.ID, 0, 10); !errors.As(err, &nf) {
			t.Errorf("Members from another guild = %v, want NotFoundError", err)
		}
	})
}

func TestQuoteChargesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		a := e.create(t, "Alpha", 11, nil)
		b := e.create(t, "Beta", 12, func(s *squads.Spec) { s.SwitchCost = 35 })
		const u = int64(101)
		q, err := e.sq.Quote(ctx, sqtGuild, sqtMember(u), a.ID)
		if err != nil || q.Cost != 0 || q.From != nil || q.Squad.ID != a.ID {
			t.Errorf("quote of a first join = %+v, %v; want free", q, err)
		}
		if _, err := e.econ.Balance(ctx, sqtGuild, u); err == nil {
			t.Error("a quote opened an account")
		}
		e.join(t, u, a.ID)
		jobsBefore, ledgerBefore := len(e.roleJobs(t)), e.count(t, "SELECT COUNT(*) FROM ledger")
		q, err = e.sq.Quote(ctx, sqtGuild, sqtMember(u), b.ID)
		if err != nil || q.Cost != 35 || q.From == nil || q.From.ID != a.ID || q.Squad.ID != b.ID {
			t.Errorf("quote of a switch = %+v, %v; want cost 35 from Alpha", q, err)
		}
		if e.balance(t, u) != 100 {
			t.Errorf("a quote charged: balance %d", e.balance(t, u))
		}
		if m, _ := e.sq.Of(ctx, sqtGuild, u); m.Squad.ID != a.ID {
			t.Errorf("a quote moved the member to %d", m.Squad.ID)
		}
		if len(e.roleJobs(t)) != jobsBefore || e.count(t, "SELECT COUNT(*) FROM ledger") != ledgerBefore {
			t.Error("a quote wrote to the outbox or the ledger")
		}
		var nf *squads.NotFoundError
		if _, err := e.sq.Quote(ctx, sqtGuild, sqtMember(u), 9999); !errors.As(err, &nf) {
			t.Errorf("quote of unknown squad = %v, want NotFoundError", err)
		}
	})
}

// sqtWarmPool opens n PostgreSQL connections at once so that concurrent
// transactions really overlap instead of queueing behind connection dials.
func sqtWarmPool(t *testing.T, db *store.DB, n int) {
	t.Helper()
	if db.Dialect != store.Postgres {
		return
	}
	var txs []*sql.Tx
	for range n {
		tx, err := db.SQL().BeginTx(context.Background(), nil)
		if err != nil {
			t.Fatalf("warm pool: %v", err)
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		_ = tx.Rollback()
	}
}

func TestConcurrentLeaveOfOneMember(t *testing.T) {
	// A double click on "leave": one leave succeeds, the others are refused
	// with a typed error (not a database error), and member_count stays right.
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := sqtSetup(t, db)
		a := e.create(t, "Alpha", 11, nil)
		const u = int64(400)
		e.join(t, u, a.ID)
		sqtWarmPool(t, db, 10)
		errs := make([]error, 10)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = e.sq.Leave(ctx, sqtGuild, sqtMember(u))
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			var nis *squads.NotInSquadError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &nis), apperr.Is(err, apperr.Conflict):
				// Told they are in no squad, or that it changed meanwhile.
			default:
				t.Errorf("unexpected error (want NotInSquadError or a conflict): %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d leaves succeeded, want 1", ok)
		}
		if g := e.get(t, a.ID); g.Members != 0 {
			t.Errorf("member_count = %d, want 0", g.Members)
		}
		removals := 0
		for _, j := range e.roleJobs(t) {
			if sqtSameJob(j, u, 11, false) {
				removals++
			}
		}
		if removals != 1 {
			t.Errorf("%d role removals queued, want 1", removals)
		}
	})
}
