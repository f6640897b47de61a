package moderation

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/smarterdev/smarterdev/internal/apperr"
	"github.com/smarterdev/smarterdev/internal/audit"
	"github.com/smarterdev/smarterdev/internal/automod"
	"github.com/smarterdev/smarterdev/internal/bus"
	"github.com/smarterdev/smarterdev/internal/jobs"
	"github.com/smarterdev/smarterdev/internal/store"
	"github.com/smarterdev/smarterdev/internal/store/sqldb"
)

// Settings returns the guild's moderation settings (defaults until saved).
func (s *Service) Settings(ctx context.Context, guild int64) (automod.Settings, error) {
	return loadSettings(ctx, s.db.Q(), guild)
}

func loadSettings(ctx context.Context, q *sqldb.Queries, guild int64) (automod.Settings, error) {
	row, err := q.GetModerationSettings(ctx, guild)
	if store.IsNoRows(err) {
		return automod.DefaultSettings(), nil
	}
	if err != nil {
		return automod.Settings{}, fmt.Errorf("read moderation settings: %w", err)
	}
	st := automod.DefaultSettings()
	if err := json.Unmarshal([]byte(row.Settings), &st); err != nil {
		return automod.Settings{}, fmt.Errorf("decode moderation settings: %w", err)
	}
	st.Version = row.Version
	return st, nil
}

// UpdateSettings validates and saves the settings, audited, and tells every
// bot process to reload.
func (s *Service) UpdateSettings(ctx context.Context, guild, actor int64, st automod.Settings) (automod.Settings, error) {
	if err := st.Validate(); err != nil {
		return automod.Settings{}, err
	}
	body, err := json.Marshal(st)
	if err != nil {
		return automod.Settings{}, err
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		before, err := loadSettings(ctx, tx.Queries, guild)
		if err != nil {
			return err
		}
		row, err := tx.UpsertModerationSettings(ctx, sqldb.UpsertModerationSettingsParams{GuildID: guild, Settings: string(body), UpdatedAt: s.now()})
		if err != nil {
			return fmt.Errorf("save moderation settings: %w", err)
		}
		st.Version = row.Version
		return audit.Record(ctx, tx, audit.Entry{GuildID: guild, ActorID: actor, Action: "moderation.settings.update", Target: "guild", At: s.now()}, before, st)
	})
	if err != nil {
		return automod.Settings{}, err
	}
	s.announce(ctx, guild)
	return st, nil
}

func ruleOf(r sqldb.AutomodRule) (automod.Rule, error) {
	var rule automod.Rule
	if err := json.Unmarshal([]byte(r.Spec), &rule); err != nil {
		return automod.Rule{}, fmt.Errorf("decode rule %d: %w", r.ID, err)
	}
	rule.ID, rule.Name, rule.Kind, rule.Enabled = r.ID, r.Name, automod.Kind(r.Kind), r.Enabled
	return rule, nil
}

// Rules lists the guild's rules.
func (s *Service) Rules(ctx context.Context, guild int64) ([]automod.Rule, error) {
	return listRules(ctx, s.db.Q(), guild)
}

func listRules(ctx context.Context, q *sqldb.Queries, guild int64) ([]automod.Rule, error) {
	rows, err := q.ListAutomodRules(ctx, guild)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	out := make([]automod.Rule, 0, len(rows))
	for _, r := range rows {
		rule, err := ruleOf(r)
		if err != nil {
			return nil, err
		}
		out = append(out, rule)
	}
	return out, nil
}

// Rule returns one rule.
func (s *Service) Rule(ctx context.Context, guild, id int64) (automod.Rule, error) {
	r, err := s.db.Q().GetAutomodRule(ctx, sqldb.GetAutomodRuleParams{GuildID: guild, ID: id})
	if store.IsNoRows(err) {
		return automod.Rule{}, apperr.New(apperr.NotFound, "automod rule %d does not exist in this guild", id)
	}
	if err != nil {
		return automod.Rule{}, fmt.Errorf("read rule: %w", err)
	}
	return ruleOf(r)
}

// CreateRule validates and adds a rule; a bad pattern is refused with what is wrong.
func (s *Service) CreateRule(ctx context.Context, guild, actor int64, r automod.Rule) (automod.Rule, error) {
	if err := r.Validate(); err != nil {
		return automod.Rule{}, err
	}
	spec, err := json.Marshal(r)
	if err != nil {
		return automod.Rule{}, err
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		n, err := tx.CountAutomodRules(ctx, guild)
		if err != nil {
			return err
		}
		if n >= automod.MaxRules {
			return apperr.New(apperr.Refused, "a guild can have at most %d automod rules; delete one first", automod.MaxRules)
		}
		row, err := tx.CreateAutomodRule(ctx, sqldb.CreateAutomodRuleParams{GuildID: guild, Name: r.Name, Kind: string(r.Kind), Enabled: r.Enabled, Spec: string(spec), Now: s.now()})
		if err != nil {
			return fmt.Errorf("save rule: %w", err)
		}
		r.ID = row.ID
		return audit.Record(ctx, tx, audit.Entry{GuildID: guild, ActorID: actor, Action: "automod.rule.create", Target: "rule:" + strconv.FormatInt(r.ID, 10), At: s.now()}, nil, r)
	})
	if err != nil {
		return automod.Rule{}, err
	}
	s.announce(ctx, guild)
	return r, nil
}

// UpdateRule replaces a rule.
func (s *Service) UpdateRule(ctx context.Context, guild, actor, id int64, r automod.Rule) (automod.Rule, error) {
	if err := r.Validate(); err != nil {
		return automod.Rule{}, err
	}
	r.ID = id
	spec, err := json.Marshal(r)
	if err != nil {
		return automod.Rule{}, err
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		before, err := tx.GetAutomodRule(ctx, sqldb.GetAutomodRuleParams{GuildID: guild, ID: id})
		if store.IsNoRows(err) {
			return apperr.New(apperr.NotFound, "automod rule %d does not exist in this guild", id)
		}
		if err != nil {
			return err
		}
		if _, err := tx.UpdateAutomodRule(ctx, sqldb.UpdateAutomodRuleParams{GuildID: guild, ID: id, Name: r.Name, Kind: string(r.Kind), Enabled: r.Enabled, Spec: string(spec), Now: s.now()}); err != nil {
			return fmt.Errorf("save rule: %w", err)
		}
		old, _ := ruleOf(before)
		return audit.Record(ctx, tx, audit.Entry{GuildID: guild, ActorID: actor, Action: "automod.rule.update", Target: "rule:" + strconv.FormatInt(id, 10), At: s.now()}, old, r)
	})
	if err != nil {
		return automod.Rule{}, err
	}
	s.announce(ctx, guild)
	return r, nil
}

// DeleteRule removes a rule.
func (s *Service) DeleteRule(ctx context.Context, guild, actor, id int64) error {
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		before, err := tx.GetAutomodRule(ctx, sqldb.GetAutomodRuleParams{GuildID: guild, ID: id})
		if store.IsNoRows(err) {
			return apperr.New(apperr.NotFound, "automod rule %d does not exist in this guild", id)
		}
		if err != nil {
			return err
		}
		if _, err := tx.DeleteAutomodRule(ctx, sqldb.DeleteAutomodRuleParams{GuildID: guild, ID: id}); err != nil {
			return err
		}
		old, _ := ruleOf(before)
		return audit.Record(ctx, tx, audit.Entry{GuildID: guild, ActorID: actor, Action: "automod.rule.delete", Target: "rule:" + strconv.FormatInt(id, 10), At: s.now()}, old, nil)
	})
	if err == nil {
		s.announce(ctx, guild)
	}
	return err
}

// Ruleset compiles the guild's settings and enabled rules.
func (s *Service) Ruleset(ctx context.Context, guild int64) (*automod.Ruleset, error) {
	q := s.db.Q()
	st, err := loadSettings(ctx, q, guild)
	if err != nil {
		return nil, err
	}
	rules, err := listRules(ctx, q, guild)
	if err != nil {
		return nil, err
	}
	return automod.Compile(st, rules)
}

// Try shows what a sample would trigger under the guild's rules.
func (s *Service) Try(ctx context.Context, guild int64, sample automod.Sample) ([]automod.Outcome, error) {
	rs, err := s.Ruleset(ctx, guild)
	if err != nil {
		return nil, err
	}
	out := rs.Try(sample)
	if out == nil {
		out = []automod.Outcome{}
	}
	return out, nil
}

func (s *Service) announce(ctx context.Context, guild int64) {
	s.evaluators.drop(guild)
	if err := s.bus.Publish(ctx, jobs.TopicAutomodChanged, []byte(strconv.FormatInt(guild, 10))); err != nil {
		s.log.Warn("automod change not announced; other processes keep the old rules until they reload", "guild_id", guild, "err", err)
	}
}

// evaluators keeps one automod.Guild per guild in this process, so the
// sliding windows survive rule changes (the rules are swapped in place).
// changes counts invalidations per guild; an evaluator is current when it was
// loaded at the latest count, so a change during a reload is never lost.
type evaluators struct {
	mu      sync.Mutex
	guilds  map[int64]*automod.Guild
	changes map[int64]uint64
	loaded  map[int64]uint64
}

func (e *evaluators) drop(guild int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.changes == nil {
		e.changes = map[int64]uint64{}
	}
	e.changes[guild]++
}

// Current returns the guild's evaluator when it is loaded and up to date:
// the hot path's check, with no context and no database.
func (s *Service) Current(guild int64) (*automod.Guild, bool) {
	e := &s.evaluators
	e.mu.Lock()
	defer e.mu.Unlock()
	g, ok := e.guilds[guild]
	return g, ok && e.loaded[guild] == e.changes[guild]
}

// Evaluator returns the guild's evaluator, reloading its rules after a change.
func (s *Service) Evaluator(ctx context.Context, guild int64) (*automod.Guild, error) {
	e := &s.evaluators
	e.mu.Lock()
	g, ok := e.guilds[guild]
	gen := e.changes[guild]
	current := ok && e.loaded[guild] == gen
	e.mu.Unlock()
	if current {
		return g, nil
	}
	rs, err := s.Ruleset(ctx, guild)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.guilds == nil {
		e.guilds, e.loaded = map[int64]*automod.Guild{}, map[int64]uint64{}
	}
	if g, ok = e.guilds[guild]; ok {
		g.SetRuleset(rs)
	} else {
		g = automod.NewGuild(rs)
		e.guilds[guild] = g
	}
	e.loaded[guild] = gen
	return g, nil
}

// Start subscribes to rule changes made by other processes.
func (s *Service) Start(ctx context.Context) error {
	_, err := s.bus.Subscribe(ctx, jobs.TopicAutomodChanged, func(m bus.Message) {
		guild, err := strconv.ParseInt(string(m.Payload), 10, 64)
		if err != nil {
			return
		}
		s.evaluators.drop(guild)
	})
	return err
}
